"""ElastiCache (Redis OSS/Valkey) Global Datastore failback steps.

* A region that is still a member fails back with another ``FailoverGlobalReplicationGroup``
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html).
* A member that was disassociated cannot rejoin with its data: "We don't support adding an existing
  cluster as secondary. The process of adding the cluster as secondary wipes data" (ElastiCache UG,
  Global Datastore prerequisites). It is deleted and re-created as a new secondary with
  ``CreateReplicationGroup(GlobalReplicationGroupId=...)``, which syncs it in full. Engine, version,
  node type, encryption and Multi-AZ are inherited and must be omitted (aws-notes errata §3).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.errors import FailoverError
from streamflix_dr.failback.base import (
    FailbackError,
    FailbackStepId,
    NotDrainedError,
    Side,
    fenced_at,
    ft,
    metric_points,
    step_id,
)
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, error_code, poll
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)


def detached_while_primary(ctx: StepContext, dest: Side, src: Side, gid: str) -> bool:
    """``dest`` is still the datastore's primary and ``src`` left it: the failover could only disassociate
    the DR member (its region's primary did not answer a coordinated failover). No reverse replication of
    the cache exists then: a standalone group cannot rejoin with its data (ElastiCache UG, Global
    Datastore: a secondary is created empty and syncs in full), so the primary side keeps serving its own
    keys and the sessions written during DR are not carried back (the app refills the cache)."""
    return (
        member_role(ctx, dest.region, gid, dest.redis_group_id) == "PRIMARY"
        and member_role(ctx, src.region, gid, src.redis_group_id) is None
    )


def member_role(ctx: StepContext, region: str, global_id: str, rg_id: str) -> str | None:
    """PRIMARY / SECONDARY, or None when ``rg_id`` is not a member (or the datastore is gone)."""
    try:
        groups = ctx.client("elasticache", region).describe_global_replication_groups(
            GlobalReplicationGroupId=global_id, ShowMemberInfo=True
        )["GlobalReplicationGroups"]
    except ClientError as e:
        if error_code(e) == "GlobalReplicationGroupNotFoundFault":
            return None
        raise
    for m in (groups[0].get("Members") or []) if groups else []:
        if m.get("ReplicationGroupId") == rg_id and m.get("ReplicationGroupRegion") == region:
            return str(m.get("Role", "")).upper()
    return None


def replication_group(ctx: StepContext, side: Side) -> dict[str, Any] | None:
    try:
        groups = ctx.client("elasticache", side.region).describe_replication_groups(
            ReplicationGroupId=side.redis_group_id
        )["ReplicationGroups"]
    except ClientError as e:
        if error_code(e) == "ReplicationGroupNotFoundFault":
            return None
        raise
    return dict(groups[0]) if groups else None


class EnsureSecondary(Step):
    """Make ``dest``'s replication group a Global Datastore secondary of the other side's."""

    actions = ("elasticache.create_secondary",)

    def __init__(self, dest: str, sid: FailbackStepId) -> None:
        self.dest_name = dest
        self.id = step_id(sid)

    def _sides(self, t: Topology) -> tuple[Side, Side]:
        f = ft(t)
        dest = f.primary if self.dest_name == "primary" else f.dr
        return dest, f.other(dest)

    def describe(self, t: Topology) -> str:
        dest, _ = self._sides(t)
        if not t.global_datastore_id:
            return (
                f"Redis: no Global Datastore; {dest.redis_group_id} ({dest.region}) is not fed (cold cache)"
            )
        return (
            f"Redis: {dest.redis_group_id} ({dest.region}) a secondary of "
            f"{t.global_datastore_id} (nothing to "
            "build if it still is; re-created empty, full sync, if it was disassociated)"
        )

    def check_done(self, ctx: StepContext) -> bool:
        t = ctx.topology
        dest, _ = self._sides(t)
        if not t.global_datastore_id:
            return False
        return member_role(ctx, dest.region, t.global_datastore_id, dest.redis_group_id) == "SECONDARY"

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ctx.topology
        dest, src = self._sides(t)
        if not t.global_datastore_id:
            return StepOutcome(
                message="no Global Datastore",
                skipped=True,
                warnings=[f"no Global Datastore: {dest.redis_group_id} starts cold; the app refills it"],
            )
        gid = t.global_datastore_id
        role = member_role(ctx, dest.region, gid, dest.redis_group_id)
        if role == "PRIMARY":
            if member_role(ctx, src.region, gid, src.redis_group_id) is None:
                # The failover detached the other side: its writes cannot flow back into this group.
                return StepOutcome(
                    message=(
                        f"{dest.redis_group_id} is still the datastore's primary; "
                        f"{src.redis_group_id} left it"
                    ),
                    warnings=[
                        f"{dest.redis_group_id} ({dest.region}) has none of the cache writes "
                        f"made in {src.region} "
                        "during DR: flush it at cut-back or let the app refill it"
                    ],
                    # Read by reports: the cache written during DR is not carried back (0 = not carried).
                    metrics={"cache_carried_back": 0.0},
                )
            raise FailbackError(
                f"{dest.region}: {dest.redis_group_id} is the primary of {gid}, the wrong way round.",
                fix=(
                    "finish the cut-back (FailoverGlobalReplicationGroup) before re-protecting this direction"
                ),
            )
        if member_role(ctx, src.region, gid, src.redis_group_id) != "PRIMARY":
            raise FailbackError(
                f"{src.region}: {src.redis_group_id} is not the primary of {gid}; cannot add a secondary.",
                fix="check the Global Datastore in the console (streamflix-dr status)",
            )
        existing = replication_group(ctx, dest)
        spec = self._spec(ctx, dest, existing)
        ec = ctx.client("elasticache", dest.region)
        if existing is not None:
            ec.delete_replication_group(ReplicationGroupId=dest.redis_group_id, RetainPrimaryCluster=False)
            poll(
                ctx,
                f"{dest.redis_group_id} deleted",
                dest.region,
                lambda: replication_group(ctx, dest) is None,
            )
        ec.create_replication_group(**spec)
        ctx.latency.wait("elasticache.create_secondary")
        poll(ctx, f"{dest.redis_group_id} joined {gid}", dest.region, lambda: self.check_done(ctx))
        return StepOutcome(
            message=f"{dest.redis_group_id} re-created as a secondary of {gid} (full sync)",
            warnings=[f"{dest.redis_group_id} was standalone: its keys were discarded and re-synced"]
            if existing is not None
            else [],
        )

    def _spec(self, ctx: StepContext, dest: Side, existing: dict[str, Any] | None) -> dict[str, Any]:
        t = ctx.topology
        spec: dict[str, Any] = {
            "ReplicationGroupId": dest.redis_group_id,
            "ReplicationGroupDescription": (existing or {}).get("Description")
            or f"StreamFlix cache {t.suffix}",
            "GlobalReplicationGroupId": t.global_datastore_id,
        }
        members = (existing or {}).get("MemberClusters") or []
        if members:
            spec["NumCacheClusters"] = len(members)
        # The network the stack declares for this region's cache (so the stack matches again); the live
        # group's first node when the stack's resources are not known.
        if dest.redis_subnet_group:
            spec["CacheSubnetGroupName"] = dest.redis_subnet_group
        if dest.redis_security_groups:
            spec["SecurityGroupIds"] = list(dest.redis_security_groups)
        if members and "CacheSubnetGroupName" not in spec:
            cluster = ctx.client("elasticache", dest.region).describe_cache_clusters(
                CacheClusterId=members[0]
            )["CacheClusters"][0]
            if cluster.get("CacheSubnetGroupName"):
                spec["CacheSubnetGroupName"] = cluster["CacheSubnetGroupName"]
            sgs = [g["SecurityGroupId"] for g in cluster.get("SecurityGroups") or []]
            if sgs and "SecurityGroupIds" not in spec:
                spec["SecurityGroupIds"] = sgs
        # The AUTH token is not inherited from the primary: the template passes the environment's token
        # (the secret replicated to every region) to the secondary too. Read it where the primary is.
        token_secret = next((n for n in t.secret_names if "redis" in n.lower()), "")
        if token_secret:
            src = ft(t).other(dest)
            try:
                value = ctx.client("secretsmanager", src.region).get_secret_value(SecretId=token_secret)
            except ClientError as e:
                raise FailbackError(
                    f"{src.region}: the Redis AUTH token secret {token_secret} is not readable ({e}).",
                    fix="check the secret exists in that region and the tool may read it, then rerun",
                ) from e
            if value.get("SecretString"):
                spec["AuthToken"] = value["SecretString"]
        if (existing or {}).get("KmsKeyId"):
            spec["KmsKeyId"] = existing["KmsKeyId"]  # type: ignore[index]
        if "CacheSubnetGroupName" not in spec:
            raise FailbackError(
                f"{dest.region}: cannot tell the subnet group and security groups for {dest.redis_group_id}.",
                fix="redeploy the stack of that region (streamflix-dr deploy) so the group exists",
            )
        return spec

    def verify(self, ctx: StepContext) -> None:
        return None


class DrainRedis(Step):
    """Global Datastore replication lag after the fence. Cache data is rebuildable: an unknown lag warns,
    a known lag above 0 refuses (unless --force)."""

    actions = ("elasticache.drain",)

    def __init__(self, force: bool = False) -> None:
        self.id = step_id(FailbackStepId.DRAIN_REDIS)
        self.force = force

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return f"Redis: GlobalDatastoreReplicationLag of {f.primary.redis_group_id} 0 after the fence"

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        if not t.global_datastore_id:
            return StepOutcome(message="no Global Datastore", skipped=True, metrics={"lost_seconds": None})
        role = member_role(ctx, t.primary.region, t.global_datastore_id, t.primary.redis_group_id)
        if role == "PRIMARY":
            if detached_while_primary(ctx, t.primary, t.dr, t.global_datastore_id):
                return StepOutcome(
                    message="primary cache kept (the DR member was detached at failover)",
                    warnings=[
                        f"{t.primary.redis_group_id} keeps its own keys: cache writes made in {t.dr.region} "
                        "during DR are not carried back (the app refills the cache)"
                    ],
                    metrics={"lost_seconds": None},
                )
            return StepOutcome(message="primary cache already primary", metrics={"lost_seconds": 0.0})
        if role is None:
            return StepOutcome(
                message="primary cache not in the datastore",
                warnings=[
                    f"{t.primary.redis_group_id} is not fed from {t.dr.region}: cache writes made during DR "
                    "are not in it"
                ],
                metrics={"lost_seconds": None},
            )
        fence = fenced_at(ctx) or ctx.clock.now()
        lag: list[float | None] = [None]

        def drained() -> bool:
            points = metric_points(
                ctx,
                t.primary.region,
                "AWS/ElastiCache",
                "GlobalDatastoreReplicationLag",
                {"CacheClusterId": f"{t.primary.redis_group_id}-001"},
                fence,
            )
            after = [v for ts, v in points if ts >= fence]
            lag[0] = after[-1] if after else None
            return lag[0] is None or lag[0] == 0.0

        try:
            poll(ctx, "Redis replication lag 0", t.primary.region, drained)
        except FailoverError as e:
            log.info("Redis drain poll ended: %s", e)
        ctx.latency.wait("elasticache.drain")
        if lag[0] is None:
            return StepOutcome(
                message="lag unknown",
                warnings=[
                    "no GlobalDatastoreReplicationLag datapoint after the fence: Redis lag unknown "
                    "(typically under a second)"
                ],
                metrics={"lost_seconds": None},
            )
        if lag[0] == 0.0:
            return StepOutcome(message="replication lag 0", metrics={"lost_seconds": 0.0})
        if not self.force:
            raise NotDrainedError(
                f"{t.primary.region}: Redis replication lag {lag[0]:.1f} s after the fence "
                "(--force accepts the loss).",
                fix="wait and rerun; or --force to accept the loss of those cache writes",
            )
        return StepOutcome(
            message=f"NOT drained ({lag[0]:.1f} s): going on (--force)",
            warnings=[f"--force: up to {lag[0]:.1f} s of cache writes are lost"],
            metrics={"lost_seconds": lag[0]},
        )

    def verify(self, ctx: StepContext) -> None:
        return None


class FailbackRedis(Step):
    """``FailoverGlobalReplicationGroup`` back to the primary region while it is still a member."""

    actions = ("elasticache.failover_global_replication_group",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.FAILBACK_REDIS)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        if not t.global_datastore_id:
            return "Redis: no Global Datastore (nothing to fail back)"
        return f"Redis: fail {t.global_datastore_id} over to {f.primary.redis_group_id} in {f.primary.region}"

    def check_done(self, ctx: StepContext) -> bool:
        t = ft(ctx.topology)
        if not t.global_datastore_id:
            return False
        return (
            member_role(ctx, t.primary.region, t.global_datastore_id, t.primary.redis_group_id) == "PRIMARY"
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        if not t.global_datastore_id:
            return StepOutcome(message="no Global Datastore", skipped=True)
        role = member_role(ctx, t.primary.region, t.global_datastore_id, t.primary.redis_group_id)
        if role is None:
            raise FailbackError(
                f"{t.primary.region}: {t.primary.redis_group_id} is not a member of {t.global_datastore_id}.",
                fix="run the reprotect phase (it re-creates the group as a secondary)",
            )
        ctx.client("elasticache", t.primary.region).failover_global_replication_group(
            GlobalReplicationGroupId=t.global_datastore_id,
            PrimaryRegion=t.primary.region,
            PrimaryReplicationGroupId=t.primary.redis_group_id,
        )
        ctx.latency.wait("elasticache.failover_global_replication_group")
        poll(ctx, f"{t.primary.redis_group_id} primary", t.primary.region, lambda: self.check_done(ctx))
        return StepOutcome(message=f"{t.primary.redis_group_id} is the datastore's primary again")

    def verify(self, ctx: StepContext) -> None:
        t = ft(ctx.topology)
        if t.global_datastore_id and not self.check_done(ctx):
            raise FailbackError(f"{t.primary.redis_group_id} is not primary yet.", fix="wait and rerun")
