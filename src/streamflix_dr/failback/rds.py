"""RDS for PostgreSQL failback steps.

RDS for PostgreSQL has no managed switchover or reverse replication (``SwitchoverReadReplica`` is
Oracle/SQL Server only: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverReadReplica.html).
A direction is rebuilt by renaming the diverged instance aside and creating a NEW cross-region
replica under the original identifier, the way AWS ARC Region switch's "RDS Create Cross-Region
Replica" block does (https://docs.aws.amazon.com/r53recovery/latest/dg/rds-create-cross-region-replica-block.html):
both stacks then point at physical ids that match their templates again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from streamflix_dr.errors import FailoverError
from streamflix_dr.failback.base import (
    TAG_FENCED_AT,
    TAG_RENAMED_BY,
    TAG_RENAMED_FROM,
    FailbackError,
    FailbackStepId,
    NotDrainedError,
    Side,
    fenced_at,
    ft,
    metric_points,
    rds_instance,
    step_id,
)
from streamflix_dr.runbook.steps import READ_ONLY_PARAMETER, Step, StepContext, StepOutcome, error_code, poll
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

# Statuses in which an instance is done with a promotion: AWS takes a backup right after promoting
# (status backing-up) and the instance already accepts writes then [API PromoteReadReplica].
WRITABLE_STATUSES = ("available", "backing-up")


def source_id_of(db: dict[str, Any]) -> str:
    """The identifier part of ``ReadReplicaSourceDBInstanceIdentifier`` (an ARN cross-region)."""
    src = str(db.get("ReadReplicaSourceDBInstanceIdentifier") or "")
    return src.rsplit(":", 1)[-1]


def is_replica_of(db: dict[str, Any] | None, source: Side) -> bool:
    """True when ``db`` is a read replica of ``source``'s instance (by ARN cross-region, or by id)."""
    if not db:
        return False
    src = str(db.get("ReadReplicaSourceDBInstanceIdentifier") or "")
    if not src:
        return False
    if src.startswith("arn:"):
        parts = src.split(":")
        return parts[3] == source.region and parts[-1] == source.db_id
    return src == source.db_id


def _user_tags(tags: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """The tags worth carrying to a new instance (Environment, Application, CostCenter...)."""
    return [t for t in tags or [] if not t["Key"].startswith(("aws:", "streamflix-dr:"))]


def _wait_available(ctx: StepContext, region: str, db_id: str) -> None:
    try:
        ctx.client("rds", region).get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=db_id, WaiterConfig=ctx.timeouts.waiter_config()
        )
    except WaiterError as e:
        raise FailbackError(
            f"{region}: DB instance {db_id} did not become available ({e}).",
            fix="check the instance's events in the console; rerun the same failback command to resume",
        ) from e


class ReplicaUnderOriginalId(Step):
    """Make ``dest``'s instance a new cross-region replica of the other side's instance, under the
    identifier the template declares. A diverged instance holding that identifier is renamed aside
    (``<id>-old-<UTC stamp>``, tagged) and kept until the cycle is verified."""

    actions = ("rds.rename_instance", "rds.create_cross_region_replica")

    def __init__(self, dest: str, sid: FailbackStepId) -> None:
        self.dest_name = dest  # "primary" or "dr"
        self.id = step_id(sid)

    def _sides(self, t: Topology) -> tuple[Side, Side]:
        f = ft(t)
        dest = f.primary if self.dest_name == "primary" else f.dr
        return dest, f.other(dest)

    def describe(self, t: Topology) -> str:
        dest, src = self._sides(t)
        return (
            f"RDS: rename the diverged {dest.db_id} in {dest.region} aside ({dest.db_id}-old-<stamp>, kept "
            f"until verified) and create a cross-region replica {dest.db_id} of {src.db_id} ({src.region}) "
            f"with {dest.region}'s KMS key, subnet group, security groups and parameter group"
        )

    def check_done(self, ctx: StepContext) -> bool:
        dest, src = self._sides(ctx.topology)
        db = rds_instance(ctx, dest.region, dest.db_id) or {}
        # Done includes the replica's automated backups: a run killed between the create and the
        # ModifyDBInstance that sets them must not skip it on resume, or the cut-back's promotion takes
        # a first backup (status backing-up) and the next replica of it waits for that backup.
        return (
            is_replica_of(db, src)
            and db.get("DBInstanceStatus") == "available"
            and int(db.get("BackupRetentionPeriod") or 0) == dest.db_backup_retention
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        dest, src = self._sides(t)
        outcome = StepOutcome()
        source = rds_instance(ctx, src.region, src.db_id)
        if source is None:
            raise FailbackError(
                f"{src.region}: DB instance {src.db_id} (the replication source) does not exist.",
                fix="check the stack's DbInstanceIdentifier output and that the instance was not renamed",
            )
        if source.get("ReadReplicaSourceDBInstanceIdentifier"):
            raise FailbackError(
                f"{src.region}: {src.db_id} is itself a replica of "
                f"{source['ReadReplicaSourceDBInstanceIdentifier']}: it is not the live primary.",
                fix=(
                    "fail over first (or finish the cut-back): the source of a new replica must be standalone"
                ),
            )
        # "Your source DB instance or cluster must have backup retention enabled."
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
        if int(source.get("BackupRetentionPeriod") or 0) == 0:
            ctx.client("rds", src.region).modify_db_instance(
                DBInstanceIdentifier=src.db_id,
                BackupRetentionPeriod=max(1, src.db_backup_retention),
                ApplyImmediately=True,
            )
            outcome.warnings.append(
                f"{src.db_id} had automated backups off: enabled ({max(1, src.db_backup_retention)} days)"
            )
        _wait_available(ctx, src.region, src.db_id)
        existing = rds_instance(ctx, dest.region, dest.db_id)
        if existing is not None and not is_replica_of(existing, src):
            outcome.metrics["renamed"] = 1.0
            outcome.message = f"renamed {dest.db_id} to {self._rename_aside(ctx, dest, existing)}; "
            existing = None
        if existing is None:
            self._create_replica(ctx, dest, src, source)
        _wait_available(ctx, dest.region, dest.db_id)
        # The template gives the replica automated backups (so a later promotion takes none):
        # set them now that it exists [API PromoteReadReplica; errata §1 of aws-notes].
        db = rds_instance(ctx, dest.region, dest.db_id) or {}
        if int(db.get("BackupRetentionPeriod") or 0) != dest.db_backup_retention:
            ctx.client("rds", dest.region).modify_db_instance(
                DBInstanceIdentifier=dest.db_id,
                BackupRetentionPeriod=dest.db_backup_retention,
                ApplyImmediately=True,
            )
            _wait_available(ctx, dest.region, dest.db_id)
        outcome.message += f"{dest.db_id} ({dest.region}) replicates {src.db_id} ({src.region})"
        return outcome

    def _rename_aside(self, ctx: StepContext, dest: Side, existing: dict[str, Any]) -> str:
        stamp = datetime.fromtimestamp(ctx.clock.now(), UTC).strftime("%Y%m%d%H%M%S")
        new_id = f"{dest.db_id}-old-{stamp}"
        rds = ctx.client("rds", dest.region)
        if existing.get("DBInstanceStatus") not in ("available", "storage-optimization"):
            _wait_available(ctx, dest.region, dest.db_id)
        # NewDBInstanceIdentifier: "When you change the DB instance identifier, an instance reboot occurs
        # immediately if you enable ApplyImmediately" (the endpoint follows the new identifier).
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
        rds.modify_db_instance(
            DBInstanceIdentifier=dest.db_id, NewDBInstanceIdentifier=new_id, ApplyImmediately=True
        )
        ctx.latency.wait("rds.rename_instance")
        poll(
            ctx,
            f"{dest.db_id} renamed to {new_id}",
            dest.region,
            lambda: (
                rds_instance(ctx, dest.region, dest.db_id) is None
                and (rds_instance(ctx, dest.region, new_id) or {}).get("DBInstanceStatus") == "available"
            ),
        )
        renamed = rds_instance(ctx, dest.region, new_id) or {}
        rds.add_tags_to_resource(
            ResourceName=renamed.get("DBInstanceArn", ""),
            Tags=[
                {"Key": TAG_RENAMED_FROM, "Value": dest.db_id},
                {"Key": TAG_RENAMED_BY, "Value": "failback"},
            ],
        )
        log.info("renamed %s/%s aside to %s", dest.region, dest.db_id, new_id)
        return new_id

    def _create_replica(self, ctx: StepContext, dest: Side, src: Side, source: dict[str, Any]) -> None:
        t = ft(ctx.topology)
        if not (dest.kms_key_arn and dest.db_subnet_group and dest.db_security_groups):
            raise FailbackError(
                f"{dest.region}: the KMS key, DB subnet group or DB security group of stack {dest.stack} "
                "is unknown.",
                fix="deploy both stacks (streamflix-dr deploy) so their outputs and resources are readable",
            )
        rds = ctx.client("rds", dest.region)
        old = self._renamed(ctx, dest)
        tags = _user_tags(
            rds.list_tags_for_resource(ResourceName=old["DBInstanceArn"]).get("TagList") if old else None
        )
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": dest.db_id,
            # Cross-region: the source by ARN, a KMS key of the destination region (KMS keys are regional),
            # SourceRegion so the SDK presigns the request.
            # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
            "SourceDBInstanceIdentifier": source.get("DBInstanceArn") or t.db_arn(src),
            "SourceRegion": src.region,
            "KmsKeyId": dest.kms_key_arn,
            "DBSubnetGroupName": dest.db_subnet_group,
            "VpcSecurityGroupIds": list(dest.db_security_groups),
            "MultiAZ": dest.db_multi_az,
            "PubliclyAccessible": False,
            "CopyTagsToSnapshot": True,
            "Tags": tags,
        }
        if dest.db_instance_class:
            kwargs["DBInstanceClass"] = dest.db_instance_class
        if dest.db_parameter_group:
            kwargs["DBParameterGroupName"] = dest.db_parameter_group
        try:
            rds.create_db_instance_read_replica(**kwargs)
        except ClientError as e:
            raise FailbackError(
                f"{dest.region}: creating replica {dest.db_id} of {src.db_id} failed ({e}).",
                fix="read the error (source backups, KMS key of the destination region, quotas); "
                "rerun to resume",
            ) from e
        ctx.latency.wait("rds.create_cross_region_replica")

    def _renamed(self, ctx: StepContext, dest: Side) -> dict[str, Any] | None:
        olds = renamed_instances(ctx, dest)
        return olds[-1] if olds else None

    def verify(self, ctx: StepContext) -> None:
        dest, src = self._sides(ctx.topology)
        db = rds_instance(ctx, dest.region, dest.db_id)
        if not is_replica_of(db, src):
            raise FailbackError(
                f"{dest.region}: {dest.db_id} is not a replica of {src.db_id} ({src.region}).",
                fix="rerun to resume",
            )


def renamed_instances(ctx: StepContext, side: Side) -> list[dict[str, Any]]:
    """Instances renamed aside from ``side.db_id`` (``<id>-old-<stamp>``), oldest first."""
    rds = ctx.client("rds", side.region)
    found = []
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page.get("DBInstances") or []:
            if str(db["DBInstanceIdentifier"]).startswith(f"{side.db_id}-old-"):
                found.append(dict(db))
    return sorted(found, key=lambda d: str(d["DBInstanceIdentifier"]))


def _lsn(text: str) -> int:
    """A PostgreSQL ``pg_lsn`` ('16/B374D848') as an integer (high 32 bits / low 32 bits)."""
    high, _, low = str(text).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class WalProbe:
    """Exact drain evidence: the source's ``pg_current_wal_lsn()`` against the replica's
    ``pg_last_wal_replay_lsn()`` (PostgreSQL docs, "System Administration Functions": "Returns the
    current write-ahead log write location" / "Returns the last write-ahead log location that has been
    replayed during recovery"; https://www.postgresql.org/docs/current/functions-admin.html).

    It needs a network path to both instances (the tool run from inside the VPCs, a bastion, or a VPN),
    the DB master secret, and a PostgreSQL driver (``pip install 'streamflix-dr[postgres]'``); TLS is
    required (``sslmode=require``, or what ``PGSSLMODE``/``PGSSLROOTCERT`` say). When any of these is
    missing, :meth:`positions` returns None and the drain falls back on CloudWatch ``ReplicaLag``."""

    def __init__(self, ctx: StepContext, connect_timeout: int = 5) -> None:
        self.ctx = ctx
        self.connect_timeout = connect_timeout
        self.why_not = ""

    def _credentials(self) -> tuple[str, str] | None:
        import json  # noqa: PLC0415 - only the exact drain reads the secret

        t = ft(self.ctx.topology)
        name = next((n for n in t.secret_names if "db" in n.lower()), "")
        if not name:
            self.why_not = "no DB secret in the stack outputs"
            return None
        try:
            raw = self.ctx.client("secretsmanager", t.dr.region).get_secret_value(SecretId=name)
            doc = json.loads(raw.get("SecretString") or "{}")
            return str(doc["username"]), str(doc["password"])
        except (ClientError, KeyError, ValueError, TypeError) as e:
            self.why_not = f"cannot read the DB secret {name} ({e})"
            return None

    def _query(self, db: dict[str, Any], sql: str, creds: tuple[str, str]) -> str | None:
        import os  # noqa: PLC0415

        try:
            import psycopg  # noqa: PLC0415 - optional: the exact drain only
        except ImportError:
            self.why_not = "no PostgreSQL driver (pip install 'streamflix-dr[postgres]')"
            return None
        endpoint = db.get("Endpoint") or {}
        try:
            with psycopg.connect(
                host=endpoint.get("Address"),
                port=endpoint.get("Port"),
                user=creds[0],
                password=creds[1],
                dbname="postgres",
                sslmode=os.environ.get("PGSSLMODE", "require"),
                connect_timeout=self.connect_timeout,
            ) as conn:
                row = conn.execute(sql).fetchone()
        except psycopg.Error as e:
            self.why_not = f"{db.get('DBInstanceIdentifier')} not reachable ({str(e).strip()[:120]})"
            return None
        return None if row is None or row[0] is None else str(row[0])

    def positions(self) -> tuple[int, int] | None:
        """(source's current WAL position, replica's replayed position), or None (``why_not`` says why)."""
        t = ft(self.ctx.topology)
        creds = self._credentials()
        source = rds_instance(self.ctx, t.dr.region, t.dr.db_id)
        replica = rds_instance(self.ctx, t.primary.region, t.primary.db_id)
        if creds is None or source is None or replica is None:
            self.why_not = self.why_not or "an instance is missing"
            return None
        current = self._query(source, "SELECT pg_current_wal_lsn()::text", creds)
        if current is None:
            return None
        replayed = self._query(replica, "SELECT pg_last_wal_replay_lsn()::text", creds)
        if replayed is None:
            return None
        return _lsn(current), _lsn(replayed)


class DrainRds(Step):
    """Wait until the primary-side replica has replayed every write made before the DR writers were
    fenced. Exact when the tool reaches both engines: the replica's replayed WAL position has reached
    the source's current position, read after the fence (:class:`WalProbe`). Otherwise the evidence is
    ``ReplicaLag`` == 0 in a datapoint whose period starts after the fence: coarse (60 s periods, seconds
    granularity; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html)."""

    actions = ("rds.drain_replica",)

    def __init__(self, force: bool = False) -> None:
        self.id = step_id(FailbackStepId.DRAIN_RDS)
        self.force = force
        self._why_not = ""

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"RDS: wait for {f.primary.db_id} ({f.primary.region}) to replay every WAL record of "
            f"{f.dr.db_id} written before the fence (LSNs; ReplicaLag 0 after the fence when the engines "
            f"are out of reach; refuse to go on otherwise"
            f"{'; --force: go on and report the loss' if self.force else ''})"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return False  # the measurement is the step's output; it only reads

    def _lag_after_fence(self, ctx: StepContext, fence: float) -> float | None:
        t = ft(ctx.topology)
        points = metric_points(
            ctx, t.primary.region, "AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": t.primary.db_id}, fence
        )
        after = [v for ts, v in points if ts >= fence]
        return after[-1] if after else None

    def _drain_by_lsn(self, ctx: StepContext) -> tuple[bool, str, dict[str, float | None]] | None:
        """(drained, what was seen, metrics) by WAL positions; None when the engines are out of reach."""
        t = ft(ctx.topology)
        probe = WalProbe(ctx)
        first = probe.positions()
        if first is None:
            log.info("RDS drain by LSN not possible: %s; using ReplicaLag", probe.why_not)
            self._why_not = probe.why_not
            return None
        target = first[0]  # the source's position after the fence: everything acknowledged is before it
        seen = [first[1]]

        def replayed() -> bool:
            pos = probe.positions()
            if pos is not None:
                seen[0] = pos[1]
            return seen[0] >= target

        if seen[0] < target:
            try:
                poll(
                    ctx,
                    f"{t.primary.db_id} replaying up to the fence's WAL position",
                    t.primary.region,
                    replayed,
                )
            except FailoverError as e:
                log.info("RDS drain poll ended: %s", e)
        behind = max(0, target - seen[0])
        metrics: dict[str, float | None] = {
            "source_lsn": target,
            "replayed_lsn": seen[0],
            "lsn_bytes_behind": behind,
        }
        return behind == 0, f"replayed {seen[0]:X} of {target:X} ({behind} bytes behind)", metrics

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        fence = fenced_at(ctx)
        if fence is None:
            raise FailbackError(
                f"{t.dr.region}: {t.dr.db_id} carries no {TAG_FENCED_AT} tag: the DR writers "
                f"were not fenced.",
                fix="run the cut-back from its start (the fence step runs first)",
            )
        db = rds_instance(ctx, t.primary.region, t.primary.db_id)
        if not is_replica_of(db, t.dr):
            if db and not db.get("ReadReplicaSourceDBInstanceIdentifier"):
                return StepOutcome(
                    message="already promoted (nothing to drain)", metrics={"lost_seconds": 0.0}
                )
            raise FailbackError(
                f"{t.primary.region}: {t.primary.db_id} is not a replica of {t.dr.db_id}.",
                fix="run the reprotect phase first (streamflix-dr failback --phase reprotect)",
            )
        exact = self._drain_by_lsn(ctx)
        if exact is not None:
            drained, seen, metrics = exact
            ctx.latency.wait("rds.drain_replica")
            if drained:
                return StepOutcome(
                    message=f"WAL replayed up to the fence ({seen})",
                    metrics={"lost_seconds": 0.0, **metrics},
                )
            if not self.force:
                raise NotDrainedError(
                    f"{t.primary.region}: {t.primary.db_id} has not replayed the DR writes ({seen}); "
                    "promoting now would lose them (--force promotes anyway and reports the loss).",
                    fix="wait and rerun the same command; or pass --force to promote anyway and accept "
                    "the loss",
                )
            return StepOutcome(
                message=f"NOT drained ({seen}): promoting anyway (--force)",
                warnings=[
                    f"--force: {metrics['lsn_bytes_behind']} bytes of WAL written in {t.dr.region} are lost"
                ],
                metrics={"lost_seconds": None, **metrics},
            )
        lag: list[float | None] = [None]

        def drained_by_metric() -> bool:
            lag[0] = self._lag_after_fence(ctx, fence)
            return lag[0] == 0.0

        try:
            poll(ctx, f"{t.primary.db_id} replaying up to the fence", t.primary.region, drained_by_metric)
        except FailoverError as e:  # the poll's budget ran out: decided below
            log.info("RDS drain poll ended: %s", e)
        ctx.latency.wait("rds.drain_replica")
        why = f"engines out of reach: {self._why_not}"
        if lag[0] == 0.0:
            return StepOutcome(
                message=f"replica lag 0 after the fence ({why})",
                metrics={"lost_seconds": 0.0},
            )
        shown = "unknown (no ReplicaLag datapoint after the fence)" if lag[0] is None else f"{lag[0]:.0f} s"
        if not self.force:
            raise NotDrainedError(
                f"{t.primary.region}: {t.primary.db_id} has not replayed the DR writes (lag {shown}; {why}); "
                "promoting now would lose them (--force promotes anyway and reports the loss).",
                fix="wait and rerun the same command (a ReplicaLag period that starts after the fence takes "
                "up to a minute); or pass --force to promote anyway and accept the loss",
            )
        return StepOutcome(
            message=f"NOT drained (lag {shown}): promoting anyway (--force)",
            warnings=[f"--force: up to {shown} of RDS writes made in {t.dr.region} are lost"],
            metrics={"lost_seconds": lag[0]},
        )

    def verify(self, ctx: StepContext) -> None:
        return None


class PromoteBack(Step):
    """Promote the primary-side replica: the primary region's DB becomes the writable primary again."""

    actions = ("rds.promote_read_replica",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.PROMOTE_RDS)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"RDS: promote {f.primary.db_id} in {f.primary.region} (backups "
            f"{f.primary.db_backup_retention} days)"
        )

    def check_done(self, ctx: StepContext) -> bool:
        t = ft(ctx.topology)
        db = rds_instance(ctx, t.primary.region, t.primary.db_id) or {}
        return (
            bool(db)
            and not db.get("ReadReplicaSourceDBInstanceIdentifier")
            and (db.get("DBInstanceStatus") in WRITABLE_STATUSES)
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        db = rds_instance(ctx, t.primary.region, t.primary.db_id)
        if db is None:
            raise FailbackError(f"{t.primary.region}: {t.primary.db_id} does not exist.", fix="run reprotect")
        if db.get("ReadReplicaSourceDBInstanceIdentifier") and db.get("DBInstanceStatus") != "available":
            # Refused while backing-up or modifying [API PromoteReadReplica]. It may also be a promotion
            # already under way (a run killed after its request): the instance names its source until the
            # promotion's reboot is over, then not any more.
            _wait_available(ctx, t.primary.region, t.primary.db_id)
            db = rds_instance(ctx, t.primary.region, t.primary.db_id) or db
        if db.get("ReadReplicaSourceDBInstanceIdentifier"):
            ctx.client("rds", t.primary.region).promote_read_replica(
                DBInstanceIdentifier=t.primary.db_id,
                BackupRetentionPeriod=max(1, t.primary.db_backup_retention),
            )
            ctx.latency.wait("rds.promote_read_replica")
        poll(ctx, f"{t.primary.db_id} standalone", t.primary.region, lambda: self.check_done(ctx))
        return StepOutcome(message=f"{t.primary.db_id} is the primary again")

    def verify(self, ctx: StepContext) -> None:
        if not self.check_done(ctx):
            t = ft(ctx.topology)
            raise FailbackError(f"{t.primary.region}: {t.primary.db_id} is not standalone yet.", fix="rerun")


def _read_only_value(ctx: StepContext, region: str, group: str) -> str:
    rds = ctx.client("rds", region)
    for page in rds.get_paginator("describe_db_parameters").paginate(
        DBParameterGroupName=group, Source="user"
    ):
        for p in page.get("Parameters") or []:
            if p.get("ParameterName") == READ_ONLY_PARAMETER:
                return str(p.get("ParameterValue") or "")
    return ""


def set_read_only(ctx: StepContext, side: Side, on: bool) -> bool:
    """Set ``default_transaction_read_only`` on ``side``'s parameter group; False if it has none."""
    if not side.db_parameter_group or side.db_parameter_group.startswith("default."):
        return False
    ctx.client("rds", side.region).modify_db_parameter_group(
        DBParameterGroupName=side.db_parameter_group,
        Parameters=[
            {
                "ParameterName": READ_ONLY_PARAMETER,
                "ParameterValue": "on" if on else "off",
                "ApplyMethod": "immediate",
            }
        ],
    )
    ctx.latency.wait("rds.modify_parameter_group")
    return True


class RestorePrimaryDb(Step):
    """Undo what the failover's fence did to the primary side: the parameter group is shared by the new
    primary (it still says read-only) and its security groups must be the template's, not the fence's."""

    actions = ("rds.modify_parameter_group",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.RESTORE_PRIMARY_DB)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"RDS: {READ_ONLY_PARAMETER}=off on "
            f"{f.primary.db_parameter_group or 'the primary group'} and the "
            f"template's security groups on {f.primary.db_id} ({f.primary.region})"
        )

    def _sgs(self, ctx: StepContext) -> set[str]:
        t = ft(ctx.topology)
        db = rds_instance(ctx, t.primary.region, t.primary.db_id) or {}
        return {g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups") or []}

    def check_done(self, ctx: StepContext) -> bool:
        t = ft(ctx.topology)
        read_only = (
            _read_only_value(ctx, t.primary.region, t.primary.db_parameter_group)
            if t.primary.db_parameter_group
            else ""
        )
        return read_only != "on" and self._sgs(ctx) == set(t.primary.db_security_groups)

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        outcome = StepOutcome(message="primary DB writable with the template's security groups")
        if t.primary.db_parameter_group and (
            _read_only_value(ctx, t.primary.region, t.primary.db_parameter_group) == "on"
        ):
            set_read_only(ctx, t.primary, on=False)
        if t.primary.db_security_groups and self._sgs(ctx) != set(t.primary.db_security_groups):
            ctx.client("rds", t.primary.region).modify_db_instance(
                DBInstanceIdentifier=t.primary.db_id,
                VpcSecurityGroupIds=list(t.primary.db_security_groups),
                ApplyImmediately=True,
            )
            _wait_available(ctx, t.primary.region, t.primary.db_id)
        return outcome

    def verify(self, ctx: StepContext) -> None:
        if not self.check_done(ctx):
            t = ft(ctx.topology)
            raise FailbackError(
                f"{t.primary.region}: {t.primary.db_id} is still read-only or fenced.", fix="rerun to resume"
            )


class DeleteRenamed(Step):
    """Delete the instances renamed aside, with a final snapshot, once the cycle is verified."""

    actions = ("rds.delete_instance",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.DELETE_RENAMED)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"RDS: delete {f.primary.db_id}-old-* ({f.primary.region}) and {f.dr.db_id}-old-* "
            f"({f.dr.region}) "
            "with a final snapshot each"
        )

    def _olds(self, ctx: StepContext) -> list[tuple[str, dict[str, Any]]]:
        t = ft(ctx.topology)
        return [(s.region, db) for s in (t.primary, t.dr) for db in renamed_instances(ctx, s)]

    def check_done(self, ctx: StepContext) -> bool:
        return all(db.get("DBInstanceStatus") == "deleting" for _, db in self._olds(ctx))

    def run(self, ctx: StepContext) -> StepOutcome:
        deleted = []
        for region, db in self._olds(ctx):
            if db.get("DBInstanceStatus") == "deleting":
                continue
            db_id = str(db["DBInstanceIdentifier"])
            rds = ctx.client("rds", region)
            if db.get("DeletionProtection"):
                rds.modify_db_instance(
                    DBInstanceIdentifier=db_id, DeletionProtection=False, ApplyImmediately=True
                )
            try:
                rds.delete_db_instance(
                    DBInstanceIdentifier=db_id,
                    SkipFinalSnapshot=False,
                    FinalDBSnapshotIdentifier=f"{db_id}-final",
                    DeleteAutomatedBackups=True,
                )
            except ClientError as e:
                if error_code(e) != "DBInstanceNotFound":
                    raise
            ctx.latency.wait("rds.delete_instance")
            deleted.append(f"{region}/{db_id} (final snapshot {db_id}-final)")
        return StepOutcome(message=f"deleted: {', '.join(deleted) or 'none left'}")

    def verify(self, ctx: StepContext) -> None:
        return None
