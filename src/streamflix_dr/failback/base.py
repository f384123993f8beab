"""What every failback step shares: step ids, phases, the two sides' resources, errors, AWS helpers.

The failback steps are ``runbook.steps.Step`` subclasses run by the failover runner. They name their
regions explicitly (``t.primary.region`` / ``t.dr.region``) instead of the runner's source/target,
because the three phases move data in both directions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.errors import FailoverError
from streamflix_dr.runbook.steps import StepContext, error_code
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

DIRECTION = "failback"
# Tags put on AWS resources so that a resumed run (or another operator) can read the state from AWS.
TAG_FENCED_AT = "streamflix-dr:fenced-at"  # epoch seconds when the DR writers were fenced (on the DR DB)
TAG_RENAMED_FROM = "streamflix-dr:renamed-from"  # on an instance renamed aside: its original identifier
TAG_RENAMED_BY = "streamflix-dr:renamed-by"


class Phase(StrEnum):
    """The three failback phases, in order."""

    REPROTECT = "reprotect"
    CUTBACK = "cutback"
    REPROTECT_ORIGINAL = "reprotect-original"


class FailbackStepId(StrEnum):
    """Failback step ids (journal keys). Prefixed by phase so one operation can hold all three."""

    PREFLIGHT = "fb-preflight"
    FENCE_OLD_PRIMARY = "fb-fence-old-primary"
    REPROTECT_RDS = "fb-reprotect-rds"
    REPROTECT_EFS = "fb-reprotect-efs"
    REPROTECT_REDIS = "fb-reprotect-redis"
    REPROTECT_SECRETS = "fb-reprotect-secrets"
    REVERSE_READINESS = "fb-reverse-readiness"
    FENCE_DR = "fb-fence-dr"
    DRAIN_RDS = "fb-drain-rds"
    DRAIN_EFS = "fb-drain-efs"
    DRAIN_REDIS = "fb-drain-redis"
    DRAIN_SECRETS = "fb-drain-secrets"
    PROMOTE_RDS = "fb-promote-rds"
    FAILBACK_EFS = "fb-failback-efs"
    FAILBACK_REDIS = "fb-failback-redis"
    RESTORE_PRIMARY_DB = "fb-restore-primary-db"
    SCALE_PRIMARY = "fb-scale-primary"
    SWITCH_DNS = "fb-switch-dns"
    VERIFY_PRIMARY = "fb-verify-primary"
    SCALE_DR_WARM = "fb-scale-dr-warm"
    REPROTECT_ORIGINAL_RDS = "fb-reprotect-original-rds"
    REPROTECT_ORIGINAL_EFS = "fb-reprotect-original-efs"
    REPROTECT_ORIGINAL_REDIS = "fb-reprotect-original-redis"
    REPROTECT_ORIGINAL_SECRETS = "fb-reprotect-original-secrets"
    DELETE_RENAMED = "fb-delete-renamed"
    FORWARD_READINESS = "fb-forward-readiness"


def step_id(value: FailbackStepId) -> Any:
    """A failback step id for ``Step.id``. ``Step.id`` is annotated ``StepId`` (the failover's enum);
    the runner only reads ``.value`` and ``str()``, which a ``FailbackStepId`` gives too. Typed ``Any``
    until ``Step.id`` is widened to ``StrEnum`` (the change proposed in the failback report)."""
    return value


class FailbackError(FailoverError):
    """A failback step could not do what it must (exit 1)."""


class NotDrainedError(FailbackError):
    """A store still holds writes the other region has not received; promoting now would lose them."""


@dataclass(frozen=True)
class Side:
    """One region's resources, by physical id (read from its stack)."""

    region: str = ""
    stack: str = ""
    db_id: str = ""
    kms_key_arn: str = ""
    db_subnet_group: str = ""
    db_security_groups: tuple[str, ...] = ()
    db_parameter_group: str = ""
    db_instance_class: str = ""
    db_multi_az: bool = True
    db_backup_retention: int = 7
    db_fence_security_group: str = ""
    fs_id: str = ""
    redis_group_id: str = ""
    # What the stack declares for its cache (physical ids of RedisSubnetGroup / RedisSecurityGroup).
    redis_subnet_group: str = ""
    redis_security_groups: tuple[str, ...] = ()
    ecs_cluster: str = ""
    ecs_service: str = ""
    desired_count: int = 0
    min_capacity: int = 0
    max_capacity: int = 0
    load_balancer_dns_name: str = ""
    target_group_arn: str = ""


@dataclass(frozen=True)
class FailbackTopology(Topology):
    """Both sides of the environment. ``source_region`` is the DR region (being left), ``target_region``
    the primary; ``journal_table`` lives in the DR region, like the failover's."""

    primary: Side = field(default_factory=Side)
    dr: Side = field(default_factory=Side)
    global_datastore_enabled: bool = False
    account_id: str = ""

    @property
    def direction(self) -> str:
        return DIRECTION

    def db_arn(self, side: Side) -> str:
        return f"arn:aws:rds:{side.region}:{self.account_id}:db:{side.db_id}"

    def other(self, side: Side) -> Side:
        return self.dr if side is self.primary else self.primary


def ft(topology: Topology) -> FailbackTopology:
    """The failback topology, or a clear error when a failover topology was passed by mistake."""
    if not isinstance(topology, FailbackTopology):
        raise FailbackError(
            f"a failback step got a {type(topology).__name__}, not a FailbackTopology.",
            fix="build the failback runner with streamflix_dr.failback.session.resolve_failback",
        )
    return topology


def rds_instance(ctx: StepContext, region: str, db_id: str) -> dict[str, Any] | None:
    """DescribeDBInstances for one identifier; None when it does not exist."""
    try:
        dbs = ctx.client("rds", region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"]
    except ClientError as e:
        if error_code(e) == "DBInstanceNotFound":
            return None
        raise
    return dict(dbs[0]) if dbs else None


def tag_value(tags: list[dict[str, str]] | None, key: str) -> str:
    return next((t.get("Value", "") for t in tags or [] if t.get("Key") == key), "")


def fenced_at(ctx: StepContext) -> float | None:
    """When the DR writers were fenced, read from the tag the fence step put on the DR DB instance."""
    t = ft(ctx.topology)
    db = rds_instance(ctx, t.dr.region, t.dr.db_id)
    if db is None:
        return None
    tags = ctx.client("rds", t.dr.region).list_tags_for_resource(ResourceName=db["DBInstanceArn"])
    raw = tag_value(tags.get("TagList"), TAG_FENCED_AT)
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def metric_points(  # noqa: PLR0917 - mirrors GetMetricStatistics
    ctx: StepContext, region: str, namespace: str, name: str, dimensions: dict[str, str], since: float
) -> list[tuple[float, float]]:
    """(epoch, Maximum) datapoints of a metric since ``since``, oldest first; [] when unreadable."""
    now = ctx.clock.now()
    try:
        resp = ctx.client("cloudwatch", region).get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=datetime.fromtimestamp(since, UTC) - timedelta(seconds=60),
            EndTime=datetime.fromtimestamp(now, UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )
    except (ClientError, BotoCoreError) as e:
        log.warning("cannot read %s/%s in %s: %s", namespace, name, region, e)
        return []
    points = [(p["Timestamp"].timestamp(), float(p["Maximum"])) for p in resp.get("Datapoints") or []]
    return sorted(points)
