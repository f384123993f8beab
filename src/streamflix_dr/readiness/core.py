"""Readiness: can the DR region take over now? Findings are data; rendering lives in the CLI.

Every check reads the DR region only, so readiness answers while the primary region is down.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.constants import Output

log = logging.getLogger(__name__)


class Status(StrEnum):
    """A finding's outcome. FAIL blocks a failover (without --force); WARN does not."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one resource."""

    check_id: str
    region: str
    resource: str
    status: Status
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        d = asdict(self)
        d["status"] = self.status.value
        return d


@dataclass(frozen=True)
class ReadinessReport:
    """All findings for one DR region."""

    region: str
    findings: tuple[Finding, ...]
    checked_at: float = 0.0

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    @property
    def ready(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        # Same code as ReadinessError so scripts can tell "not ready" from a crash.
        return 0 if self.ready else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "ready": self.ready,
            "checked_at": self.checked_at,
            "counts": {s.value: sum(1 for f in self.findings if f.status is s) for s in Status},
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class ReadinessTarget:
    """What to check in the DR region, by id (from the DR stack's outputs or the Lambda environment)."""

    region: str
    primary_region: str
    suffix: str
    db_instance_id: str = ""
    max_replica_lag_seconds: float = 60
    file_system_id: str = ""
    max_efs_sync_age_seconds: float = 900
    global_datastore_id: str = ""
    redis_group_id: str = ""
    secret_names: tuple[str, ...] = ()
    kms_key_arn: str = ""
    ecr_repository: str = ""
    image_tag: str = ""
    ecs_cluster: str = ""
    ecs_service: str = ""
    warm_count: int = 1
    alarm_names: tuple[str, ...] = ()
    state_machine_arn: str = ""
    function_names: tuple[str, ...] = ()
    journal_table: str = ""
    # The environment turns the Global Datastore on; its id may still be unknown (DR stack not deployed).
    global_datastore_enabled: bool = False

    @classmethod
    def from_outputs(
        cls,
        outputs: Mapping[str, str],
        *,
        region: str,
        primary_region: str,
        suffix: str,
        max_replica_lag_seconds: float = 60,
        max_efs_sync_age_seconds: float = 900,
        warm_count: int = 1,
        image_tag: str = "",
        global_datastore: bool = False,
    ) -> ReadinessTarget:
        o = outputs
        return cls(
            region=region,
            primary_region=primary_region,
            suffix=suffix,
            db_instance_id=o.get(Output.DB_INSTANCE_IDENTIFIER, ""),
            max_replica_lag_seconds=max_replica_lag_seconds,
            file_system_id=o.get(Output.FILE_SYSTEM_ID, ""),
            max_efs_sync_age_seconds=max_efs_sync_age_seconds,
            global_datastore_id=o.get(Output.GLOBAL_DATASTORE_ID, "") if global_datastore else "",
            redis_group_id=o.get(Output.REDIS_REPLICATION_GROUP_ID, ""),
            secret_names=tuple(
                s for s in (o.get(Output.DB_SECRET_NAME), o.get(Output.REDIS_AUTH_SECRET_NAME)) if s
            ),
            kms_key_arn=o.get(Output.KMS_KEY_ARN, ""),
            ecr_repository=o.get(Output.ECR_REPOSITORY_NAME, ""),
            image_tag=image_tag,
            ecs_cluster=o.get(Output.ECS_CLUSTER_NAME, ""),
            ecs_service=o.get(Output.ECS_SERVICE_NAME, ""),
            warm_count=warm_count,
            alarm_names=tuple(s for s in (o.get(Output.PRIMARY_HEALTH_ALARM_NAME),) if s),
            state_machine_arn=o.get(Output.FAILOVER_STATE_MACHINE_ARN, ""),
            function_names=tuple(
                s for s in (o.get(Output.FAILOVER_FUNCTION_NAME), o.get(Output.READINESS_FUNCTION_NAME)) if s
            ),
            journal_table=o.get(Output.JOURNAL_TABLE_NAME, ""),
            global_datastore_enabled=global_datastore,
        )


@dataclass
class CheckContext:
    """Clients for the DR region plus the target and the time."""

    factory: Any
    target: ReadinessTarget
    now: float

    def client(self, service: str) -> Any:
        return self.factory.client(service, self.target.region)


@dataclass(frozen=True)
class Check:
    """A readiness check: stable id, what it checks, the function that yields findings."""

    check_id: str
    description: str
    func: Callable[[CheckContext], list[Finding]] = field(compare=False)


def _f(  # noqa: PLR0917 - the Finding fields, in order
    ctx: CheckContext, check_id: str, resource: str, status: Status, message: str, fix: str = ""
) -> Finding:
    return Finding(check_id, ctx.target.region, resource, status, message, fix)


def _missing(ctx: CheckContext, check_id: str, what: str, output: str) -> list[Finding]:
    return [
        _f(
            ctx,
            check_id,
            "-",
            Status.FAIL,
            f"{what} is not known (stack output {output} missing)",
            "deploy the DR stack in its full phase (streamflix-dr deploy)",
        )
    ]


def _err(e: Exception) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return str(e)


def check_rds_replica(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.db_instance_id:
        return _missing(ctx, "RDS001", "the DR database", Output.DB_INSTANCE_IDENTIFIER)
    try:
        db = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=t.db_instance_id)["DBInstances"][0]
    except ClientError as e:
        return [
            _f(
                ctx,
                "RDS001",
                t.db_instance_id,
                Status.FAIL,
                f"the read replica does not exist ({_err(e)})",
                "deploy the DR stack's full phase, which creates the cross-region replica",
            )
        ]
    out = []
    source = db.get("ReadReplicaSourceDBInstanceIdentifier")
    status = db.get("DBInstanceStatus")
    if not source:
        out.append(
            _f(
                ctx,
                "RDS001",
                t.db_instance_id,
                Status.FAIL,
                "is not a read replica (already promoted?)",
                "after a failover the DR region is the one serving: readiness applies again once a new "
                "cross-region replica protects it (docs/failover.md, After a failover)",
            )
        )
    elif status != "available":
        out.append(
            _f(
                ctx,
                "RDS001",
                t.db_instance_id,
                Status.FAIL,
                f"replica status is {status}, not available",
                "wait for it to become available (creation can take hours)",
            )
        )
    else:
        out.append(_f(ctx, "RDS001", t.db_instance_id, Status.PASS, f"replica of {source}, available"))
    lag = _latest(ctx, "AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": t.db_instance_id})
    if lag is None:
        out.append(
            _f(
                ctx,
                "RDS002",
                t.db_instance_id,
                Status.WARN,
                "no ReplicaLag datapoint in the last 15 minutes",
                "check Enhanced Monitoring/CloudWatch; the replica may be stalled",
            )
        )
    elif lag > t.max_replica_lag_seconds:
        out.append(
            _f(
                ctx,
                "RDS002",
                t.db_instance_id,
                Status.FAIL,
                f"replica lag {lag:.0f} s is over the {t.max_replica_lag_seconds:.0f} s threshold",
                "find the cause (write burst, replica too small); failing over now loses that much data",
            )
        )
    else:
        out.append(_f(ctx, "RDS002", t.db_instance_id, Status.PASS, f"replica lag {lag:.1f} s"))
    return out


def _latest(ctx: CheckContext, namespace: str, name: str, dims: dict[str, str]) -> float | None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    now = datetime.fromtimestamp(ctx.now, UTC)
    try:
        resp = ctx.client("cloudwatch").get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=now - timedelta(minutes=15),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )
    except (ClientError, BotoCoreError) as e:
        log.warning("cannot read %s/%s: %s", namespace, name, e)
        return None
    points = sorted(resp.get("Datapoints") or [], key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def check_efs_replication(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.file_system_id:
        return _missing(ctx, "EFS001", "the DR file system", Output.FILE_SYSTEM_ID)
    try:
        reps = ctx.client("efs").describe_replication_configurations(FileSystemId=t.file_system_id)[
            "Replications"
        ]
    except ClientError as e:
        return [
            _f(
                ctx,
                "EFS001",
                t.file_system_id,
                Status.FAIL,
                f"no replication into this file system ({_err(e)})",
                "deploy the primary stack with DrFileSystemId set to the DR FileSystemId output",
            )
        ]
    dest = next(
        (d for r in reps for d in r.get("Destinations") or [] if d.get("FileSystemId") == t.file_system_id),
        None,
    )
    if dest is None:
        return [
            _f(
                ctx,
                "EFS001",
                t.file_system_id,
                Status.FAIL,
                "not a replication destination",
                "deploy the primary stack with DrFileSystemId set to the DR FileSystemId output",
            )
        ]
    out = []
    if dest.get("Status") != "ENABLED":
        out.append(
            _f(
                ctx,
                "EFS001",
                t.file_system_id,
                Status.FAIL,
                f"replication status is {dest.get('Status')}",
                "see the replication's StatusMessage in the EFS console",
            )
        )
    else:
        out.append(
            _f(
                ctx,
                "EFS001",
                t.file_system_id,
                Status.PASS,
                f"replicating from {reps[0]['SourceFileSystemId']}",
            )
        )
    last = dest.get("LastReplicatedTimestamp")
    if last is None:
        out.append(
            _f(
                ctx,
                "EFS002",
                t.file_system_id,
                Status.WARN,
                "no completed sync yet",
                "the first sync of a large file system can take hours; wait for it",
            )
        )
    else:
        age = ctx.now - last.timestamp()
        status = Status.PASS if age <= t.max_efs_sync_age_seconds else Status.FAIL
        out.append(
            _f(
                ctx,
                "EFS002",
                t.file_system_id,
                status,
                f"last sync {age:.0f} s ago (limit {t.max_efs_sync_age_seconds:.0f} s)",
                "" if status is Status.PASS else "EFS replication is behind; check the source's write rate",
            )
        )
    return out


def check_redis_secondary(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.global_datastore_id and t.global_datastore_enabled:
        # On in the environment, but the DR stack does not name it: never tell the operator to turn on
        # what is on.
        return [
            _f(
                ctx,
                "REDIS001",
                t.redis_group_id or "-",
                Status.FAIL,
                "the environment turns the Global Datastore on, but the DR stack names none (its "
                "GlobalDatastoreId parameter/output is missing): the DR cache would start empty",
                "deploy both regions with the current environment (streamflix-dr deploy)",
            )
        ]
    if not t.global_datastore_id:
        return [
            _f(
                ctx,
                "REDIS001",
                t.redis_group_id or "-",
                Status.WARN,
                "Global Datastore is off: after a failover the DR cache starts empty",
                "set global_datastore: true in the environment to replicate the cache",
            )
        ]
    try:
        groups = ctx.client("elasticache").describe_global_replication_groups(
            GlobalReplicationGroupId=t.global_datastore_id, ShowMemberInfo=True
        )["GlobalReplicationGroups"]
    except ClientError as e:
        return [
            _f(
                ctx,
                "REDIS001",
                t.global_datastore_id,
                Status.FAIL,
                f"global datastore not readable ({_err(e)})",
                "deploy the primary with EnableGlobalDatastore=true, then the DR full phase",
            )
        ]
    members = {m.get("ReplicationGroupId"): m for g in groups for m in g.get("Members") or []}
    member = members.get(t.redis_group_id)
    if member is None:
        return [
            _f(
                ctx,
                "REDIS001",
                t.redis_group_id,
                Status.FAIL,
                f"not a member of {t.global_datastore_id}",
                "redeploy the DR stack's full phase so the secondary joins the global datastore",
            )
        ]
    if member.get("Status", "associated") != "associated":
        return [
            _f(
                ctx,
                "REDIS001",
                t.redis_group_id,
                Status.FAIL,
                f"member status {member.get('Status')}",
                "wait for the association to finish",
            )
        ]
    return [
        _f(
            ctx,
            "REDIS001",
            t.redis_group_id,
            Status.PASS,
            f"{member.get('Role', '').lower()} member, associated",
        )
    ]


def check_secrets(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.secret_names:
        return _missing(ctx, "SEC001", "the secrets", Output.DB_SECRET_NAME)
    out = []
    sm = ctx.client("secretsmanager")
    for name in t.secret_names:
        try:
            desc = sm.describe_secret(SecretId=name)
        except ClientError as e:
            out.append(
                _f(
                    ctx,
                    "SEC001",
                    name,
                    Status.FAIL,
                    f"not in {t.region} ({_err(e)})",
                    f"add {t.region} to the secret's ReplicaRegions with a valid DR KMS key",
                )
            )
            continue
        primary = desc.get("PrimaryRegion")
        if primary and primary not in (t.primary_region, t.region):
            out.append(
                _f(
                    ctx,
                    "SEC001",
                    name,
                    Status.FAIL,
                    f"replica of {primary}, not of {t.primary_region}",
                    "check which region owns the secret",
                )
            )
        else:
            where = (
                f"replica of {primary}" if primary and primary != t.region else "standalone in this region"
            )
            out.append(_f(ctx, "SEC001", name, Status.PASS, where))
    return out


def check_kms(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.kms_key_arn:
        return _missing(ctx, "KMS001", "the DR KMS key", Output.KMS_KEY_ARN)
    try:
        meta = ctx.client("kms").describe_key(KeyId=t.kms_key_arn)["KeyMetadata"]
    except ClientError as e:
        return [
            _f(
                ctx,
                "KMS001",
                t.kms_key_arn,
                Status.FAIL,
                f"key not readable ({_err(e)})",
                "check the key exists and the caller may DescribeKey",
            )
        ]
    state = meta.get("KeyState", "Enabled" if meta.get("Enabled") else "Disabled")
    if state != "Enabled":
        return [
            _f(
                ctx,
                "KMS001",
                t.kms_key_arn,
                Status.FAIL,
                f"key state {state}",
                "enable the key (aws kms enable-key / cancel-key-deletion)",
            )
        ]
    return [_f(ctx, "KMS001", t.kms_key_arn, Status.PASS, "enabled")]


def check_ecr_image(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.ecr_repository:
        return _missing(ctx, "ECR001", "the DR image repository", Output.ECR_REPOSITORY_NAME)
    try:
        kwargs: dict[str, Any] = {"repositoryName": t.ecr_repository}
        if t.image_tag:
            kwargs["filter"] = {"tagStatus": "TAGGED"}
        ids = ctx.client("ecr").list_images(**kwargs).get("imageIds") or []
    except ClientError as e:
        return [
            _f(
                ctx,
                "ECR001",
                t.ecr_repository,
                Status.FAIL,
                f"repository not readable ({_err(e)})",
                "deploy the DR stack (it creates the repository) and the primary's ECR replication",
            )
        ]
    if t.image_tag and not any(i.get("imageTag") == t.image_tag for i in ids):
        return [
            _f(
                ctx,
                "ECR001",
                t.ecr_repository,
                Status.FAIL,
                f"image tag {t.image_tag} is not in {t.region}",
                "push the image in the primary and wait for ECR replication (or push to the DR repository)",
            )
        ]
    if not ids:
        return [
            _f(
                ctx,
                "ECR001",
                t.ecr_repository,
                Status.FAIL,
                "the repository holds no image",
                "push the application image; ECR replication copies it from the primary",
            )
        ]
    return [
        _f(
            ctx,
            "ECR001",
            t.ecr_repository,
            Status.PASS,
            f"{'tag ' + t.image_tag if t.image_tag else str(len(ids)) + ' image(s)'} present",
        )
    ]


def check_ecs_service(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not (t.ecs_cluster and t.ecs_service):
        return _missing(ctx, "ECS001", "the DR ECS service", Output.ECS_SERVICE_NAME)
    resource = f"{t.ecs_cluster}/{t.ecs_service}"
    try:
        svcs = ctx.client("ecs").describe_services(cluster=t.ecs_cluster, services=[t.ecs_service])[
            "services"
        ]
    except ClientError as e:
        return [_f(ctx, "ECS001", resource, Status.FAIL, f"not readable ({_err(e)})", "deploy the DR stack")]
    if not svcs or svcs[0].get("status") != "ACTIVE":
        return [
            _f(ctx, "ECS001", resource, Status.FAIL, "service missing or not ACTIVE", "deploy the DR stack")
        ]
    svc = svcs[0]
    running, desired = svc.get("runningCount", 0), svc.get("desiredCount", 0)
    if desired < t.warm_count or running < t.warm_count:
        return [
            _f(
                ctx,
                "ECS001",
                resource,
                Status.FAIL,
                f"{running} running / {desired} desired, below the warm capacity of {t.warm_count}",
                "check the service events (image, subnets, secrets) and the DR desired_count",
            )
        ]
    return [
        _f(
            ctx,
            "ECS001",
            resource,
            Status.PASS,
            f"{running} running / {desired} desired (warm {t.warm_count})",
        )
    ]


def check_alarms(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    if not t.alarm_names:
        return _missing(ctx, "ALARM001", "the primary-health alarm", Output.PRIMARY_HEALTH_ALARM_NAME)
    try:
        found = {
            a["AlarmName"]
            for a in ctx.client("cloudwatch")
            .describe_alarms(AlarmNames=list(t.alarm_names))
            .get("MetricAlarms")
            or []
        }
    except ClientError as e:
        return [
            _f(
                ctx,
                "ALARM001",
                ",".join(t.alarm_names),
                Status.FAIL,
                f"not readable ({_err(e)})",
                "deploy the DR stack's full phase",
            )
        ]
    return [
        _f(
            ctx,
            "ALARM001",
            name,
            Status.PASS if name in found else Status.FAIL,
            "exists" if name in found else "missing",
            "" if name in found else "deploy the DR full phase",
        )
        for name in t.alarm_names
    ]


def _exists(
    ctx: CheckContext, check_id: str, resource: str, describe: Callable[[], Any], *, found: str, fix: str
) -> Finding:
    """PASS when ``describe()`` answers, FAIL with the AWS error otherwise."""
    try:
        describe()
    except ClientError as e:
        return _f(ctx, check_id, resource, Status.FAIL, f"missing ({_err(e)})", fix)
    return _f(ctx, check_id, resource, Status.PASS, found)


def check_automation(ctx: CheckContext) -> list[Finding]:
    t = ctx.target
    out = []
    if not t.state_machine_arn:
        out += _missing(ctx, "AUTO001", "the failover state machine", Output.FAILOVER_STATE_MACHINE_ARN)
    else:
        sfn = ctx.client("stepfunctions")
        out.append(
            _exists(
                ctx,
                "AUTO001",
                t.state_machine_arn,
                lambda: sfn.describe_state_machine(stateMachineArn=t.state_machine_arn),
                found="state machine exists",
                fix="deploy the DR stack's full phase",
            )
        )
    if t.function_names:
        lam = ctx.client("lambda")
        out += [
            _exists(
                ctx,
                "AUTO002",
                fn,
                functools.partial(lam.get_function, FunctionName=fn),
                found="function exists",
                fix="deploy the DR full phase",
            )
            for fn in t.function_names
        ]
    if not t.journal_table:
        out += _missing(ctx, "AUTO003", "the journal table", Output.JOURNAL_TABLE_NAME)
    else:
        ddb = ctx.client("dynamodb")
        out.append(
            _exists(
                ctx,
                "AUTO003",
                t.journal_table,
                lambda: ddb.describe_table(TableName=t.journal_table),
                found="journal table exists",
                fix="deploy the DR stack",
            )
        )
    return out


CHECKS: tuple[Check, ...] = (
    Check("RDS", "RDS replica exists, is available, lag under threshold", check_rds_replica),
    Check("EFS", "EFS replication enabled, last sync recent", check_efs_replication),
    Check("REDIS", "Redis secondary associated (Global Datastore on)", check_redis_secondary),
    Check("SEC", "Secrets replicated into the DR region", check_secrets),
    Check("KMS", "DR KMS key enabled", check_kms),
    Check("ECR", "Application image present in the DR ECR", check_ecr_image),
    Check("ECS", "DR ECS service healthy at warm capacity", check_ecs_service),
    Check("ALARM", "Primary-health alarm exists", check_alarms),
    Check("AUTO", "Failover automation and journal exist", check_automation),
)


def run_readiness(
    factory: Any, target: ReadinessTarget, *, now: float, checks: tuple[Check, ...] = CHECKS
) -> ReadinessReport:
    """Run every check against the DR region. A check that crashes becomes a FAIL finding."""
    ctx = CheckContext(factory=factory, target=target, now=now)
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(check.func(ctx))
        except (ClientError, BotoCoreError) as e:
            findings.append(
                _f(
                    ctx,
                    check.check_id,
                    "-",
                    Status.FAIL,
                    f"check could not run: {_err(e)}",
                    f"check {target.region} answers and the caller has read access",
                )
            )
    return ReadinessReport(region=target.region, findings=tuple(findings), checked_at=now)
