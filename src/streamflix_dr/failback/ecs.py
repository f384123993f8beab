"""ECS steps of the failback: fence the DR writers, scale the primary to full, the DR back to warm,
and check the primary region serves.

Application Auto Scaling puts a service back inside its scalable target's range on its next
activity, so every scaling here sets the scalable target too (aws-notes errata §4)."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.errors import FailoverError
from streamflix_dr.failback.base import (
    TAG_FENCED_AT,
    FailbackError,
    FailbackStepId,
    Side,
    fenced_at,
    ft,
    rds_instance,
    step_id,
)
from streamflix_dr.failback.rds import WRITABLE_STATUSES, _read_only_value, set_read_only
from streamflix_dr.runbook.steps import READ_ONLY_PARAMETER, Step, StepContext, StepOutcome, _probe, poll
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

DIMENSION = "ecs:service:DesiredCount"


def service(ctx: StepContext, side: Side) -> dict[str, Any]:
    services = ctx.client("ecs", side.region).describe_services(
        cluster=side.ecs_cluster, services=[side.ecs_service]
    )["services"]
    if not services:
        raise FailbackError(
            f"{side.region}: ECS service {side.ecs_cluster}/{side.ecs_service} not found.",
            fix=f"check the EcsServiceName output of stack {side.stack}",
        )
    return dict(services[0])


def scalable_target(ctx: StepContext, side: Side) -> dict[str, Any] | None:
    resp = ctx.client("application-autoscaling", side.region).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{side.ecs_cluster}/{side.ecs_service}"]
    )
    targets = resp.get("ScalableTargets") or []
    return dict(targets[0]) if targets else None


def set_capacity(ctx: StepContext, side: Side, desired: int, low: int, high: int) -> None:
    """Scalable target min/max first (or the autoscaler undoes the count), then the desired count."""
    if scalable_target(ctx, side) is not None:
        ctx.client("application-autoscaling", side.region).register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{side.ecs_cluster}/{side.ecs_service}",
            ScalableDimension=DIMENSION,
            MinCapacity=low,
            MaxCapacity=high,
        )
    ctx.client("ecs", side.region).update_service(
        cluster=side.ecs_cluster, service=side.ecs_service, desiredCount=desired
    )


def _at_capacity(ctx: StepContext, side: Side, desired: int, low: int, high: int) -> bool:
    svc = service(ctx, side)
    st = scalable_target(ctx, side)
    if st is not None and (st["MinCapacity"], st["MaxCapacity"]) != (low, high):
        return False
    return bool(svc.get("desiredCount") == desired and svc.get("runningCount") == desired)


class FenceDr(Step):
    """Stop the DR writers before draining: ECS to 0 with its scalable target at min=max=0, the DR DB's
    parameter group read-only (``default_transaction_read_only``: a session can still override it), and
    a ``streamflix-dr:fenced-at`` tag on the DR DB that the drain steps compare replication against."""

    actions = ("ecs.stop_tasks", "rds.modify_parameter_group")

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.FENCE_DR)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"Fence {f.dr.region}: ECS {f.dr.ecs_service} to 0 (scalable target 0/0), "
            f"{READ_ONLY_PARAMETER}=on "
            f"on {f.dr.db_parameter_group or 'the DR DB group'}, tag {f.dr.db_id} with the fence time. "
            "Writes stop here: the write-unavailability window starts"
        )

    def check_done(self, ctx: StepContext) -> bool:
        t = ft(ctx.topology)
        if fenced_at(ctx) is None or not _at_capacity(ctx, t.dr, 0, 0, 0):
            return False
        return (
            not t.dr.db_parameter_group or _read_only_value(ctx, t.dr.region, t.dr.db_parameter_group) == "on"
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        outcome = StepOutcome()
        set_capacity(ctx, t.dr, 0, 0, 0)
        ctx.latency.wait("ecs.stop_tasks")
        poll(ctx, f"{t.dr.ecs_service} tasks stopped", t.dr.region, lambda: _at_capacity(ctx, t.dr, 0, 0, 0))
        if not set_read_only(ctx, t.dr, on=True):
            outcome.warnings.append(
                f"{t.dr.db_id} uses a default parameter group: not made read-only (the app is stopped)"
            )
        db = rds_instance(ctx, t.dr.region, t.dr.db_id)
        if db is None:
            raise FailbackError(f"{t.dr.region}: {t.dr.db_id} does not exist.", fix="check the DR stack")
        # The fence time is taken after the writers are stopped: anything written before it must reach
        # the primary side before promotion.
        now = ctx.clock.now()
        ctx.client("rds", t.dr.region).add_tags_to_resource(
            ResourceName=db["DBInstanceArn"], Tags=[{"Key": TAG_FENCED_AT, "Value": f"{now:.3f}"}]
        )
        outcome.message = f"DR writers fenced at {now:.0f}"
        outcome.metrics["fenced_at"] = now
        return outcome

    def verify(self, ctx: StepContext) -> None:
        if not self.check_done(ctx):
            raise FailbackError(f"{ft(ctx.topology).dr.region}: the DR writers are not fenced.", fix="rerun")


class FenceOldPrimary(Step):
    """The primary region came back with its service as the template left it (the failover could not
    fence a region that did not answer): stop its tasks before anything else, because they write to the
    old, diverged DB (and to EFS and Redis) that nobody reads any more. Scalable target min=max=0 first,
    or Application Auto Scaling starts them again. The cut-back scales the service up once the primary
    region holds the data again."""

    actions = ("ecs.stop_tasks",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.FENCE_OLD_PRIMARY)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"Fence the old primary {f.primary.region}: ECS {f.primary.ecs_service} to 0 (scalable target "
            "0/0) until the cut-back; its tasks would write to the diverged DB"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return _at_capacity(ctx, ft(ctx.topology).primary, 0, 0, 0)

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        before = service(ctx, t.primary).get("runningCount", 0)
        set_capacity(ctx, t.primary, 0, 0, 0)
        ctx.latency.wait("ecs.stop_tasks")
        poll(
            ctx,
            f"{t.primary.ecs_service} tasks stopped",
            t.primary.region,
            lambda: _at_capacity(ctx, t.primary, 0, 0, 0),
        )
        return StepOutcome(message=f"{t.primary.ecs_service} stopped ({before} task(s) were running)")

    def verify(self, ctx: StepContext) -> None:
        if not self.check_done(ctx):
            raise FailbackError(
                f"{ft(ctx.topology).primary.region}: the old primary's service still runs tasks.",
                fix="rerun the same command",
            )


class ScaleService(Step):
    """Scale one side's ECS service (and its scalable target) to a capacity from the environment file."""

    actions = ("ecs.scale_out",)

    def __init__(self, side: str, sid: FailbackStepId) -> None:
        self.side_name = side
        self.id = step_id(sid)

    def _side(self, t: Topology) -> Side:
        f = ft(t)
        return f.primary if self.side_name == "primary" else f.dr

    def describe(self, t: Topology) -> str:
        s = self._side(t)
        what = "full" if self.side_name == "primary" else "warm"
        return (
            f"ECS: scale {s.ecs_cluster}/{s.ecs_service} in {s.region} to {what} capacity "
            f"({s.desired_count} tasks, scalable target {s.min_capacity}-{s.max_capacity})"
        )

    def check_done(self, ctx: StepContext) -> bool:
        s = self._side(ctx.topology)
        return _at_capacity(ctx, s, s.desired_count, s.min_capacity, s.max_capacity)

    def run(self, ctx: StepContext) -> StepOutcome:
        s = self._side(ctx.topology)
        set_capacity(ctx, s, s.desired_count, s.min_capacity, s.max_capacity)
        ctx.latency.wait("ecs.scale_out")
        poll(ctx, f"{s.ecs_service} at {s.desired_count} tasks", s.region, lambda: self.check_done(ctx))
        outcome = StepOutcome(message=f"{s.ecs_service} runs {s.desired_count} tasks")
        if self.side_name == "dr":
            # The DR side is warm again; its DB stays read-only until reprotect-original replaces it.
            t = ft(ctx.topology)
            db = rds_instance(ctx, t.dr.region, t.dr.db_id)
            if db is not None:
                ctx.client("rds", t.dr.region).remove_tags_from_resource(
                    ResourceName=db["DBInstanceArn"], TagKeys=[TAG_FENCED_AT]
                )
        return outcome

    def verify(self, ctx: StepContext) -> None:
        s = self._side(ctx.topology)
        svc = service(ctx, s)
        if svc.get("runningCount", 0) < s.desired_count:
            raise FailbackError(
                f"{s.region}: {s.ecs_service} runs {svc.get('runningCount', 0)}/{s.desired_count} tasks.",
                fix="check the service's events and rerun",
            )


class VerifyPrimary(Step):
    """The primary region serves: DB standalone, file system writable, tasks running, a healthy target."""

    actions = ("verify.probe",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.VERIFY_PRIMARY)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"Verify {f.primary.region} serves: DB writable, EFS writable, "
            f"{f.primary.desired_count} healthy tasks"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        ctx.latency.wait("verify.probe")
        t = ft(ctx.topology)
        outcome = StepOutcome(message=f"{t.primary.region} serves")
        seen: list[list[str]] = [[]]

        def serving() -> bool:
            seen[0] = self._problems(ctx, outcome)
            return not seen[0]

        # New tasks pass their first health checks, and the load balancer routes to them, within a few
        # check intervals (ALB: HealthCheckIntervalSeconds x HealthyThresholdCount at most): poll, bounded.
        try:
            poll(ctx, f"{t.primary.region} serving", t.primary.region, serving)
        except FailoverError as e:
            log.info("verify-primary poll ended: %s", e)
        if seen[0]:
            raise FailbackError(
                f"{t.primary.region} does not serve: {'; '.join(seen[0])}.",
                fix="fix the cause and rerun the same command (DNS already points at the primary)",
            )
        return outcome

    def _problems(self, ctx: StepContext, outcome: StepOutcome) -> list[str]:
        t = ft(ctx.topology)
        problems = []
        db = rds_instance(ctx, t.primary.region, t.primary.db_id) or {}
        if (
            db.get("ReadReplicaSourceDBInstanceIdentifier")
            or db.get("DBInstanceStatus") not in WRITABLE_STATUSES
        ):
            problems.append(f"DB {t.primary.db_id} is not a writable standalone instance")
        if t.primary.fs_id:
            fs = ctx.client("efs", t.primary.region).describe_file_systems(FileSystemId=t.primary.fs_id)
            state = fs["FileSystems"][0].get("FileSystemProtection", {}).get("ReplicationOverwriteProtection")
            if state in ("REPLICATING", "DISABLED"):
                problems.append(f"EFS {t.primary.fs_id} is read-only (protection {state})")
        svc = service(ctx, t.primary)
        if svc.get("runningCount", 0) < t.primary.desired_count:
            problems.append(f"{svc.get('runningCount', 0)}/{t.primary.desired_count} tasks running")
        if t.primary.target_group_arn:
            try:
                health = ctx.client("elbv2", t.primary.region).describe_target_health(
                    TargetGroupArn=t.primary.target_group_arn
                )
                states = [d["TargetHealth"]["State"] for d in health.get("TargetHealthDescriptions") or []]
                if "healthy" not in states:
                    problems.append(f"no healthy target ({states or 'none registered'})")
            except ClientError as e:
                if f"target health not readable ({e})" not in outcome.warnings:
                    outcome.warnings.append(f"target health not readable ({e})")
        if t.app_url and not problems:
            # Serving means a client's request through the primary's load balancer succeeds.
            status = _probe(t.app_url, ca_file=t.app_ca_file or None)
            if status is None or not 200 <= status < 400:
                problems.append(f"{t.app_url} does not answer its health check ({status or 'no answer'})")
            else:
                outcome.message = f"{t.primary.region} serves; {t.app_url} answers {status}"
        return problems

    def verify(self, ctx: StepContext) -> None:
        return None
