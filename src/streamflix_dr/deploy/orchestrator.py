"""Deploy both regions in order, passing each region's outputs to the other as parameters.

Order (aws-notes §10): DR base (us-east-1) -> primary (eu-west-2) -> DR full (us-east-1, the replica).
Every stack goes through a change set: the operator sees what changes and confirms. A rerun resumes:
finished stacks produce empty change sets (no-ops), an operation still running from an interrupted run
is waited for, a failed create (ROLLBACK_COMPLETE) is deleted and recreated after confirmation.
"""

from __future__ import annotations

import json
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
from streamflix_dr.deploy.outputs import read_outputs, write_outputs
from streamflix_dr.deploy.plan import (
    ALLOW_ALL_STACK_POLICY,
    DATA_STORE_STACK_POLICY,
    DEPLOY_ORDER,
    DeployResult,
    Plan,
    StageResult,
    stack_policy_body,
)
from streamflix_dr.deploy.stacks import RESUME_HINT, Stack, StackEvent, Timing, outputs_of, parameters_of
from streamflix_dr.errors import AbortedByUser, AwsError, ConfigError, FailedOverError, StackError
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


# While failed over, the DR stack takes these parameters from the environment (what the release changes: the
# image, the task size, the service's capacity, alarms, the automation code); every other parameter keeps the
# value the stack was last deployed with (UsePreviousValue), so nothing that feeds a data store, the network
# or a name changes. The primary's outputs (PrimaryDbArn, GlobalDatastoreId, PrimaryHealthCheckId) are among
# the kept ones: the primary region may not answer, and SourceDBInstanceIdentifier must not change.
FAILED_OVER_FRESH: frozenset[str] = frozenset(
    {
        Param.IMAGE_TAG,
        APP_IMAGE_AVAILABLE,
        Param.TASK_CPU,
        Param.TASK_MEMORY,
        Param.DESIRED_COUNT,
        Param.MIN_CAPACITY,
        Param.MAX_CAPACITY,
        Param.FAILOVER_DESIRED_COUNT,
        Param.LOG_RETENTION_DAYS,
        Param.ALARM_EMAIL,
        Param.FAILOVER_APPROVAL_REQUIRED,
        Param.ARTIFACT_BUCKET,
        Param.AUTOMATION_CODE_KEY,
    }
)


@dataclass(frozen=True)
class FailedOver:
    """How a deploy runs while the environment is failed over (the DR database is no longer a replica).

    Only the DR stack is deployed: the primary stack is skipped (its region may be down, and any update of it
    could undo the failover's fence: CloudFormation writes the ECS service's DesiredCount on every update of
    the service, containers-roadmap#493). The DR stack keeps its previous parameter values except
    ``FAILED_OVER_FRESH``; its service runs ``capacity`` (desired, min, max): the primary's full capacity
    while the DR region takes the traffic. Its change set is refused before it runs if it replaces or removes
    anything or changes a data store (``Plan.refused``), and a stack policy denies the same on AWS.
    """

    active_region: str
    capacity: tuple[int, int, int]
    reason: str = ""

    @classmethod
    def for_env(cls, env: Environment, active_region: str, reason: str = "") -> FailedOver:
        """Full capacity (the primary's) while the DR region takes the traffic, its own otherwise."""
        rc = env.primary if active_region != env.primary_region else env.dr
        return cls(active_region, (rc.desired_count, rc.min_capacity, rc.max_capacity), reason)


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
    failed_over: FailedOver | None = None,
    show: Callable[[Plan], None] | None = None,
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
        failed_over: the environment runs in its DR region: deploy the DR stack only, as ``FailedOver`` says.
        show: receives a plan that is refused (failed over), before the refusal is raised.

    Raises:
        ConfigError: a parameter value the template rejects (before any AWS call).
        StackError: a stack operation failed; the message lists the failed resources and how to resume.
        StackTimeoutError: an operation exceeded its bound.
        AbortedByUser: ``confirm`` returned False.
        FailedOverError: failed over, and a change set would replace/remove a resource or change a data
            store (nothing was executed).
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

    fo = failed_over
    # While failed over only the DR region is touched (the primary region may not answer).
    roles = (Role.DR,) if fo else (Role.PRIMARY, Role.DR)
    account = account_id(factory, env.dr_region if fo else env.primary_region)
    tag = image_tag(env, tpl)
    buckets = {r: b for r, b in artifact_buckets(env, factory, account).items() if r in roles}
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
    touched: dict[str, tuple[str, ...]] = {}
    for role, phase in DEPLOY_ORDER:
        stack = stacks[role]
        other = Role.DR if role is Role.PRIMARY else Role.PRIMARY
        stage_start = clock()
        if fo and role is Role.PRIMARY:
            result = StageResult(
                role,
                phase,
                stack.region,
                stack.name,
                "skipped",
                0,
                0.0,
                f"failed over ({fo.active_region} takes the writes): the primary stack is not deployed until "
                "the failback has run (an update could undo the fence or change a database that is now a "
                "replica or renamed aside)",
            )
        elif fo and (role, phase) == (Role.DR, Phase.BASE):
            result = StageResult(
                role, phase, stack.region, stack.name, "skipped", 0, 0.0, "failed over: the DR stack is full"
            )
        elif (role, phase) == (Role.DR, Phase.BASE) and _past_base(stack):
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
            peer_outputs = {} if fo else stacks[other].outputs()
            missing = sorted(
                o for o in peer_mapping(env, role, phase, declared).values() if not peer_outputs.get(o)
            )
            if missing and not fo:
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
                image = image_status(factory, account, tag, _repositories(env, stacks, roles))
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
            keep: tuple[str, ...] = ()
            previous: dict[str, str] = {}
            if fo:
                previous = parameters_of(stack.describe())
                params, keep = failed_over_parameters(params, previous, fo, declared)
            # The kept values are checked too: the template's constraints may have changed since.
            check_parameters(tpl, {**params, **{k: previous[k] for k in keep}}, f"{role.value}/{phase.value}")
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
                use_previous=keep,
                failed_over=fo is not None,
                show=show,
                touched=touched,
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
        if role in roles:
            outputs[role] = stack.outputs()
        elif role not in outputs:
            # Not asked (failed over): the primary's outputs as the last deploy wrote them, so the flat file
            # keeps them.
            outputs[role] = read_outputs(outputs_dir, stack.region)
        files = write_outputs(
            outputs_dir, {r: (env.region_of(r).region, o) for r, o in outputs.items() if o or not fo}
        )

    final_image = image_status(factory, account, tag, _repositories(env, stacks, roles))
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
        mode="failed-over" if fo else "normal",
        data_store_changes=touched,
    )


def failed_over_parameters(
    fresh: dict[str, str], previous: dict[str, str], fo: FailedOver, declared: set[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """(values to pass, keys to pass as UsePreviousValue) for the DR stack while failed over: the previous
    value of everything but ``FAILED_OVER_FRESH`` (a parameter the stack does not have yet takes the
    environment's value: UsePreviousValue is refused for it), and the service at ``fo.capacity``."""
    desired, low, high = fo.capacity
    out = dict(fresh)
    out.update(
        {Param.DESIRED_COUNT: str(desired), Param.MIN_CAPACITY: str(low), Param.MAX_CAPACITY: str(high)}
    )
    keep = tuple(sorted(k for k in declared if k in previous and k not in FAILED_OVER_FRESH))
    for k in keep:
        out.pop(k, None)
    return {k: v for k, v in out.items() if k in declared}, keep


def _repositories(
    env: Environment, stacks: dict[Role, Stack], roles: tuple[Role, ...] = (Role.PRIMARY, Role.DR)
) -> dict[str, str]:
    """Region -> the ECR repository its stack outputs (empty while the stack does not exist)."""
    out: dict[str, str] = {}
    for role in roles:
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
    use_previous: tuple[str, ...] = (),
    failed_over: bool = False,
    show: Callable[[Plan], None] | None = None,
    touched: dict[str, tuple[str, ...]] | None = None,
) -> StageResult:
    timeout_s = t.for_stage(role, phase)

    def plan(action: str, changes: tuple[Any, ...] = (), reason: str = "") -> Plan:
        return Plan(
            env.name,
            role,
            phase,
            stack.region,
            stack.name,
            action,
            changes,
            reason,
            template_url,
            failed_over,
        )

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
    if failed_over and change_type != "UPDATE":
        raise FailedOverError(
            f"{stack.region}/{stack.name} is {desc['StackStatus'] if desc else 'absent'}: while the "
            "environment is failed over a deploy only updates the existing DR stack.",
            fix="fail back first (streamflix-dr failback), or repair the DR stack by hand",
        )
    if change_type == "UPDATE":
        _set_stack_policy(stack, DATA_STORE_STACK_POLICY if failed_over else None)
    cs = stack.create_change_set(
        change_type=change_type,
        parameters=params,
        tags=tags,
        template_body=None if template_url else body,
        template_url=template_url,
        use_previous=use_previous,
    )
    if cs is None:
        return StageResult(role, phase, stack.region, stack.name, "no-op", 0, 0.0, "no changes")
    action = "recreate" if recreated else ("create" if change_type == "CREATE" else "update")
    planned = plan(action, cs.changes)
    if touched is not None:
        touched[stack.name] = tuple(c.logical_id for c in planned.data_store_changes)
    if planned.refused:
        # Never executed: the change set is deleted and nothing of the stack changes.
        if show:
            show(planned)
        stack.discard(cs)
        raise FailedOverError(
            f"{stack.region}/{stack.name}: the environment is failed over and the change set would change "
            "what now holds the only writable data: "
            + "; ".join(f"{c.logical_id} ({c.resource_type}) {why}" for c, why in planned.refused)
            + ". Nothing was executed.",
            fix=_refusal_fix(planned),
        )
    if not confirm(planned):
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


def _refusal_fix(plan: Plan) -> str:
    ids = {c.logical_id for c, _ in plan.refused}
    fix = (
        "undo the template or environment change that causes it (git diff templates/ environments/), or fail "
        f"back first (streamflix-dr failback --env {plan.env}) and deploy in the normal direction"
    )
    if "DbReplica" in ids:
        fix += (
            "; never remove SourceDBInstanceIdentifier from DbReplica: CloudFormation would call "
            "PromoteReadReplica on an instance that is no longer a replica (the RDS handler's UpdateHandler)"
        )
    return fix


def _set_stack_policy(stack: Stack, policy: dict[str, Any] | None) -> None:
    """Failed over: deny replacing/removing anything and any update of a data store (``policy``). Normal
    deploy (``None``): lift that policy if an earlier failed-over deploy left it (CloudFormation cannot
    delete a stack policy; an allow-all policy is the same as none). Other policies are left alone."""
    try:
        current = stack.cfn.get_stack_policy(StackName=stack.name).get("StackPolicyBody") or ""
    except ClientError as e:
        raise AwsError(
            f"{stack.region}/{stack.name}: cannot read the stack policy ({e}).",
            fix="allow cloudformation:GetStackPolicy and SetStackPolicy to the deploying identity",
        ) from e
    ours = stack_policy_body(DATA_STORE_STACK_POLICY)
    try:
        same = stack_policy_body(json.loads(current)) == ours if current else False
    except ValueError:
        same = False
    if policy is not None and not same:
        body = stack_policy_body(policy)
    elif policy is None and same:
        body = stack_policy_body(ALLOW_ALL_STACK_POLICY)
    else:
        return
    try:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_SetStackPolicy.html
        stack.cfn.set_stack_policy(StackName=stack.name, StackPolicyBody=body)
    except ClientError as e:
        raise AwsError(
            f"{stack.region}/{stack.name}: cannot set the stack policy ({e}).",
            fix="allow cloudformation:SetStackPolicy to the deploying identity",
        ) from e


def stack_outputs(stack: Stack) -> dict[str, str]:
    return outputs_of(stack.describe())
