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
    WaiterError,
)

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import StepId
from streamflix_dr.errors import FailoverError
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_ONLY_PARAMETER = "default_transaction_read_only"
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


def poll(ctx: StepContext, what: str, region: str, done: Callable[[], bool]) -> None:
    """Poll ``done`` with the waiter delay until it holds or the waiter budget is spent."""
    budget = ctx.timeouts.waiter_max_attempts
    for _ in range(budget):
        if done():
            return
        ctx.clock.sleep(ctx.timeouts.waiter_delay)
    raise FailoverError(
        f"{region}: {what} did not happen within {ctx.timeouts.waiter_delay * budget:.0f} s.",
        fix="check the resource in the console; rerun the failover to resume",
    )


class Step(ABC):
    """A runbook step: describe, check_done, run, verify."""

    id: StepId
    # Latency-model actions this step waits on, in order; their sum is its expected duration.
    actions: tuple[str, ...] = ()
    region_role = "target"

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
    """Stop the old primary's writers: ECS service to 0, DB parameter group read-only. Time-bounded."""

    id = StepId.FENCE_PRIMARY
    actions = ("ecs.stop_tasks", "rds.modify_parameter_group")
    region_role = "source"

    def describe(self, t: Topology) -> str:
        what = []
        if t.source_ecs_service:
            what.append(f"scale ECS service {t.source_ecs_cluster}/{t.source_ecs_service} to 0")
        if t.source_db_instance_id:
            what.append(f"set {READ_ONLY_PARAMETER}=on on {t.source_db_instance_id}'s parameter group")
        body = " and ".join(what) or "nothing known to fence"
        return f"Fence the old primary in {t.source_region}: {body} (skipped with a warning if it is down)"

    def check_done(self, ctx: StepContext) -> bool:
        # Both actions are idempotent and the region may be gone: run() decides, within its time bound.
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        factory = ctx.probe_factory()
        outcome = StepOutcome()
        # The fence runs in a daemon thread so an unresponsive region cannot hold the failover past the bound.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fence")
        future = pool.submit(self._fence, ctx, factory, outcome)
        try:
            future.result(timeout=ctx.timeouts.fence_seconds)
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
        if not outcome.skipped:
            outcome.message = "old primary fenced"
        return outcome

    def _fence(self, ctx: StepContext, factory: Any, outcome: StepOutcome) -> None:
        t = ctx.topology
        if t.source_ecs_cluster and t.source_ecs_service:
            factory.client("ecs", t.source_region).update_service(
                cluster=t.source_ecs_cluster, service=t.source_ecs_service, desiredCount=0
            )
            ctx.latency.wait("ecs.stop_tasks")
        else:
            outcome.warnings.append("the primary's ECS service is unknown: not scaled to 0")
        if not t.source_db_instance_id:
            outcome.warnings.append("the primary DB is unknown: not made read-only")
            return
        rds = factory.client("rds", t.source_region)
        dbs = rds.describe_db_instances(DBInstanceIdentifier=t.source_db_instance_id)["DBInstances"]
        groups = [g["DBParameterGroupName"] for g in dbs[0].get("DBParameterGroups") or []] if dbs else []
        if not groups or groups[0].startswith("default."):
            outcome.warnings.append(
                f"{t.source_db_instance_id} uses a default parameter group, which cannot be modified: "
                "the DB was not made read-only; the app is stopped"
            )
            return
        rds.modify_db_parameter_group(
            DBParameterGroupName=groups[0],
            Parameters=[
                {"ParameterName": READ_ONLY_PARAMETER, "ParameterValue": "on", "ApplyMethod": "immediate"}
            ],
        )
        ctx.latency.wait("rds.modify_parameter_group")

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
        return (
            not db.get("ReadReplicaSourceDBInstanceIdentifier") and db.get("DBInstanceStatus") == "available"
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        if not t.target_db_instance_id:
            raise FailoverError(
                f"{t.target_region}: no DB instance to promote.",
                fix="deploy the DR stack in its full phase (it creates the replica)",
            )
        outcome = StepOutcome()
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
            # Promotion fails while the replica is backing-up or modifying [API PromoteReadReplica].
            self._wait_available(ctx)
        try:
            rds.promote_read_replica(DBInstanceIdentifier=t.target_db_instance_id, BackupRetentionPeriod=7)
        except (ClientError, BotoCoreError) as e:
            raise FailoverError(
                f"{t.target_region}: promoting {t.target_db_instance_id} failed ({e}).",
                fix="read the error; the journal is kept, rerun `streamflix-dr failover` to resume",
            ) from e
        ctx.latency.wait("rds.promote_read_replica")
        # The instance may still read "available" right after the call; done means standalone AND available.
        poll(
            ctx,
            f"{t.target_db_instance_id} becoming a standalone, available instance",
            t.target_region,
            lambda: self.check_done(ctx),
        )
        outcome.message = f"promoted (replica lag at promotion: {lag if lag is not None else 'unknown'} s)"
        return outcome

    def _wait_available(self, ctx: StepContext) -> None:
        t = ctx.topology
        try:
            ctx.target("rds").get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=t.target_db_instance_id, WaiterConfig=ctx.timeouts.waiter_config()
            )
        except WaiterError as e:
            raise FailoverError(
                f"{t.target_region}: {t.target_db_instance_id} did not become available ({e}).",
                fix="check the instance's events; rerun to resume",
            ) from e

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
        ctx.target("ecs").update_service(
            cluster=t.target_ecs_cluster,
            service=t.target_ecs_service,
            desiredCount=max(svc.get("desiredCount", 0), t.desired_count),
        )
        ctx.latency.wait("ecs.scale_out")
        try:
            ctx.target("ecs").get_waiter("services_stable").wait(
                cluster=t.target_ecs_cluster,
                services=[t.target_ecs_service],
                WaiterConfig=ctx.timeouts.waiter_config(),
            )
        except WaiterError as e:
            raise FailoverError(
                f"{t.target_region}: ECS service {t.target_ecs_service} did not stabilise ({e}).",
                fix="check the service events (image present in the DR ECR?) and rerun",
            ) from e
        outcome.message = f"running {t.desired_count} tasks"
        return outcome

    def verify(self, ctx: StepContext) -> None:
        svc = self._service(ctx)
        if svc.get("runningCount", 0) < ctx.topology.desired_count:
            raise FailoverError(
                f"{ctx.topology.target_region}: {ctx.topology.target_ecs_service} runs "
                f"{svc.get('runningCount', 0)}/{ctx.topology.desired_count} tasks.",
                fix="check the service events and rerun",
            )


class SwitchDns(Step):
    """Send the domain to the DR region: invert the primary's health check so failover routing picks DR."""

    id = StepId.SWITCH_DNS
    actions = ("route53.health_check_detection", "route53.dns_ttl")

    def describe(self, t: Topology) -> str:
        if not (t.hosted_zone_id and t.domain_name):
            return "DNS: no domain configured; clients use the DR load balancer URL (nothing to switch)"
        return (
            f"Point {t.domain_name} at {t.target_region}: invert the PRIMARY record's health check so "
            "Route 53 failover routing answers with the SECONDARY (or confirm it already does)"
        )

    def _primary_health_check(self, ctx: StepContext) -> str:
        t = ctx.topology
        name = t.domain_name.rstrip(".") + "."
        r53 = ctx.client("route53", t.target_region)
        resp = r53.list_resource_record_sets(
            HostedZoneId=t.hosted_zone_id, StartRecordName=name, MaxItems="20"
        )
        for rs in resp.get("ResourceRecordSets") or []:
            if rs.get("Name") == name and rs.get("Failover") == "PRIMARY" and rs.get("HealthCheckId"):
                return str(rs["HealthCheckId"])
        return t.source_health_check_id

    def check_done(self, ctx: StepContext) -> bool:
        t = ctx.topology
        if not (t.hosted_zone_id and t.domain_name):
            return False
        hc = self._primary_health_check(ctx)
        if not hc:
            return False
        cfg = ctx.client("route53", t.target_region).get_health_check(HealthCheckId=hc)["HealthCheck"]
        return bool(cfg["HealthCheckConfig"].get("Inverted"))

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
        hc = self._primary_health_check(ctx)
        if not hc:
            raise FailoverError(
                f"no PRIMARY failover record with a health check for {t.domain_name}.",
                fix="deploy the primary stack with HostedZoneId/DomainName set, or point DNS by "
                "hand (docs/failover.md)",
            )
        # Inverting, not deleting: the record stays as the template made it and failback only un-inverts.
        ctx.client("route53", t.target_region).update_health_check(HealthCheckId=hc, Inverted=True)
        ctx.latency.wait("route53.health_check_detection")
        ctx.latency.wait("route53.dns_ttl")
        return StepOutcome(
            message=f"health check {hc} inverted: {t.domain_name} answers with {t.target_region}"
        )

    def verify(self, ctx: StepContext) -> None:
        t = ctx.topology
        if t.hosted_zone_id and t.domain_name and not self.check_done(ctx):
            raise FailoverError(
                f"{t.domain_name}: the primary's health check is not inverted.", fix="rerun to resume"
            )


class VerifyServing(Step):
    """Check the DR region serves: DB writable, file system writable, tasks running and healthy."""

    id = StepId.VERIFY_SERVING
    actions = ("verify.probe",)

    def describe(self, t: Topology) -> str:
        return (
            f"Verify {t.target_region} serves: DB standalone, EFS writable, {t.desired_count} healthy tasks"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        ctx.latency.wait("verify.probe")
        outcome = StepOutcome(message="DR region serves")
        t = ctx.topology
        if t.target_group_arn:
            try:
                health = ctx.target("elbv2").describe_target_health(TargetGroupArn=t.target_group_arn)
                states = [d["TargetHealth"]["State"] for d in health.get("TargetHealthDescriptions") or []]
                if states and "healthy" not in states:
                    raise FailoverError(
                        f"{t.target_region}: no healthy target in {t.target_group_arn} ({states}).",
                        fix="check the tasks' logs and the health check path; rerun",
                    )
                if not states:
                    outcome.warnings.append("no targets registered with the DR target group yet")
            except ClientError as e:
                outcome.warnings.append(f"target health not readable ({e})")
        return outcome

    def verify(self, ctx: StepContext) -> None:
        PromoteDb().verify(ctx)
        FailoverEfs().verify(ctx)
        ScaleEcs().verify(ctx)


class SkippedByOperator(Step):
    """A step the operator chose not to run (``--skip-fence``); journaled as skipped, with the reason."""

    def __init__(self, inner: Step, reason: str) -> None:
        self.inner = inner
        self.id = inner.id
        self.region_role = inner.region_role
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
    """The failover DAG: (stage name, steps, parallel). ``skip`` maps step ids to the operator's reason."""
    stages: list[tuple[str, list[Step], bool]] = [
        ("fence", [FencePrimary()], False),
        ("data", [PromoteDb(), FailoverEfs(), FailoverRedis(), StopSecretReplication(), ScaleEcs()], True),
        ("dns", [SwitchDns()], False),
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
