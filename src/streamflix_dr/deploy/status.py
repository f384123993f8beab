"""Both regions' stacks, their state and the key outputs, as data."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.aws.status import StackState, collapse
from streamflix_dr.config import Environment
from streamflix_dr.constants import Output, Param, Role, stack_name
from streamflix_dr.deploy.stacks import Stack, outputs_of, parameters_of
from streamflix_dr.errors import StackError, StreamflixDrError

# The outputs an operator looks at first; the full set is in cfn-outputs/<region>.json.
KEY_OUTPUTS: tuple[str, ...] = (
    Output.APP_URL,
    Output.LOAD_BALANCER_DNS_NAME,
    Output.DB_INSTANCE_IDENTIFIER,
    Output.DB_ENDPOINT_ADDRESS,
    Output.FILE_SYSTEM_ID,
    Output.REDIS_REPLICATION_GROUP_ID,
    Output.GLOBAL_DATASTORE_ID,
    Output.ECS_CLUSTER_NAME,
    Output.ECS_SERVICE_NAME,
    Output.HEALTH_CHECK_ID,
    Output.FAILOVER_STATE_MACHINE_ARN,
)


@dataclass(frozen=True)
class StackStatus:
    """One region's stack as seen now."""

    role: Role
    region: str
    stack: str
    status: str  # the raw StackStatus, or NOT_FOUND
    state: StackState
    phase: str = ""
    updated: str = ""
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "region": self.region,
            "stack": self.stack,
            "status": self.status,
            "state": self.state.value,
            "phase": self.phase,
            "updated": self.updated,
            "reason": self.reason,
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class StoreState:
    """Which way one data store replicates now, as AWS itself reports it."""

    store: str  # database | file system | redis | secret:<name>
    primary_region: str  # the region that takes writes ("" when unknown)
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"store": self.store, "primary_region": self.primary_region, "detail": self.detail}


@dataclass(frozen=True)
class StatusReport:
    """Both regions, which region is active, where each store replicates, the locks."""

    env: str
    stacks: tuple[StackStatus, ...]
    active_region: str = ""
    active_basis: str = ""
    stores: tuple[StoreState, ...] = ()
    lock: dict[str, Any] | None = None
    operation: dict[str, Any] | None = None  # the failover runner's last operation (lock item)
    notes: tuple[str, ...] = ()
    # Both stacks against the live data stores (failback.reconcile.reconcile_report): the direction, each
    # store declared vs live, and which regions answered. None when it could not be built (see notes).
    reconcile: dict[str, Any] | None = None

    @property
    def unanswered(self) -> list[str]:
        """The regions that did not answer (their stack is UNREACHABLE or their stores unknown)."""
        down = {s.region for s in self.stacks if s.status == "UNREACHABLE"}
        down |= {r for r, v in ((self.reconcile or {}).get("regions") or {}).items() if v != "answers"}
        return sorted(down)

    @property
    def failed_over(self) -> bool:
        """The DR region has taken over (its database is no longer a replica, and the primary's is not the
        one taking the writes: after a failback's cut-back the primary is active again)."""
        direction = (self.reconcile or {}).get("direction", "")
        if direction in ("normal", "primary-active", "failed-over", "split"):
            return direction in ("failed-over", "split")
        return any(
            s.store == "database" and s.primary_region and s.primary_region != self.primary_region
            for s in self.stores
        )

    @property
    def primary_region(self) -> str:
        return next((s.region for s in self.stacks if s.role is Role.PRIMARY), "")

    @property
    def deployed(self) -> bool:
        """Both stacks exist, are stable and the DR stack is at phase full."""
        return all(s.state is StackState.STABLE for s in self.stacks) and all(
            s.phase == "full" for s in self.stacks if s.role is Role.DR
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "deployed": self.deployed,
            "failed_over": self.failed_over,
            "active_region": self.active_region,
            "active_basis": self.active_basis,
            "stores": [s.to_dict() for s in self.stores],
            "lock": self.lock,
            "operation": self.operation,
            "notes": list(self.notes),
            "stacks": [s.to_dict() for s in self.stacks],
            "direction": (self.reconcile or {}).get("direction", ""),
            "reconcile": self.reconcile,
            "unanswered_regions": self.unanswered,
        }


def status(env: Environment, factory: ClientFactory, *, deep: bool = True) -> StatusReport:
    """Describe both regions' stacks and, with ``deep``, the replication of each store, the active
    region, the environment lock and the failover runner's last operation (read-only)."""
    fast = dataclasses.replace(factory, max_attempts=2) if isinstance(factory, ClientFactory) else factory
    out = []
    for role in (Role.PRIMARY, Role.DR):
        region = env.region_of(role).region
        name = stack_name(role, env.suffix)
        client = (fast if role is Role.PRIMARY else factory).client("cloudformation", region)
        try:
            desc = Stack(client, region, name).describe()
        except (StackError, BotoCoreError) as e:
            if role is Role.DR:
                raise
            # The primary region may be down: say so and go on with the DR region.
            out.append(StackStatus(role, region, name, "UNREACHABLE", StackState.ABSENT, reason=str(e)))
            continue
        if desc is None:
            out.append(StackStatus(role, region, name, "NOT_FOUND", StackState.ABSENT))
            continue
        outputs = outputs_of(desc)
        updated = desc.get("LastUpdatedTime") or desc.get("CreationTime")
        out.append(
            StackStatus(
                role=role,
                region=region,
                stack=name,
                status=desc["StackStatus"],
                state=collapse(desc["StackStatus"]),
                phase=parameters_of(desc).get(Param.PHASE, ""),
                updated=_iso(updated),
                reason=desc.get("StackStatusReason", "") or "",
                outputs={k: outputs[k] for k in KEY_OUTPUTS if k in outputs},
            )
        )
    report = StatusReport(env.name, tuple(out))
    if not deep:
        return report
    dr_desc = next((s for s in out if s.role is Role.DR), None)
    dr_outputs = (
        outputs_of(
            Stack(
                factory.client("cloudformation", env.dr_region),
                env.dr_region,
                stack_name(Role.DR, env.suffix),
            ).describe()
        )
        if dr_desc and dr_desc.state is not StackState.ABSENT
        else {}
    )
    stores = tuple(replication_state(env, factory, dr_outputs)) if dr_outputs else ()
    db = next((s for s in stores if s.store == "database"), None)
    if db and db.primary_region:
        active, basis = db.primary_region, "where the database takes writes (RDS)"
    elif dr_outputs:
        active, basis = env.primary_region, "assumed: the DR database could not be read"
    else:
        active, basis = "", "no DR stack"
    from streamflix_dr.locking import EnvironmentLock  # noqa: PLC0415

    notes: list[str] = []
    lock: dict[str, Any] | None = None
    try:
        holder = EnvironmentLock(factory.client("ssm", env.dr_region), env.dr_region, env.suffix).read()
        lock = holder.to_dict() if holder else None
    except StreamflixDrError as e:
        notes.append(f"environment lock not readable: {e.message}")
    operation = _runner_operation(factory, env, dr_outputs, notes)
    reconciled: dict[str, Any] | None = None
    from streamflix_dr.failback.reconcile import reconcile_report  # noqa: PLC0415

    try:
        rec = reconcile_report(factory, env)
        reconciled = rec.to_dict()
        if rec.active_region and rec.direction not in ("unknown", "not-deployed"):
            # Both databases as RDS reports them (a fenced primary, a cut back DR): the better answer.
            active, basis = (
                rec.active_region,
                f"where the database takes writes (RDS, both regions: {rec.direction})",
            )
    except (StreamflixDrError, ClientError, BotoCoreError) as e:
        notes.append(f"stacks not compared with the live stores: {_short(e)}")
    return dataclasses.replace(
        report,
        active_region=active,
        active_basis=basis,
        stores=stores,
        lock=lock,
        operation=operation,
        notes=tuple(notes),
        reconcile=reconciled,
    )


def _runner_operation(
    factory: ClientFactory, env: Environment, dr_outputs: dict[str, str], notes: list[str]
) -> dict[str, Any] | None:
    table = dr_outputs.get(Output.JOURNAL_TABLE_NAME)
    if not table:
        return None
    from streamflix_dr.runbook.journal import RunLock  # noqa: PLC0415

    try:
        held = RunLock(factory.client("dynamodb", env.dr_region), table, env.dr_region, env.suffix).read()
    except StreamflixDrError as e:
        notes.append(f"failover journal not readable: {e.message}")
        return None
    if held is None:
        return None
    return {
        "operation_id": held.operation_id,
        "direction": held.direction,
        "owner": held.owner,
        "status": held.status.value,
        "lease_until": held.lease_until,
        "unfinished": held.status.value != "succeeded",
        "lease_live": held.lease_until > time.time(),
    }


def replication_state(env: Environment, factory: ClientFactory, dr: dict[str, str]) -> list[StoreState]:
    """Where each store takes writes and which way it replicates, read from the services (DR region)."""
    out: list[StoreState] = []
    rds = factory.client("rds", env.dr_region)
    db_id = dr.get(Output.DB_INSTANCE_IDENTIFIER)
    if db_id:
        try:
            db = (rds.describe_db_instances(DBInstanceIdentifier=db_id).get("DBInstances") or [{}])[0]
            src = db.get("ReadReplicaSourceDBInstanceIdentifier") or ""
            if not db:
                out.append(StoreState("database", "", f"{db_id} not found in {env.dr_region}"))
            elif src:
                region = src.split(":")[3] if src.startswith("arn:") else env.primary_region
                out.append(
                    StoreState("database", region, f"{db_id} in {env.dr_region} is a read replica of {src}")
                )
            else:
                out.append(
                    StoreState(
                        "database",
                        env.dr_region,
                        f"{db_id} in {env.dr_region} is standalone (promoted): it takes writes",
                    )
                )
        except (ClientError, BotoCoreError, IndexError) as e:
            out.append(StoreState("database", "", f"{db_id}: not readable ({_short(e)})"))
    fs = dr.get(Output.FILE_SYSTEM_ID)
    if fs:
        try:
            reps = (
                factory.client("efs", env.dr_region)
                .describe_replication_configurations(FileSystemId=fs)
                .get("Replications", [])
            )
            if not reps:
                out.append(
                    StoreState(
                        "file system",
                        env.dr_region,
                        f"{fs} in {env.dr_region} has no replication: it is writable on its own",
                    )
                )
            for r in reps:
                dests = ", ".join(
                    f"{d.get('FileSystemId')} in {d.get('Region')} ({d.get('Status')})"
                    for d in r.get("Destinations", [])
                )
                out.append(
                    StoreState(
                        "file system",
                        str(r.get("SourceFileSystemRegion", "")),
                        f"{r.get('SourceFileSystemId')} in {r.get('SourceFileSystemRegion')} -> {dests}",
                    )
                )
        except ClientError as e:
            if _code(e) == "ReplicationNotFound":
                out.append(
                    StoreState(
                        "file system",
                        env.dr_region,
                        f"{fs} in {env.dr_region} has no replication: it is writable on its own",
                    )
                )
            else:
                out.append(StoreState("file system", "", f"{fs}: not readable ({_short(e)})"))
        except BotoCoreError as e:
            out.append(StoreState("file system", "", f"{fs}: not readable ({_short(e)})"))
    gds = dr.get(Output.GLOBAL_DATASTORE_ID) or ""
    if env.global_datastore or gds:
        try:
            ec = factory.client("elasticache", env.dr_region)
            kwargs: dict[str, Any] = {"ShowMemberInfo": True}
            if gds:
                kwargs["GlobalReplicationGroupId"] = gds
            groups = [
                g
                for g in ec.describe_global_replication_groups(**kwargs).get("GlobalReplicationGroups", [])
                if gds or env.suffix in g.get("GlobalReplicationGroupId", "")
            ]
            for g in groups:
                members = g.get("Members", [])
                prim = next((m for m in members if str(m.get("Role", "")).upper() == "PRIMARY"), None)
                roles = ", ".join(
                    f"{m.get('ReplicationGroupId')} {m.get('Role')} in {m.get('ReplicationGroupRegion')}"
                    for m in members
                )
                out.append(
                    StoreState(
                        "redis",
                        str(prim.get("ReplicationGroupRegion", "")) if prim else "",
                        f"Global Datastore {g.get('GlobalReplicationGroupId')}: {roles}",
                    )
                )
            if not groups:
                out.append(StoreState("redis", "", "no Global Datastore found"))
        except (ClientError, BotoCoreError) as e:
            out.append(StoreState("redis", "", f"Global Datastore not readable ({_short(e)})"))
    sm = factory.client("secretsmanager", env.dr_region)
    for key in (Output.DB_SECRET_NAME, Output.REDIS_AUTH_SECRET_NAME):
        name = dr.get(key)
        if not name:
            continue
        try:
            d = sm.describe_secret(SecretId=name)
            primary = d.get("PrimaryRegion") or env.dr_region
            detail = (
                f"{name}: replica of the secret in {primary}"
                if primary != env.dr_region
                else f"{name}: primary in {env.dr_region} (not replicated from {env.primary_region})"
            )
            out.append(StoreState(f"secret {key}", primary, detail))
        except (ClientError, BotoCoreError) as e:
            out.append(StoreState(f"secret {key}", "", f"{name}: not readable ({_short(e)})"))
    return out


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:160]


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
