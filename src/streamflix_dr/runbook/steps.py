"""The failover steps. One class per step, shared by the CLI runner and the in-cloud Lambda.

A step says what it will do (``describe``), knows whether it is already done (``check_done``: the
idempotency check, asked of AWS, not of the journal), does it (``run``) and checks the result
(``verify``). Steps get clients from the factory, region always explicit, and wait through the
injected ``Latency`` (off on real AWS) and AWS's own waiters.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import Role, StepId, stack_name
from streamflix_dr.errors import FailoverError, NotServingError
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts
from streamflix_dr.runbook.topology import OUTPUT_DB_FENCE_SECURITY_GROUP_ID, Topology

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_ONLY_PARAMETER = "default_transaction_read_only"
# The failover pin (BRIEF contract): the DR stack's FailoverPinAlarm watches this metric.
PIN_NAMESPACE = "StreamFlixDR"
PIN_METRIC = "FailoverPin"
# Statuses of a promoted (standalone) instance in which it takes connections and writes. backing-up is
# one: PromoteReadReplica of a replica without automated backups takes a backup right after promotion
# ("we recommend that you enable backups ... prior to promotion",
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html), and a backup
# does not take the instance offline: "storage I/O might be suspended briefly while the backup process
# initializes (typically under a few seconds)"; for PostgreSQL Multi-AZ "I/O activity isn't suspended on
# your primary" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ManagingAutomatedBackups.html,
# "Backup window"). modifying: the instance keeps serving while a modification is applied.
PROMOTED_STATUSES = frozenset({"available", "backing-up", "modifying"})
UNREACHABLE_CODES = frozenset(
    {"ServiceUnavailable", "InternalFailure", "RequestTimeout", "RegionUnavailable"}
)


@dataclass
class StepContext:
    """Everything a step needs: clients, the resources, time."""

    factory: Any
    topology: Topology
    clock: Clock = field(default_factory=Clock)
    latency: Latency = field(default_factory=Latency.off)
    timeouts: Timeouts = field(default_factory=Timeouts)

    def client(self, service: str, region: str) -> Any:
        return self.factory.client(service, region)

    def target(self, service: str) -> Any:
        return self.factory.client(service, self.topology.target_region)

    def source(self, service: str) -> Any:
        return self.factory.client(service, self.topology.source_region)

    def probe_factory(self) -> Any:
        """A factory for the source region that gives up fast: the old primary may be gone."""
        if isinstance(self.factory, ClientFactory):
            return dataclasses.replace(self.factory, max_attempts=2)
        return self.factory


@dataclass
class StepOutcome:
    """What a step's run produced: a message, warnings, measurements (e.g. rpo_seconds)."""

    message: str = ""
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    skipped: bool = False


def is_unreachable(exc: BaseException) -> bool:
    """True when an error means the region does not answer (as opposed to refusing the request)."""
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError
    ):
        return True
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return err.get("Code") in UNREACHABLE_CODES or status >= 500
    return False


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def latest_metric(  # noqa: PLR0917 - mirrors GetMetricStatistics' own arguments
    ctx: StepContext,
    region: str,
    namespace: str,
    name: str,
    dimensions: dict[str, str],
    stat: str = "Maximum",
) -> float | None:
    """The most recent datapoint of a metric in the last 15 minutes, or None."""
    now = datetime.fromtimestamp(ctx.clock.now(), UTC)
    try:
        resp = ctx.client("cloudwatch", region).get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=now - timedelta(minutes=15),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=[stat],
        )
    except (ClientError, BotoCoreError) as e:
        log.warning("cannot read %s/%s in %s: %s", namespace, name, region, e)
        return None
    points = sorted(resp.get("Datapoints") or [], key=lambda p: p["Timestamp"])
    return float(points[-1][stat]) if points else None


def poll(
    ctx: StepContext,
    what: str,
    region: str,
    done: Callable[[], bool],
    *,
    budget_seconds: float | None = None,
) -> None:
    """Poll ``done`` with the waiter delay until it holds or the budget is spent (the waiter budget,
    or ``budget_seconds`` when given)."""
    delay = ctx.timeouts.waiter_delay
    budget = ctx.timeouts.waiter_max_attempts
    if budget_seconds is not None:
        budget = max(1, int(budget_seconds // max(delay, 1e-9)))
    for _ in range(budget):
        if done():
            return
        ctx.clock.sleep(delay)
    raise FailoverError(
        f"{region}: {what} did not happen within {delay * budget:.0f} s.",
        fix="check the resource in the console; rerun the failover to resume",
    )


class Step(ABC):
    """A runbook step: describe, check_done, run, verify."""

    id: StepId
    # Latency-model actions this step waits on, in order; their sum is its expected duration.
    actions: tuple[str, ...] = ()
    region_role = "target"
    # Steps of the same stage that must have finished (done or skipped) before this one starts.
    after: tuple[StepId, ...] = ()

    def expected_seconds(self, latency: Latency) -> float:
        return latency.expected(*self.actions)

    @abstractmethod
    def describe(self, topology: Topology) -> str: ...

    @abstractmethod
    def check_done(self, ctx: StepContext) -> bool: ...

    @abstractmethod
    def run(self, ctx: StepContext) -> StepOutcome: ...

    @abstractmethod
    def verify(self, ctx: StepContext) -> None: ...

    def region(self, topology: Topology) -> str:
        return topology.source_region if self.region_role == "source" else topology.target_region


class FencePrimary(Step):
    """Stop the old primary's writers, time-bounded, in the source region.

    ECS: the scalable target to MinCapacity=MaxCapacity=0 (RegisterScalableTarget moves the current
    capacity inside the new range, and later scaling activities stay inside it) and desired count 0,
    then checked. DB: ``default_transaction_read_only=on`` (soft: a session can ``SET`` it back) and the
    instance's security groups swapped to the fence group (hard: no new connections; tracked, open
    connections are not cut). docs/failover.md, Fencing, says what each does not stop.
    """

    id = StepId.FENCE_PRIMARY
    # Two branches run side by side: ECS (scalable target, then the tasks' stop timeout) and the DB
    # (parameter group, then the security group swap). The step takes the longer of the two.
    ecs_actions = ("application_autoscaling.register_scalable_target", "ecs.stop_tasks")
    db_actions = ("rds.modify_parameter_group", "rds.modify_db_instance_security_groups")
    actions = (*ecs_actions, *db_actions)
    region_role = "source"

    def expected_seconds(self, latency: Latency) -> float:
        return max(latency.expected(*self.ecs_actions), latency.expected(*self.db_actions))

    def describe(self, t: Topology) -> str:
        what = []
        if t.source_ecs_service:
            what.append(
                f"scale ECS service {t.source_ecs_cluster}/{t.source_ecs_service} to 0 and pin its "
                "scalable target to min=max=0"
            )
        if t.source_db_instance_id:
            what.append(f"set {READ_ONLY_PARAMETER}=on on {t.source_db_instance_id}'s parameter group")
            if t.source_db_fence_security_group_id:
                sg = t.source_db_fence_security_group_id
                what.append(f"swap {t.source_db_instance_id}'s security groups to {sg}")
        body = " and ".join(what) or "nothing known to fence"
        return f"Fence the old primary in {t.source_region}: {body} (skipped with a warning if it is down)"

    def check_done(self, ctx: StepContext) -> bool:
        # Every action is idempotent and the region may be gone: run() decides, within its time bound.
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        factory = ctx.probe_factory()
        outcome = StepOutcome()
        waited: dict[str, float] = {}
        # The fence runs in daemon threads so an unresponsive region cannot hold the failover past the
        # bound; the two branches (ECS, DB) run side by side.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="fence")
        futures = [
            pool.submit(self._branch, ctx, "ecs", self._fence_ecs, factory, outcome, waited),
            pool.submit(self._branch, ctx, "db", self._fence_db, factory, outcome, waited),
        ]
        try:
            done, pending = concurrent.futures.wait(futures, timeout=ctx.timeouts.fence_seconds)
            for f in done:
                f.result()
            if pending:
                raise concurrent.futures.TimeoutError
        except concurrent.futures.TimeoutError:
            outcome.warnings.append(
                f"{t.source_region} silent for {ctx.timeouts.fence_seconds:.0f} s: fencing skipped. "
                "Make sure the old primary cannot take writes when it returns (docs/failover.md, Fencing)."
            )
            outcome.skipped = True
        except (ClientError, BotoCoreError) as e:
            if not is_unreachable(e):
                raise FailoverError(
                    f"{t.source_region}: fencing the old primary failed ({e}).",
                    fix="fix the cause and rerun, or rerun with --skip-fence and fence by hand (see "
                    "docs/failover.md)",
                ) from e
            outcome.warnings.append(
                f"{t.source_region} does not answer ({e.__class__.__name__}): fencing skipped. "
                "Make sure the old primary cannot take writes when it returns (docs/failover.md, Fencing)."
            )
            outcome.skipped = True
        finally:
            pool.shutdown(wait=False)
        # The branches waited in their own threads: book the longer one on the runner's thread.
        ctx.latency.book(max(waited.values(), default=0.0))
        if not outcome.skipped:
            outcome.message = "old primary fenced"
        return outcome

    @staticmethod
    def _branch(  # noqa: PLR0917 - a thread target, called positionally by the pool
        ctx: StepContext,
        name: str,
        fn: Callable[[StepContext, Any, StepOutcome], None],
        factory: Any,
        outcome: StepOutcome,
        waited: dict[str, float],
    ) -> None:
        try:
            fn(ctx, factory, outcome)
        finally:
            waited[name] = ctx.latency.take_waited()

    def _fence_ecs(self, ctx: StepContext, factory: Any, outcome: StepOutcome) -> None:
        t = ctx.topology
        if not (t.source_ecs_cluster and t.source_ecs_service):
            outcome.warnings.append("the primary's ECS service is unknown: not scaled to 0")
            return
        resource_id = f"service/{t.source_ecs_cluster}/{t.source_ecs_service}"
        aas = factory.client("application-autoscaling", t.source_region)
        # Min=Max=0 first: RegisterScalableTarget "changes the resource's current capacity to a value
        # that is inside of this range", and no later scaling activity leaves it (errata §4: desired
        # count alone is undone by the next scaling activity).
        # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
        aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource_id,
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=0,
            MaxCapacity=0,
        )
        ctx.latency.wait("application_autoscaling.register_scalable_target")
        ecs = factory.client("ecs", t.source_region)
        ecs.update_service(cluster=t.source_ecs_cluster, service=t.source_ecs_service, desiredCount=0)
        ctx.latency.wait("ecs.stop_tasks")
        # Verify the fence held after the scaling activity: the target pinned, the service at 0.
        targets = (
            aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id]).get(
                "ScalableTargets"
            )
            or []
        )
        pinned = [
            st
            for st in targets
            if st.get("ScalableDimension", "ecs:service:DesiredCount") == "ecs:service:DesiredCount"
        ]
        if not pinned or any(st["MinCapacity"] != 0 or st["MaxCapacity"] != 0 for st in pinned):
            raise FailoverError(
                f"{t.source_region}: the scalable target of {resource_id} is not min=max=0 after the fence "
                f"({[(st['MinCapacity'], st['MaxCapacity']) for st in pinned]}).",
                fix="set it by hand (aws application-autoscaling register-scalable-target --min-capacity 0 "
                "--max-capacity 0) and rerun",
            )
        svc = (
            ecs.describe_services(cluster=t.source_ecs_cluster, services=[t.source_ecs_service]).get(
                "services"
            )
            or [{}]
        )[0]
        if svc.get("desiredCount", 0) != 0:
            raise FailoverError(
                f"{t.source_region}: {resource_id} wants {svc.get('desiredCount')} tasks after the fence: "
                "something scaled it back.",
                fix="find what scales it (scheduled actions, another pipeline), stop it, and rerun",
            )
        if svc.get("runningCount", 0):
            outcome.warnings.append(
                f"{resource_id}: {svc['runningCount']} task(s) still stopping after the stop timeout"
            )

    def _fence_db(self, ctx: StepContext, factory: Any, outcome: StepOutcome) -> None:
        t = ctx.topology
        if not t.source_db_instance_id:
            outcome.warnings.append("the primary DB is unknown: not made read-only")
            return
        rds = factory.client("rds", t.source_region)
        dbs = rds.describe_db_instances(DBInstanceIdentifier=t.source_db_instance_id)["DBInstances"]
        groups = [g["DBParameterGroupName"] for g in dbs[0].get("DBParameterGroups") or []] if dbs else []
        if not groups or groups[0].startswith("default."):
            outcome.warnings.append(
                f"{t.source_db_instance_id} uses a default parameter group, which cannot be modified: "
                f"{READ_ONLY_PARAMETER} not set"
            )
        else:
            # Soft: a dynamic parameter, applied at once, but any session can SET it back off.
            rds.modify_db_parameter_group(
                DBParameterGroupName=groups[0],
                Parameters=[
                    {"ParameterName": READ_ONLY_PARAMETER, "ParameterValue": "on", "ApplyMethod": "immediate"}
                ],
            )
            ctx.latency.wait("rds.modify_parameter_group")
        fence_sg = (
            t.source_db_fence_security_group_id
            or self._fence_group_by_name(ctx, factory)
            or self._fence_group_from_stack(ctx, factory)
        )
        if not fence_sg:
            outcome.warnings.append(
                f"no fence security group known (primary output DbFenceSecurityGroupId): "
                f"{t.source_db_instance_id} still accepts new connections"
            )
            return
        # Hard: the fence group has no ingress rule, so no new connection reaches the DB. Tracked,
        # established connections are not cut by a security group change: "its tracked connections are
        # not immediately interrupted ... until existing connections time out"
        # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).
        # VpcSecurityGroupIds, ApplyImmediately:
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
        rds.modify_db_instance(
            DBInstanceIdentifier=t.source_db_instance_id,
            VpcSecurityGroupIds=[fence_sg],
            ApplyImmediately=True,
        )
        ctx.latency.wait("rds.modify_db_instance_security_groups")
        # The old groups show as "removing" (the new one "adding") until RDS has applied the change;
        # the fence holds once the fence group is the only one and active. Polled within the fence's
        # bound (the branch is abandoned when the bound runs out).
        delay = max(0.05, min(5.0, ctx.timeouts.waiter_delay))
        now: list[str] = []
        for _ in range(max(1, int(ctx.timeouts.fence_seconds // delay))):
            db = rds.describe_db_instances(DBInstanceIdentifier=t.source_db_instance_id)["DBInstances"][0]
            groups = db.get("VpcSecurityGroups") or []
            now = [str(g.get("VpcSecurityGroupId")) for g in groups]
            if now == [fence_sg] and all(g.get("Status", "active") == "active" for g in groups):
                return
            ctx.clock.sleep(delay)
        if now != [fence_sg]:
            raise FailoverError(
                f"{t.source_region}: {t.source_db_instance_id} has security groups {now} after the fence, "
                f"not only {fence_sg}.",
                fix="check the instance's events and rerun",
            )

    @staticmethod
    def _fence_group_by_name(ctx: StepContext, factory: Any) -> str:
        """The fence group's id from its name (the in-cloud run: the failover role may
        ec2:DescribeSecurityGroups, not cloudformation:DescribeStacks on the primary stack)."""
        t = ctx.topology
        if not t.source_db_fence_security_group_name:
            return ""
        try:
            groups = factory.client("ec2", t.source_region).describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [t.source_db_fence_security_group_name]}]
            )["SecurityGroups"]
        except ClientError as e:
            log.warning("fence group %s not readable: %s", t.source_db_fence_security_group_name, e)
            return ""
        return str(groups[0]["GroupId"]) if len(groups) == 1 else ""

    @staticmethod
    def _fence_group_from_stack(ctx: StepContext, factory: Any) -> str:
        """The primary stack's DbFenceSecurityGroupId output (the in-cloud run has no primary outputs:
        when the fence runs the primary region answers, so its stack can be read then)."""
        t = ctx.topology
        try:
            resp = factory.client("cloudformation", t.source_region).describe_stacks(
                StackName=stack_name(Role.PRIMARY, t.suffix)
            )
        except ClientError as e:
            log.warning("primary stack outputs not readable for the fence group: %s", e)
            return ""
        outputs = (resp.get("Stacks") or [{}])[0].get("Outputs") or []
        return next(
            (
                str(o.get("OutputValue", ""))
                for o in outputs
                if o.get("OutputKey") == OUTPUT_DB_FENCE_SECURITY_GROUP_ID
            ),
            "",
        )

    def verify(self, ctx: StepContext) -> None:
        # Verified in run() when the region answered; when it did not, there is nothing to check.
        return None


class PromoteDb(Step):
    """Promote the RDS read replica in the target region to a standalone, writable instance."""

    id = StepId.PROMOTE_DB
    actions = ("rds.promote_read_replica",)

    def describe(self, t: Topology) -> str:
        return f"Promote RDS read replica {t.target_db_instance_id} in {t.target_region} to standalone"

    def _instance(self, ctx: StepContext) -> dict[str, Any]:
        t = ctx.topology
        try:
            dbs = ctx.target("rds").describe_db_instances(DBInstanceIdentifier=t.target_db_instance_id)
        except ClientError as e:
            raise FailoverError(
                f"{t.target_region}: cannot read DB instance {t.target_db_instance_id} ({e}).",
                fix="check the DR stack's DbInstanceIdentifier output",
            ) from e
        return dict(dbs["DBInstances"][0])

    def check_done(self, ctx: StepContext) -> bool:
        db = self._instance(ctx)
        return not db.get("ReadReplicaSourceDBInstanceIdentifier") and (
            db.get("DBInstanceStatus") in PROMOTED_STATUSES
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        if not t.target_db_instance_id:
            raise FailoverError(
                f"{t.target_region}: no DB instance to promote.",
                fix="deploy the DR stack in its full phase (it creates the replica)",
            )
        outcome = StepOutcome()
        # One explicit budget for the step's waits (before and after the call): promote_poll_seconds.
        started = ctx.clock.monotonic()
        budget = ctx.timeouts.promote_poll_seconds
        lag = latest_metric(
            ctx, t.target_region, "AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": t.target_db_instance_id}
        )
        outcome.metrics["rpo_seconds"] = lag
        if lag is None:
            outcome.warnings.append("no ReplicaLag datapoint in the last 15 minutes: RDS RPO unknown")
        db = self._instance(ctx)
        if not db.get("ReadReplicaSourceDBInstanceIdentifier"):
            outcome.message = "already standalone"
            return outcome
        rds = ctx.target("rds")
        if db.get("DBInstanceStatus") != "available":
            # Promotion fails while the replica is backing-up or modifying [API PromoteReadReplica]. A run
            # that was stopped after its PromoteReadReplica call finds the replica modifying or rebooting
            # with its link still there: wait until it is available (promote then) or the link is gone
            # (the earlier call is taking effect: do not call again).
            poll(
                ctx,
                f"{t.target_db_instance_id} becoming available or standalone",
                t.target_region,
                lambda: self._available_or_standalone(ctx),
                budget_seconds=budget,
            )
            db = self._instance(ctx)
        if db.get("ReadReplicaSourceDBInstanceIdentifier"):
            try:
                rds.promote_read_replica(
                    DBInstanceIdentifier=t.target_db_instance_id, BackupRetentionPeriod=7
                )
            except (ClientError, BotoCoreError) as e:
                raise FailoverError(
                    f"{t.target_region}: promoting {t.target_db_instance_id} failed ({e}).",
                    fix="read the error; the journal is kept, rerun `streamflix-dr failover` to resume",
                ) from e
            ctx.latency.wait("rds.promote_read_replica")
        # The instance may still read "available" right after the call; done means standalone and in a
        # status that takes connections. A replica without backups passes through backing-up after the
        # promotion (the backup RDS takes then); waiting that out could outlast the Lambda's 900 s, so
        # the poll has its own, explicit budget and backing-up counts as promoted.
        poll(
            ctx,
            f"{t.target_db_instance_id} becoming a standalone instance",
            t.target_region,
            lambda: self.check_done(ctx),
            budget_seconds=max(ctx.timeouts.waiter_delay, budget - (ctx.clock.monotonic() - started)),
        )
        outcome.message = f"promoted (replica lag at promotion: {lag if lag is not None else 'unknown'} s)"
        return outcome

    def _available_or_standalone(self, ctx: StepContext) -> bool:
        db = self._instance(ctx)
        return db.get("DBInstanceStatus") == "available" or not db.get(
            "ReadReplicaSourceDBInstanceIdentifier"
        )

    def verify(self, ctx: StepContext) -> None:
        db = self._instance(ctx)
        if db.get("ReadReplicaSourceDBInstanceIdentifier"):
            raise FailoverError(
                f"{ctx.topology.target_region}: {ctx.topology.target_db_instance_id} is still a replica of "
                f"{db['ReadReplicaSourceDBInstanceIdentifier']}.",
                fix="wait for the promotion to finish, then rerun to resume",
            )


class FailoverEfs(Step):
    """Delete the EFS replication so the DR file system becomes writable."""

    id = StepId.FAILOVER_EFS
    actions = ("efs.delete_replication_configuration",)

    def describe(self, t: Topology) -> str:
        return (
            f"Delete EFS replication into {t.target_file_system_id} ({t.target_region}): it becomes writable"
        )

    def _replication(self, ctx: StepContext) -> dict[str, Any] | None:
        fs = ctx.topology.target_file_system_id
        try:
            reps = (
                ctx.target("efs").describe_replication_configurations(FileSystemId=fs).get("Replications")
                or []
            )
        except ClientError as e:
            if error_code(e) in ("ReplicationNotFound", "FileSystemNotFound"):
                return None
            raise
        return dict(reps[0]) if reps else None

    def check_done(self, ctx: StepContext) -> bool:
        return bool(ctx.topology.target_file_system_id) and self._replication(ctx) is None

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        if not t.target_file_system_id:
            return StepOutcome(
                message="no file system",
                skipped=True,
                metrics={"rpo_seconds": None},
                warnings=["no DR file system known (FileSystemId output): EFS not failed over"],
            )
        outcome = StepOutcome()
        rep = self._replication(ctx)
        if rep is None:
            outcome.message = "no replication (already failed over)"
            return outcome
        last = next(
            (
                d.get("LastReplicatedTimestamp")
                for d in rep.get("Destinations") or []
                if d.get("LastReplicatedTimestamp")
            ),
            None,
        )
        if last is not None:
            outcome.metrics["rpo_seconds"] = max(0.0, ctx.clock.now() - last.timestamp())
        else:
            outcome.metrics["rpo_seconds"] = latest_metric(
                ctx,
                t.target_region,
                "AWS/EFS",
                "TimeSinceLastSync",
                {
                    "FileSystemId": rep.get("SourceFileSystemId", ""),
                    "DestinationFileSystemId": t.target_file_system_id,
                },
            )
        if outcome.metrics["rpo_seconds"] is None:
            outcome.warnings.append("no LastReplicatedTimestamp or TimeSinceLastSync: EFS RPO unknown")
        efs = ctx.target("efs")
        try:
            efs.delete_replication_configuration(SourceFileSystemId=t.target_file_system_id)
        except ClientError as e:
            if error_code(e) == "ReplicationNotFound":
                outcome.message = "replication already gone"
                return outcome
            if not is_unreachable(e) and error_code(e) not in (
                "BadRequest",
                "IncorrectFileSystemLifeCycleState",
            ):
                raise FailoverError(
                    f"{t.target_region}: deleting EFS replication of {t.target_file_system_id} failed ({e}).",
                    fix="read the error; rerun to resume",
                ) from e
            # The source region cannot take part: delete this side only [API DeleteReplicationConfiguration].
            efs.delete_replication_configuration(
                SourceFileSystemId=t.target_file_system_id, DeletionMode="LOCAL_CONFIGURATION_ONLY"
            )
            outcome.warnings.append("the source region could not take part: deleted the DR side only")
        ctx.latency.wait("efs.delete_replication_configuration")
        poll(
            ctx,
            f"EFS replication of {t.target_file_system_id} going away",
            t.target_region,
            lambda: self._replication(ctx) is None,
        )
        outcome.message = "replication deleted; file system writable"
        return outcome

    def verify(self, ctx: StepContext) -> None:
        t = ctx.topology
        if not t.target_file_system_id:
            return
        if self._replication(ctx) is not None:
            raise FailoverError(
                f"{t.target_region}: {t.target_file_system_id} is still a replication destination.",
                fix="wait a few minutes (EFS takes several) and rerun to resume",
            )
        fs = ctx.target("efs").describe_file_systems(FileSystemId=t.target_file_system_id)["FileSystems"][0]
        state = fs.get("FileSystemProtection", {}).get("ReplicationOverwriteProtection")
        if state == "REPLICATING":
            raise FailoverError(
                f"{t.target_region}: {t.target_file_system_id} still reports REPLICATING.",
                fix="wait a few minutes and rerun to resume",
            )


class FailoverRedis(Step):
    """Promote the Redis secondary of the Global Datastore; without one, the DR cache starts empty."""

    id = StepId.FAILOVER_REDIS
    actions = ("elasticache.failover_global_replication_group",)

    def describe(self, t: Topology) -> str:
        if not t.global_datastore_id:
            return (
                f"Redis: Global Datastore off, the DR cache {t.target_redis_group_id} starts empty (warning)"
            )
        return (
            f"Fail Global Datastore {t.global_datastore_id} over to {t.target_redis_group_id} "
            f"in {t.target_region}"
        )

    def _member_role(self, ctx: StepContext) -> str | None:
        t = ctx.topology
        try:
            groups = ctx.target("elasticache").describe_global_replication_groups(
                GlobalReplicationGroupId=t.global_datastore_id, ShowMemberInfo=True
            )["GlobalReplicationGroups"]
        except ClientError as e:
            if error_code(e) == "GlobalReplicationGroupNotFoundFault":
                return "DISASSOCIATED"
            raise
        for member in groups[0].get("Members") or [] if groups else []:
            if member.get("ReplicationGroupId") == t.target_redis_group_id:
                return str(member.get("Role", "")).upper()
        return "DISASSOCIATED"

    def check_done(self, ctx: StepContext) -> bool:
        if not ctx.topology.global_datastore_id:
            return False
        return self._member_role(ctx) in ("PRIMARY", "DISASSOCIATED")

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        if not t.global_datastore_id:
            return StepOutcome(
                message="cache starts empty",
                warnings=[
                    "Global Datastore is off: the DR Redis starts empty and the app refills it from the "
                    "database (expect a slower start)"
                ],
                metrics={"rpo_seconds": None},
                skipped=True,
            )
        outcome = StepOutcome()
        outcome.metrics["rpo_seconds"] = latest_metric(
            ctx,
            t.target_region,
            "AWS/ElastiCache",
            "GlobalDatastoreReplicationLag",
            # Host-level ElastiCache metrics are per node (CacheClusterId); <group>-001 is the DR group's
            # first node. Unverified against AWS: without a datapoint the report says "unknown".
            {"CacheClusterId": f"{t.target_redis_group_id}-001"},
            stat="Maximum",
        )
        ec = ctx.target("elasticache")
        try:
            ec.failover_global_replication_group(
                GlobalReplicationGroupId=t.global_datastore_id,
                PrimaryRegion=t.target_region,
                PrimaryReplicationGroupId=t.target_redis_group_id,
            )
            outcome.message = "secondary promoted to primary"
        except ClientError as e:
            if error_code(e) != "InvalidGlobalReplicationGroupState" and not is_unreachable(e):
                raise FailoverError(
                    f"{t.target_region}: Global Datastore failover failed ({e}).",
                    fix="rerun to resume; see docs/failover.md for the manual command",
                ) from e
            # With the primary region down a coordinated failover cannot run: detach the secondary instead,
            # which leaves it a standalone writable group [API DisassociateGlobalReplicationGroup].
            ec.disassociate_global_replication_group(
                GlobalReplicationGroupId=t.global_datastore_id,
                ReplicationGroupId=t.target_redis_group_id,
                ReplicationGroupRegion=t.target_region,
            )
            outcome.warnings.append(
                f"coordinated failover refused ({error_code(e)}): secondary disassociated"
            )
            outcome.message = "secondary disassociated (standalone)"
        ctx.latency.wait("elasticache.failover_global_replication_group")
        poll(
            ctx,
            f"{t.target_redis_group_id} becoming primary",
            t.target_region,
            lambda: self._member_role(ctx) in ("PRIMARY", "DISASSOCIATED"),
        )
        return outcome

    def verify(self, ctx: StepContext) -> None:
        t = ctx.topology
        if t.global_datastore_id and self._member_role(ctx) not in ("PRIMARY", "DISASSOCIATED"):
            raise FailoverError(
                f"{t.target_region}: {t.target_redis_group_id} is not primary yet.",
                fix="wait and rerun to resume",
            )


class StopSecretReplication(Step):
    """Make the DR copies of the secrets standalone so they no longer depend on the old primary."""

    id = StepId.STOP_SECRET_REPLICATION
    actions = ("secretsmanager.stop_replication_to_replica",)

    def describe(self, t: Topology) -> str:
        return f"Stop replication of {', '.join(t.secret_names) or 'no secrets'} in {t.target_region}"

    def _replicas(self, ctx: StepContext) -> list[str]:
        t = ctx.topology
        sm = ctx.target("secretsmanager")
        out = []
        for name in t.secret_names:
            try:
                desc = sm.describe_secret(SecretId=name)
            except ClientError as e:
                raise FailoverError(
                    f"{t.target_region}: secret {name} is not readable ({e}).",
                    fix="check the secret was replicated (streamflix-dr readiness)",
                ) from e
            primary = desc.get("PrimaryRegion")
            if primary and primary != t.target_region:
                out.append(name)
        return out

    def check_done(self, ctx: StepContext) -> bool:
        return not self._replicas(ctx)

    def run(self, ctx: StepContext) -> StepOutcome:
        sm = ctx.target("secretsmanager")
        stopped = []
        for name in self._replicas(ctx):
            sm.stop_replication_to_replica(SecretId=name)
            ctx.latency.wait("secretsmanager.stop_replication_to_replica")
            stopped.append(name)
        return StepOutcome(message=f"standalone: {', '.join(stopped) or 'none needed'}")

    def verify(self, ctx: StepContext) -> None:
        left = self._replicas(ctx)
        if left:
            raise FailoverError(
                f"{ctx.topology.target_region}: still replicas: {', '.join(left)}.", fix="rerun to resume"
            )


class ScaleEcs(Step):
    """Scale the DR ECS service to the primary's capacity and keep the autoscaler from scaling it back in."""

    id = StepId.SCALE_ECS
    actions = ("ecs.scale_out",)

    def describe(self, t: Topology) -> str:
        return (
            f"Scale ECS service {t.target_ecs_cluster}/{t.target_ecs_service} in {t.target_region} "
            f"to {t.desired_count} tasks"
        )

    def _service(self, ctx: StepContext) -> dict[str, Any]:
        t = ctx.topology
        services = ctx.target("ecs").describe_services(
            cluster=t.target_ecs_cluster, services=[t.target_ecs_service]
        )["services"]
        if not services:
            raise FailoverError(
                f"{t.target_region}: ECS service {t.target_ecs_service} not found.",
                fix="check the DR stack's EcsServiceName output",
            )
        return dict(services[0])

    def check_done(self, ctx: StepContext) -> bool:
        svc = self._service(ctx)
        want = ctx.topology.desired_count
        return svc.get("desiredCount", 0) >= want and svc.get("runningCount", 0) >= want

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        outcome = StepOutcome()
        resource_id = f"service/{t.target_ecs_cluster}/{t.target_ecs_service}"
        aas = ctx.target("application-autoscaling")
        try:
            targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])
            for st in targets.get("ScalableTargets") or []:
                if st["MinCapacity"] < t.desired_count:
                    aas.register_scalable_target(
                        ServiceNamespace="ecs",
                        ResourceId=resource_id,
                        ScalableDimension="ecs:service:DesiredCount",
                        MinCapacity=t.desired_count,
                        MaxCapacity=max(st["MaxCapacity"], t.desired_count),
                    )
        except ClientError as e:
            outcome.warnings.append(f"could not raise the autoscaling minimum ({e}); it may scale back in")
        svc = self._service(ctx)
        # Events written before this update (a tolerance for clock skew) say nothing about it.
        since = datetime.now(UTC) - timedelta(seconds=30)
        ctx.target("ecs").update_service(
            cluster=t.target_ecs_cluster,
            service=t.target_ecs_service,
            desiredCount=max(svc.get("desiredCount", 0), t.desired_count),
        )
        ctx.latency.wait("ecs.scale_out")
        # As the services_stable waiter (one deployment, running == desired), but a deployment that cannot
        # start tasks ends the wait at once instead of after the waiter's whole budget: the circuit breaker
        # marks it rolloutState FAILED, and ECS writes the task's stoppedReason (CannotPullContainerError,
        # ResourceInitializationError) into the service events
        # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html).
        poll(
            ctx,
            f"ECS service {t.target_ecs_service} running {t.desired_count} tasks",
            t.target_region,
            lambda: self._stable_or_failed(ctx, since),
        )
        outcome.message = f"running {t.desired_count} tasks"
        return outcome

    def _stable_or_failed(self, ctx: StepContext, since: datetime) -> bool:
        t = ctx.topology
        svc = self._service(ctx)
        deployments = svc.get("deployments") or []
        for d in deployments:
            if d.get("status") == "PRIMARY" and d.get("rolloutState") == "FAILED":
                raise FailoverError(
                    f"{t.target_region}: ECS service {t.target_ecs_service} cannot start its tasks "
                    f"({d.get('rolloutStateReason') or 'deployment failed'}).",
                    fix="read the service events (is the image in the DR region's ECR repository?); push "
                    "it there and rerun the failover: it resumes at this step",
                )
        for ev in svc.get("events") or []:
            created = ev.get("createdAt")
            message = str(ev.get("message", ""))
            if isinstance(created, datetime) and created < since:
                break  # newest first: the rest are older
            if ") has started " in message:
                break  # tasks started after the older failures below: those say nothing about now
            if "CannotPullContainerError" in message or "ResourceInitializationError" in message:
                raise FailoverError(
                    f"{t.target_region}: ECS service {t.target_ecs_service} cannot start its tasks: "
                    f"{message}",
                    fix="push the application image to the DR region's ECR repository (README, 'Publish "
                    "the image') and rerun the failover: it resumes at this step",
                )
        return len(deployments) <= 1 and svc.get("runningCount", 0) >= max(
            t.desired_count, svc.get("desiredCount", 0)
        )

    def verify(self, ctx: StepContext) -> None:
        svc = self._service(ctx)
        if svc.get("runningCount", 0) < ctx.topology.desired_count:
            raise FailoverError(
                f"{ctx.topology.target_region}: {ctx.topology.target_ecs_service} runs "
                f"{svc.get('runningCount', 0)}/{ctx.topology.desired_count} tasks.",
                fix="check the service events and rerun",
            )


def _dns_name(value: str) -> str:
    """A DNS name compared as Route 53 answers it: lower case, no trailing dot, no dualstack. prefix."""
    name = value.strip().lower().rstrip(".")
    return name.removeprefix("dualstack.")


class SwitchDns(Step):
    """Pin the domain to the DR region: publish StreamFlixDR/FailoverPin=1 in the DR region.

    The DR stack's FailoverPinAlarm (Maximum >= 1, period 60 s) goes to ALARM; the primary's
    FailoverPinHealthCheck (CLOUDWATCH_METRIC) turns unhealthy and with it PrimaryRoutingHealthCheck
    (CALCULATED, both children needed), which the PRIMARY failover record uses: Route 53 answers with the
    SECONDARY. A data-plane action (CloudWatch PutMetricData), no Route 53 control-plane call, nothing
    inverted: it holds whether the primary is healthy, dead, half up or recovering. Done means Route 53
    answers with the DR load balancer (TestDNSAnswer), not that a flag was set.
    """

    id = StepId.SWITCH_DNS
    actions = ("cloudwatch.alarm_evaluation", "route53.alarm_health_check_detection", "route53.dns_ttl")
    # Never point DNS at DR while the old primary may still take writes: the fence has run (or was
    # skipped because the region does not answer) first. Reads DR serves before the promotion ends are
    # served by the read replica, read-only.
    after = (StepId.FENCE_PRIMARY,)

    def describe(self, t: Topology) -> str:
        if not (t.hosted_zone_id and t.domain_name):
            return "DNS: no domain configured; clients use the DR load balancer URL (nothing to switch)"
        return (
            f"Point {t.domain_name} at {t.target_region}: put {PIN_NAMESPACE}/{PIN_METRIC}=1 "
            f"(Environment={t.suffix}) in {t.pin_region}; the pin alarm makes the PRIMARY record's health "
            "check unhealthy and Route 53 answers with the SECONDARY (checked with TestDNSAnswer)"
        )

    def _records(self, ctx: StepContext) -> dict[str, dict[str, Any]]:
        """The failover records of the domain by role (PRIMARY, SECONDARY)."""
        t = ctx.topology
        name = t.domain_name.rstrip(".") + "."
        resp = ctx.client("route53", t.target_region).list_resource_record_sets(
            HostedZoneId=t.hosted_zone_id, StartRecordName=name, MaxItems="20"
        )
        return {
            str(rs["Failover"]): dict(rs)
            for rs in resp.get("ResourceRecordSets") or []
            if rs.get("Name") == name and rs.get("Failover") in ("PRIMARY", "SECONDARY")
        }

    @staticmethod
    def _values(rs: dict[str, Any] | None) -> set[str]:
        if not rs:
            return set()
        alias = (rs.get("AliasTarget") or {}).get("DNSName")
        if alias:
            return {_dns_name(alias)}
        return {_dns_name(r["Value"]) for r in rs.get("ResourceRecords") or []}

    def answer(self, ctx: StepContext) -> tuple[str, str]:
        """("dr" | "primary" | "unknown", detail): where Route 53 sends the domain now [TestDNSAnswer]."""
        t = ctx.topology
        records = self._records(ctx)
        dr = self._values(records.get("SECONDARY"))
        if t.target_load_balancer_dns_name:
            dr.add(_dns_name(t.target_load_balancer_dns_name))
        primary = self._values(records.get("PRIMARY"))
        try:
            # What Route 53 would answer a resolver now (health checks and failover routing applied).
            # https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html
            resp = ctx.client("route53", t.target_region).test_dns_answer(
                HostedZoneId=t.hosted_zone_id, RecordName=t.domain_name.rstrip("."), RecordType="A"
            )
        except (ClientError, BotoCoreError, NotImplementedError) as e:
            return "unknown", f"Route 53 did not answer TestDNSAnswer ({e})"
        got = {_dns_name(v) for v in resp.get("RecordData") or []}
        if not got:
            return "unknown", f"TestDNSAnswer returned no record data ({resp.get('ResponseCode', '?')})"
        if got & dr and not got & primary:
            return "dr", f"{t.domain_name} answers {sorted(got)} (the DR load balancer)"
        if got & primary:
            return "primary", f"{t.domain_name} still answers {sorted(got)} (the primary)"
        # An alias to a load balancer is answered with its addresses: compare with what the DR and
        # primary names resolve to, where this host can resolve them.
        dr_ips, primary_ips = _resolve(dr), _resolve(primary)
        if got & dr_ips and not got & primary_ips:
            return "dr", f"{t.domain_name} answers {sorted(got)} (addresses of the DR load balancer)"
        if got & primary_ips:
            return "primary", f"{t.domain_name} still answers {sorted(got)} (addresses of the primary)"
        return (
            "unknown",
            f"{t.domain_name} answers {sorted(got)}, neither region's load balancer as known here",
        )

    def _pin_check(self, ctx: StepContext) -> tuple[str, str]:
        """(routing health check id, its CLOUDWATCH_METRIC child) of the PRIMARY record; '' when absent."""
        t = ctx.topology
        rs = self._records(ctx).get("PRIMARY") or {}
        routing = str(rs.get("HealthCheckId") or t.source_health_check_id or "")
        if not routing:
            return "", ""
        r53 = ctx.client("route53", t.target_region)
        cfg = r53.get_health_check(HealthCheckId=routing)["HealthCheck"]["HealthCheckConfig"]
        if cfg.get("Inverted"):
            raise FailoverError(
                f"health check {routing} of {t.domain_name}'s PRIMARY record is inverted: an inverted check "
                "reports a dead primary as healthy and failover routing can send users back to it.",
                fix=f"aws route53 update-health-check --health-check-id {routing} --no-inverted, then rerun",
            )
        if cfg.get("Type") == "CLOUDWATCH_METRIC":
            return routing, routing
        for child in cfg.get("ChildHealthChecks") or []:
            child_cfg = r53.get_health_check(HealthCheckId=child)["HealthCheck"]["HealthCheckConfig"]
            if child_cfg.get("Type") == "CLOUDWATCH_METRIC":
                return routing, str(child)
        return routing, ""

    def _reads_unhealthy(self, ctx: StepContext, hc: str) -> bool | None:
        """True when Route 53's checkers report ``hc`` unhealthy (18 % or fewer healthy); None if unknown.

        GetHealthCheckStatus does not report calculated checks, so the pin's CLOUDWATCH_METRIC child is
        read (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html)."""
        try:
            obs = (
                ctx.client("route53", ctx.topology.target_region)
                .get_health_check_status(HealthCheckId=hc)
                .get("HealthCheckObservations")
                or []
            )
        except (ClientError, BotoCoreError) as e:
            log.warning("health check %s status not readable: %s", hc, e)
            return None
        if not obs:
            return None
        healthy = sum(
            1 for o in obs if str(o.get("StatusReport", {}).get("Status", "")).startswith("Success")
        )
        # "If 18% of health checkers or fewer report that an endpoint is healthy, Route 53 considers it
        # unhealthy" (Route 53 DG, dns-failover-determining-health-of-endpoints).
        return healthy / len(obs) <= 0.18

    def check_done(self, ctx: StepContext) -> bool:
        t = ctx.topology
        if not (t.hosted_zone_id and t.domain_name):
            return False
        return self.answer(ctx)[0] == "dr"

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        if not (t.hosted_zone_id and t.domain_name):
            return StepOutcome(
                message="no domain",
                skipped=True,
                warnings=[
                    f"no DNS name configured: clients must use the DR load balancer ({t.app_url or 'AppUrl'})"
                ],
            )
        routing, pin = self._pin_check(ctx)
        if not routing:
            raise FailoverError(
                f"no PRIMARY failover record with a health check for {t.domain_name}.",
                fix="deploy the primary stack with HostedZoneId/DomainName set, or point DNS by "
                "hand (docs/failover.md)",
            )
        outcome = StepOutcome()
        if not pin:
            outcome.warnings.append(
                f"health check {routing} of the PRIMARY record has no CLOUDWATCH_METRIC (pin) child: "
                "the pin cannot move DNS; deploy the primary stack with the current template"
            )
        # The switch itself: one datapoint in the DR region's CloudWatch (data plane).
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
        ctx.client("cloudwatch", t.pin_region).put_metric_data(
            Namespace=PIN_NAMESPACE,
            MetricData=[
                {
                    "MetricName": PIN_METRIC,
                    "Dimensions": [{"Name": "Environment", "Value": t.suffix}],
                    "Value": 1.0,
                    "Unit": "Count",
                }
            ],
        )
        ctx.latency.wait("cloudwatch.alarm_evaluation")
        ctx.latency.wait("route53.alarm_health_check_detection")
        state, detail = "unknown", ""
        unhealthy: bool | None = None
        for _ in range(max(1, ctx.timeouts.waiter_max_attempts)):
            state, detail = self.answer(ctx)
            if state == "dr":
                break
            if state == "unknown":
                # Without TestDNSAnswer, the pin check's own status is the next best witness.
                unhealthy = self._reads_unhealthy(ctx, pin) if pin else None
                if unhealthy is not False:
                    break
            ctx.clock.sleep(ctx.timeouts.waiter_delay)
        if state == "primary":
            raise FailoverError(
                f"{detail} after the pin was set.",
                fix=f"check the pin alarm ({PIN_NAMESPACE}/{PIN_METRIC}) in {t.pin_region} is in ALARM and "
                f"health check {pin or routing} is unhealthy; rerun to resume",
            )
        if state == "unknown":
            if unhealthy is False:
                raise FailoverError(
                    f"{detail}, and health check {pin} (the failover pin) still reads healthy.",
                    fix=f"check the pin alarm in {t.pin_region}; rerun to resume",
                )
            seen = "the pin check reads unhealthy" if unhealthy else "the pin check's status is unknown"
            outcome.warnings.append(
                f"DNS answer not confirmed: {detail}; {seen}. Check with dig once resolvers expire"
            )
        # Resolvers may hold the old answer for the record's TTL.
        ctx.latency.wait("route53.dns_ttl")
        outcome.message = detail if state == "dr" else f"pin set in {t.pin_region}; {detail}"
        return outcome

    def verify(self, ctx: StepContext) -> None:
        # run() checked what Route 53 answers (or warned that it could not ask).
        return None


def _resolve(names: set[str]) -> set[str]:
    """Addresses the names resolve to from here (empty where they do not resolve)."""
    import socket  # noqa: PLC0415 - only the DNS answer check needs it

    out: set[str] = set()
    for name in names:
        try:
            out.update(str(info[4][0]) for info in socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError):
            continue
    return out


class VerifyServing(Step):
    """Check the DR region serves: DB standalone, EFS writable, tasks running, targets healthy and the
    service's health check answered. Anything less ends the run as not serving (NotServingError)."""

    id = StepId.VERIFY_SERVING
    actions = ("verify.probe",)

    def describe(self, t: Topology) -> str:
        return (
            f"Verify {t.target_region} serves: DB standalone, EFS writable, {t.desired_count} running tasks, "
            "healthy targets in the DR target group and the health check answered"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        ctx.latency.wait("verify.probe")
        t = ctx.topology
        if not t.target_group_arn:
            raise NotServingError(
                f"{t.target_region}: no DR target group known (TargetGroupArn output): serving not verified.",
                fix="deploy the DR stack with the current template and rerun",
            )
        seen: list[list[str]] = [[]]

        def states_now() -> list[str]:
            try:
                health = ctx.target("elbv2").describe_target_health(TargetGroupArn=t.target_group_arn)
            except ClientError as e:
                raise NotServingError(
                    f"{t.target_region}: target health of {t.target_group_arn} not readable ({e}).",
                    fix="check the target group and rerun",
                ) from e
            return [d["TargetHealth"]["State"] for d in health.get("TargetHealthDescriptions") or []]

        def any_healthy() -> bool:
            seen[0] = states_now()
            # Only new targets still in their first checks are worth waiting for ("initial": ALB
            # registration and the first health checks, HealthCheckIntervalSeconds each).
            return "healthy" in seen[0] or "initial" not in seen[0]

        try:
            poll(ctx, f"a healthy target in {t.target_group_arn}", t.target_region, any_healthy)
        except FailoverError as e:
            log.info("verify-serving: %s", e)
        states = seen[0]
        healthy = states.count("healthy")
        if not healthy:
            why = f"targets {states}" if states else "no target registered"
            raise NotServingError(
                f"{t.target_region}: the DR target group has no healthy target ({why}): the DR region "
                "does not serve.",
                fix="check the ECS service events (image in the DR registry? tasks failing their health "
                "check?) and the tasks' logs; rerun to resume",
            )
        outcome = StepOutcome(message=f"DR region serves: {healthy} healthy target(s)")
        if t.app_url:
            status = _probe(t.app_url, ca_file=t.app_ca_file or None)
            if status is None or not 200 <= status < 400:
                raise NotServingError(
                    f"{t.app_url} does not answer its health check ({status or 'no answer'}).",
                    fix="check the load balancer's listeners and the tasks; rerun to resume",
                )
            outcome.message += f"; {t.app_url} answers {status}"
        return outcome

    def verify(self, ctx: StepContext) -> None:
        PromoteDb().verify(ctx)
        FailoverEfs().verify(ctx)
        ScaleEcs().verify(ctx)


HEALTH_PATH = "/health"


def _probe(app_url: str, timeout: float = 5.0, ca_file: str | None = None) -> int | None:
    """HTTP status of the app's health path through its load balancer, or None when it does not answer."""
    import ssl  # noqa: PLC0415 - only verify-serving probes
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    url = app_url.rstrip("/") + HEALTH_PATH
    if not url.startswith(("https://", "http://")):
        return None
    try:
        context = ssl.create_default_context(cafile=ca_file) if url.startswith("https://") else None
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:  # noqa: S310 - scheme checked
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


class SkippedByOperator(Step):
    """A step the operator chose not to run (``--skip-fence``); journaled as skipped, with the reason."""

    def __init__(self, inner: Step, reason: str) -> None:
        self.inner = inner
        self.id = inner.id
        self.region_role = inner.region_role
        self.after = inner.after
        self.reason = reason

    def describe(self, topology: Topology) -> str:
        return f"SKIPPED by the operator ({self.reason}); would: {self.inner.describe(topology)}"

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        return StepOutcome(message="skipped by the operator", warnings=[self.reason], skipped=True)

    def verify(self, ctx: StepContext) -> None:
        return None


def default_stages(skip: dict[StepId, str] | None = None) -> list[tuple[str, list[Step], bool]]:
    """The failover DAG: (stage name, steps, parallel). ``skip`` maps step ids to the operator's reason.

    Everything that can hide behind the promotion does: the fence, EFS, Redis, secrets and the DR
    scale-out start with it; the DNS switch starts as soon as the fence has finished (``after``), so
    DR serves reads (from the replica) before the promotion ends and writes once it has.
    """
    stages: list[tuple[str, list[Step], bool]] = [
        (
            "failover",
            [
                FencePrimary(),
                PromoteDb(),
                FailoverEfs(),
                FailoverRedis(),
                StopSecretReplication(),
                ScaleEcs(),
                SwitchDns(),
            ],
            True,
        ),
        ("verify", [VerifyServing()], False),
    ]
    skip = skip or {}
    return [
        (name, [SkippedByOperator(s, skip[s.id]) if s.id in skip else s for s in steps], par)
        for name, steps, par in stages
    ]


STEP_CLASSES: dict[StepId, type[Step]] = {
    cls.id: cls
    for cls in (
        FencePrimary,
        PromoteDb,
        FailoverEfs,
        FailoverRedis,
        StopSecretReplication,
        ScaleEcs,
        SwitchDns,
        VerifyServing,
    )
}
