"""Deploy both regions in order, passing each region's outputs to the other as parameters.

Order (aws-notes §10): DR base (us-east-1) -> primary (eu-west-2) -> DR full (us-east-1, the replica).
Every stack goes through a change set: the operator sees what changes and confirms. A rerun resumes:
finished stacks produce empty change sets (no-ops), an operation still running from an interrupted run
is waited for, a failed create (ROLLBACK_COMPLETE) is deleted and recreated after confirmation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.aws.status import StackState
from streamflix_dr.config import Environment
from streamflix_dr.constants import APPLICATION, TEMPLATE_BODY_LIMIT, Output, Param, Phase, Role, stack_name
from streamflix_dr.deploy.artifacts import ArtifactBucket, bucket_name, build_automation_zip
from streamflix_dr.deploy.outputs import write_outputs
from streamflix_dr.deploy.plan import DEPLOY_ORDER, DeployResult, Plan, StageResult
from streamflix_dr.deploy.stacks import RESUME_HINT, Stack, StackEvent, Timing, outputs_of, parameters_of
from streamflix_dr.errors import AbortedByUser, AwsError, ConfigError, StackError
from streamflix_dr.template import load_template, to_json
from streamflix_dr.template_model import check_parameter_values

log = logging.getLogger(__name__)

MINUTE = 60.0

# Contract names (BRIEF: template parameters/outputs). Literal here until constants.py, owned by the
# template side, carries them; each is passed only when the template declares it.
APP_IMAGE_AVAILABLE = "AppImageAvailable"
DR_FAILOVER_PIN_ALARM_NAME = "DrFailoverPinAlarmName"
FAILOVER_PIN_ALARM_NAME = "FailoverPinAlarmName"


@dataclass(frozen=True)
class ImageStatus:
    """Whether the application image (``ImageTag``) is in each region's ECR repository."""

    tag: str
    uris: dict[str, str]  # region -> the exact image URI the services pull
    present: dict[str, bool]  # region -> ecr:DescribeImages found the tag

    @property
    def available(self) -> bool:
        """True only when every region's repository holds the tag (then services may ask for tasks)."""
        return bool(self.present) and all(self.present.values())

    def missing(self) -> list[str]:
        return [self.uris[r] for r, ok in self.present.items() if not ok]

    def push_instructions(self, env_name: str, primary_region: str) -> list[str]:
        """What the operator runs to publish the image, and how to finish the deploy."""
        if self.available:
            return []
        lines = [f"The application image is not in every region yet; missing: {', '.join(self.missing())}."]
        lines.append("The services were deployed with AppImageAvailable=false (0 tasks). Push the image:")
        primary_uri = self.uris.get(primary_region, "")
        registry = primary_uri.split("/", 1)[0]
        lines.append(
            f"  aws ecr get-login-password --region {primary_region} | docker login --username AWS "
            f"--password-stdin {registry}"
        )
        lines.append(f"  docker build -t streamflix:{self.tag} .")
        lines.append(f"  docker tag streamflix:{self.tag} {primary_uri}")
        lines.append(f"  docker push {primary_uri}")
        lines.append(
            "ECR replication copies only images pushed after the replication rule exists (the primary "
            "stack creates it): push to the primary now that it exists, or push to every region:"
        )
        for region, uri in self.uris.items():
            if region == primary_region:
                continue
            lines.append(
                f"  aws ecr get-login-password --region {region} | docker login --username AWS "
                f"--password-stdin {uri.split('/', 1)[0]}"
            )
            lines.append(f"  docker tag streamflix:{self.tag} {uri} && docker push {uri}")
        lines.append(
            f"Then finish with `streamflix-dr deploy --env {env_name}`: it finds the image in both regions "
            "and updates both stacks with AppImageAvailable=true (the services start)."
        )
        return lines


def image_tag(env: Environment, template: dict[str, Any]) -> str:
    """The tag the services run: the environment's ImageTag, else the template's default."""
    if env.parameters.get(Param.IMAGE_TAG):
        return str(env.parameters[Param.IMAGE_TAG])
    param = (template.get("Parameters") or {}).get(Param.IMAGE_TAG) or {}
    return str(param.get("Default", "latest"))


def image_status(factory: ClientFactory, account: str, tag: str, repositories: dict[str, str]) -> ImageStatus:
    """ecr:DescribeImages for ``tag`` in each region's repository (region -> repository name; a region
    whose repository is not known yet counts as missing)."""
    uris: dict[str, str] = {}
    present: dict[str, bool] = {}
    for region, repo in repositories.items():
        uris[region] = f"{account}.dkr.ecr.{region}.amazonaws.com/{repo or 'streamflix-<suffix>'}:{tag}"
        if not repo:
            present[region] = False
            continue
        try:
            # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html
            found = factory.client("ecr", region).describe_images(
                repositoryName=repo, imageIds=[{"imageTag": tag}]
            )
            present[region] = bool(found.get("imageDetails"))
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code not in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise AwsError(
                    f"{region}: cannot read image {tag} in ECR repository {repo} ({e}).",
                    fix="check ecr:DescribeImages is allowed for the deploying identity",
                ) from e
            present[region] = False
    return ImageStatus(tag, uris, present)


@dataclass
class Timeouts:
    """Time bounds per stack operation, and the polling clock."""

    stack_minutes: float = 90
    # The DR full phase creates the cross-region replica, which can take hours (aws-notes §1, §10).
    dr_full_minutes: float = 240
    delete_minutes: float = 120
    timing: Timing = field(default_factory=Timing)

    def for_stage(self, role: Role, phase: Phase) -> float:
        minutes = self.dr_full_minutes if (role, phase) == (Role.DR, Phase.FULL) else self.stack_minutes
        return minutes * MINUTE


def stack_tags(env: Environment) -> dict[str, str]:
    return {"Environment": env.name, "Application": APPLICATION, "CostCenter": env.cost_center}


def account_id(factory: ClientFactory, region: str) -> str:
    try:
        return str(factory.client("sts", region).get_caller_identity()["Account"])
    except ClientError as e:
        raise AwsError(
            f"{region}: could not identify the AWS account (sts:GetCallerIdentity): {e}.",
            fix="check the credentials (--profile, AWS_* environment variables) or --endpoint-url",
        ) from e


def artifact_buckets(env: Environment, factory: ClientFactory, account: str) -> dict[Role, ArtifactBucket]:
    return {
        role: ArtifactBucket(
            factory.client("s3", rc.region), rc.region, bucket_name(account, rc.region, env.suffix)
        )
        for role, rc in ((Role.PRIMARY, env.primary), (Role.DR, env.dr))
    }


def peer_parameters(
    env: Environment,
    role: Role,
    phase: Phase,
    peer_outputs: dict[str, str],
    declared: frozenset[str] | set[str] | None = None,
) -> dict[str, str]:
    """Values read from the other region's stack outputs, as this stack's parameters."""
    mapping = peer_mapping(env, role, phase, declared)
    return {param: peer_outputs[out] for param, out in mapping.items() if peer_outputs.get(out)}


def peer_mapping(
    env: Environment, role: Role, phase: Phase, declared: frozenset[str] | set[str] | None = None
) -> dict[str, str]:
    """Parameter of this stack -> output of the other region's stack it comes from. Parameters of the
    DNS pin are wired when the template declares them (``declared``: the template's parameters)."""
    if role is Role.PRIMARY:
        mapping = {
            Param.DR_FILE_SYSTEM_ID: Output.FILE_SYSTEM_ID,
            Param.DR_KMS_KEY_ARN: Output.KMS_KEY_ARN,
            Param.DR_BACKUP_VAULT_ARN: Output.BACKUP_VAULT_ARN,
        }
        if declared is not None and DR_FAILOVER_PIN_ALARM_NAME in declared:
            # The DR stack's FailoverPinAlarm (every phase) -> the primary's FailoverPinHealthCheck.
            mapping[DR_FAILOVER_PIN_ALARM_NAME] = FAILOVER_PIN_ALARM_NAME
    elif phase is Phase.FULL:
        mapping = {
            Param.PRIMARY_DB_ARN: Output.DB_INSTANCE_ARN,
            Param.PRIMARY_HEALTH_CHECK_ID: Output.HEALTH_CHECK_ID,
        }
        if env.global_datastore:
            mapping[Param.GLOBAL_DATASTORE_ID] = Output.GLOBAL_DATASTORE_ID
    else:
        return {}
    return mapping


PREFLIGHT_EXTRA = {
    Param.ARTIFACT_BUCKET: "preflight-artifacts",
    Param.AUTOMATION_CODE_KEY: "automation/preflight.zip",
}


def preflight_peer_outputs(env: Environment) -> dict[str, str]:
    """Well-formed stand-ins for the outputs passed between regions, for checks before any AWS call."""
    zero = "00000000-0000-0000-0000-000000000000"
    return {
        Output.FILE_SYSTEM_ID: "fs-00000000",
        Output.KMS_KEY_ARN: f"arn:aws:kms:{env.dr_region}:000000000000:key/{zero}",
        Output.BACKUP_VAULT_ARN: f"arn:aws:backup:{env.dr_region}:000000000000:backup-vault:preflight",
        Output.DB_INSTANCE_ARN: f"arn:aws:rds:{env.primary_region}:000000000000:db:preflight",
        Output.HEALTH_CHECK_ID: zero,
        Output.GLOBAL_DATASTORE_ID: "aaaaa-preflight",
        FAILOVER_PIN_ALARM_NAME: "streamflix-failover-pin-preflight",
    }


_PREFLIGHT_EXTRA = PREFLIGHT_EXTRA  # the name the validate command first used


def preflight_parameters(
    env: Environment, template: dict[str, Any], role: Role, phase: Phase
) -> dict[str, str]:
    """One stack's parameters before any region exists; peer values and artifacts are placeholders."""
    declared = set((template.get("Parameters") or {}).keys())
    peer = peer_parameters(env, role, phase, preflight_peer_outputs(env), declared)
    extra = {**PREFLIGHT_EXTRA, APP_IMAGE_AVAILABLE: "false"}
    return stack_parameters(env, template=template, role=role, phase=phase, peer=peer, extra=extra)


def stack_parameters(
    env: Environment,
    *,
    template: dict[str, Any],
    role: Role,
    phase: Phase,
    peer: dict[str, str],
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The parameters of one stack, restricted to those the template declares."""
    params = env.template_parameters(role, phase, peer=peer)
    params.update(extra or {})
    declared = set((template.get("Parameters") or {}).keys())
    return {k: v for k, v in params.items() if k in declared}


def check_parameters(template: dict[str, Any], params: dict[str, str], where: str) -> None:
    """Refuse values the template would reject, before any region is touched."""
    problems = _parameter_problems(template, params)
    if problems:
        raise ConfigError(
            "parameters",
            where,
            "the template rejects: " + "; ".join(problems),
            "fix the environment file (or its parameters: block) so each value is allowed",
        )


def _parameter_problems(template: dict[str, Any], params: dict[str, str]) -> list[str]:
    return list(check_parameter_values(template, params))


def deploy(
    env: Environment,
    factory: ClientFactory,
    *,
    confirm: Callable[[Plan], bool],
    on_event: Callable[[StackEvent], None] = lambda _e: None,
    timeouts: Timeouts | None = None,
    outputs_dir: Path = Path("cfn-outputs"),
    template: dict[str, Any] | None = None,
    on_stage: Callable[[StageResult], None] | None = None,
) -> DeployResult:
    """Deploy both regions: DR base, primary, DR full. Safe to run again: it resumes.

    Args:
        env: the validated environment.
        factory: where AWS calls go (real AWS or an emulator endpoint).
        confirm: asked with each stack's change set (and before recreating a ROLLBACK_COMPLETE stack);
            returning False aborts with ``AbortedByUser`` and nothing of that stack changes.
        on_event: receives every new stack event, in order, while operations run.
        timeouts: per-operation bounds and the polling clock.
        outputs_dir: where ``<region>.json`` and ``flat-outputs.json`` are written.
        template: the decoded template (default: the packaged ``streamflix-dr.yaml``).
        on_stage: receives each stack's result as soon as it is known.

    Raises:
        ConfigError: a parameter value the template rejects (before any AWS call).
        StackError: a stack operation failed; the message lists the failed resources and how to resume.
        StackTimeoutError: an operation exceeded its bound.
        AbortedByUser: ``confirm`` returned False.
    """
    t = timeouts or Timeouts()
    clock = t.timing.clock
    started = clock()
    tpl = template if template is not None else load_template()
    # Everything that can be checked without AWS is checked first. Peer values are unknown yet:
    # well-formed placeholders stand in for them now; the real ones are checked before each stack changes.
    for role, phase in DEPLOY_ORDER:
        check_parameters(tpl, preflight_parameters(env, tpl, role, phase), f"{role.value}/{phase.value}")
    body = to_json(tpl)
    declared = set((tpl.get("Parameters") or {}).keys())

    account = account_id(factory, env.primary_region)
    tag = image_tag(env, tpl)
    buckets = artifact_buckets(env, factory, account)
    tags = stack_tags(env)
    template_url: dict[Role, str | None] = {}
    extra: dict[Role, dict[str, str]] = {}
    zip_bytes = build_automation_zip() if Param.ARTIFACT_BUCKET in declared else b""
    for role, bucket in buckets.items():
        bucket.ensure(tags)
        template_url[role] = None
        if len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
            template_url[role] = bucket.url(bucket.put("templates", body.encode("utf-8"), "json"))
        extra[role] = {}
        if zip_bytes:
            extra[role] = {
                Param.ARTIFACT_BUCKET: bucket.name,
                Param.AUTOMATION_CODE_KEY: bucket.put("automation", zip_bytes, "zip"),
            }

    stacks = {
        role: Stack(
            factory.client("cloudformation", env.region_of(role).region),
            env.region_of(role).region,
            stack_name(role, env.suffix),
            t.timing,
        )
        for role in (Role.PRIMARY, Role.DR)
    }
    events: list[StackEvent] = []

    def sink(ev: StackEvent) -> None:
        events.append(ev)
        on_event(ev)

    results: list[StageResult] = []
    outputs: dict[Role, dict[str, str]] = {}
    files: list[Path] = []
    for role, phase in DEPLOY_ORDER:
        stack = stacks[role]
        other = Role.DR if role is Role.PRIMARY else Role.PRIMARY
        stage_start = clock()
        if (role, phase) == (Role.DR, Phase.BASE) and _past_base(stack):
            # Re-applying Phase=base to a full DR stack would remove the replica; the base is long done.
            result = StageResult(
                role,
                phase,
                stack.region,
                stack.name,
                "skipped",
                0,
                0.0,
                "the DR stack is already at phase full",
            )
        else:
            peer_outputs = stacks[other].outputs()
            missing = sorted(
                o for o in peer_mapping(env, role, phase, declared).values() if not peer_outputs.get(o)
            )
            if missing:
                raise StackError(
                    stacks[other].region,
                    stacks[other].name,
                    f"has no output {', '.join(missing)}, which the {role.value} stack ({phase.value}) needs "
                    "as parameters",
                    "deploy it with the current template (" + RESUME_HINT + ") and check its Outputs",
                )
            peer = peer_parameters(env, role, phase, peer_outputs, declared)
            stage_extra = dict(extra[role])
            if APP_IMAGE_AVAILABLE in declared:
                # The gate (defect 1): services ask for tasks only once the image is in BOTH regions.
                image = image_status(factory, account, tag, _repositories(env, stacks))
                running = parameters_of(stack.describe()).get(APP_IMAGE_AVAILABLE) == "true"
                if running and not image.available:
                    # Never take running services to 0 tasks because an image is missing: refuse first.
                    raise ConfigError(
                        Param.IMAGE_TAG,
                        tag,
                        f"is not in every region's ECR repository, and {stack.region}/{stack.name} runs its "
                        "service; deploying would stop it (AppImageAvailable=false)",
                        "push the image first:\n"
                        + "\n".join(image.push_instructions(env.name, env.primary_region)),
                    )
                stage_extra[APP_IMAGE_AVAILABLE] = "true" if image.available else "false"
            params = stack_parameters(env, template=tpl, role=role, phase=phase, peer=peer, extra=stage_extra)
            check_parameters(tpl, params, f"{role.value}/{phase.value}")
            result = _apply(
                env,
                stack,
                role=role,
                phase=phase,
                params=params,
                tags=tags,
                body=body,
                template_url=template_url[role],
                confirm=confirm,
                on_event=sink,
                t=t,
            )
            result = StageResult(
                role,
                phase,
                stack.region,
                stack.name,
                result.action,
                result.changes,
                clock() - stage_start,
                result.detail,
            )
        results.append(result)
        if on_stage:
            on_stage(result)
        outputs[role] = stack.outputs()
        files = write_outputs(outputs_dir, {r: (env.region_of(r).region, o) for r, o in outputs.items()})

    final_image = image_status(factory, account, tag, _repositories(env, stacks))
    return DeployResult(
        env=env.name,
        stages=tuple(results),
        outputs={env.region_of(r).region: o for r, o in outputs.items()},
        output_files=tuple(str(f) for f in files),
        artifact_buckets={b.region: b.name for b in buckets.values()},
        seconds=clock() - started,
        events=tuple(events),
        image={
            "tag": final_image.tag,
            "available": final_image.available,
            "uris": final_image.uris,
            "present": final_image.present,
            "gated": APP_IMAGE_AVAILABLE in declared,
        },
        next_steps=tuple(final_image.push_instructions(env.name, env.primary_region)),
    )


def _repositories(env: Environment, stacks: dict[Role, Stack]) -> dict[str, str]:
    """Region -> the ECR repository its stack outputs (empty while the stack does not exist)."""
    out: dict[str, str] = {}
    for role in (Role.PRIMARY, Role.DR):
        try:
            outputs = stacks[role].outputs()
        except StackError:
            outputs = {}
        out[env.region_of(role).region] = outputs.get(Output.ECR_REPOSITORY_NAME, "")
    return out


def _past_base(stack: Stack) -> bool:
    state, desc = stack.state()
    return state in (StackState.STABLE, StackState.IN_PROGRESS) and (
        parameters_of(desc).get(Param.PHASE) == Phase.FULL.value
    )


def _apply(
    env: Environment,
    stack: Stack,
    *,
    role: Role,
    phase: Phase,
    params: dict[str, str],
    tags: dict[str, str],
    body: str,
    template_url: str | None,
    confirm: Callable[[Plan], bool],
    on_event: Callable[[StackEvent], None],
    t: Timeouts,
) -> StageResult:
    timeout_s = t.for_stage(role, phase)

    def plan(action: str, changes: tuple[Any, ...] = (), reason: str = "") -> Plan:
        return Plan(env.name, role, phase, stack.region, stack.name, action, changes, reason, template_url)

    state, desc = stack.state()
    if state is StackState.IN_PROGRESS:
        assert desc is not None
        log.info("%s/%s is %s from an earlier run; waiting", stack.region, stack.name, desc["StackStatus"])
        stack.wait("ANY", timeout_s=timeout_s, on_event=on_event)
        state, desc = stack.state()
    recreated = False
    if state is StackState.ROLLED_BACK:
        assert desc is not None
        reason = (
            f"the stack is {desc['StackStatus']}: an earlier create failed and left an empty stack that "
            "cannot be updated; it must be deleted and created again"
        )
        if not confirm(plan("recreate", reason=reason)):
            raise AbortedByUser(
                f"{stack.region}/{stack.name}: left in {desc['StackStatus']}.",
                fix="delete it (or rerun and confirm), then deploy again",
            )
        stack.delete(timeout_s=t.delete_minutes * MINUTE, on_event=on_event)
        state, desc = stack.state()
        recreated = True
    if state is StackState.UPDATE_ROLLBACK_FAILED:
        raise StackError(
            stack.region,
            stack.name,
            "is UPDATE_ROLLBACK_FAILED: a failed update could not roll back",
            "run `aws cloudformation continue-update-rollback --stack-name "
            f"{stack.name} --region {stack.region}` (with --resources-to-skip for resources that "
            "cannot roll back), wait for UPDATE_ROLLBACK_COMPLETE, then " + RESUME_HINT,
        )
    if state is StackState.DELETE_FAILED:
        raise StackError(
            stack.region,
            stack.name,
            "is DELETE_FAILED from an earlier delete",
            "run `streamflix-dr destroy` again (or delete the stack), then deploy",
        )
    change_type = "UPDATE" if state is StackState.STABLE else "CREATE"
    cs = stack.create_change_set(
        change_type=change_type,
        parameters=params,
        tags=tags,
        template_body=None if template_url else body,
        template_url=template_url,
    )
    if cs is None:
        return StageResult(role, phase, stack.region, stack.name, "no-op", 0, 0.0, "no changes")
    action = "recreate" if recreated else ("create" if change_type == "CREATE" else "update")
    if not confirm(plan(action, cs.changes)):
        stack.discard(cs)
        raise AbortedByUser(
            f"{stack.region}/{stack.name}: the change set was declined; nothing was changed in this stack.",
            fix="rerun and confirm, or pass --yes",
        )
    stack.execute(cs, timeout_s=timeout_s, on_event=on_event)
    done = {"create": "created", "update": "updated", "recreate": "recreated"}[action]
    return StageResult(
        role,
        phase,
        stack.region,
        stack.name,
        done,
        len(cs.changes),
        0.0,
        f"{len(cs.changes)} resource changes",
    )


def stack_outputs(stack: Stack) -> dict[str, str]:
    return outputs_of(stack.describe())
