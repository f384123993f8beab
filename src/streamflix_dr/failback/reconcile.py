"""Do the stacks match what runs? For each data store: what the template declares vs the live state.

CloudFormation cannot tell: ``SourceDBInstanceIdentifier`` is write-only, so drift detection does not see
a promotion (provider schema aws-rds-dbinstance/aws-rds-dbinstance.json, ``writeOnlyProperties``, in
aws-cloudformation/aws-cloudformation-resource-providers-rds @5a410e84), and the Global Datastore's
member roles and the EFS direction are not compared live either. ``reconcile_report`` asks the services.
After a complete failback (and re-protection) every finding matches: the next ``deploy`` of either stack
changes no data store. ``status`` shows the report; ``deploy`` decides from it whether the environment is
in its normal direction (normal deploy) or failed over (refuse, or ``--allow-failed-over``).

A region that does not answer (an outage: ServiceUnavailable, a connection that fails or times out) does
not stop the report: that region's findings say "unknown: <region> does not answer" and
``unanswered`` names it, so the caller can say so and pick its exit code.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.errors import StackError
from streamflix_dr.failback.base import TAG_FENCED_AT, FailbackTopology, Side, rds_instance, tag_value
from streamflix_dr.failback.efs import destination, replication_of
from streamflix_dr.failback.rds import is_replica_of, renamed_instances
from streamflix_dr.failback.session import read_stack, side_from_stack
from streamflix_dr.runbook.steps import StepContext, error_code

log = logging.getLogger(__name__)

T = TypeVar("T")

# What each direction means (``ReconcileReport.direction``).
NORMAL = "normal"  # primary takes the writes and every store is as the stacks declare
FAILED_OVER = "failed-over"  # the DR region takes the writes (its database is no longer a replica)
PRIMARY_ACTIVE = "primary-active"  # primary takes the writes, but some store is not as declared yet
SPLIT = "split"  # both databases are writable and neither is fenced
UNKNOWN = "unknown"  # the region that would decide does not answer
NOT_DEPLOYED = "not-deployed"  # a stack (or its database) does not exist yet

# Errors that mean "the region did not answer", not "the request was wrong": AWS's Common Errors
# (ServiceUnavailable 503, InternalFailure 500, RequestTimeout) and any transport failure botocore raises.
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html
UNANSWERED_CODES = frozenset({"ServiceUnavailable", "InternalFailure", "RequestTimeout", "RegionUnavailable"})


class _Unknown:
    """The value of a read whose region does not answer."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN_VALUE: Any = _Unknown()


def unanswered(e: BaseException) -> bool:
    """True when ``e`` says the region did not answer (rather than refused the request)."""
    if isinstance(e, ParamValidationError):
        return False
    if isinstance(e, BotoCoreError):
        return True
    if isinstance(e, ClientError):
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(e) in UNANSWERED_CODES or status in (500, 502, 503, 504)
    return False


@dataclass(frozen=True)
class StoreFinding:
    """One data store: what the stack declares, what runs, whether they match."""

    store: str
    stack: str
    physical_id: str
    declared: str
    live: str
    matches: bool
    region: str = ""
    known: bool = True  # False: a region this finding needs did not answer


@dataclass
class ReconcileReport:
    """Every store's finding; ``active_region`` is where the writable DB is."""

    active_region: str
    findings: list[StoreFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    direction: str = ""
    # region -> "answers" or "does not answer (<why>)"
    regions: dict[str, str] = field(default_factory=dict)
    primary_region: str = ""
    dr_region: str = ""
    # region -> its database as RDS reports it: standalone | replica | absent | unknown
    databases: dict[str, str] = field(default_factory=dict)

    @property
    def dr_database_writable(self) -> bool:
        """The DR instance is no longer a replica: the normal-direction DR template does not describe it."""
        return self.databases.get(self.dr_region) == "standalone"

    @property
    def matches(self) -> bool:
        return all(f.matches for f in self.findings)

    @property
    def unanswered(self) -> list[str]:
        """The regions that did not answer."""
        return [r for r, s in self.regions.items() if s != "answers"]

    @property
    def failed_over(self) -> bool:
        """The DR region takes the writes (the normal-direction templates no longer describe it)."""
        return self.direction == FAILED_OVER

    def to_dict(self) -> dict[str, Any]:
        return {
            "active_region": self.active_region,
            "direction": self.direction,
            "matches": self.matches,
            "regions": dict(self.regions),
            "databases": dict(self.databases),
            "findings": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
        }


class _Reader:
    """Runs reads region by region; the first read a region does not answer marks it down, and every
    later read there returns ``UNKNOWN_VALUE`` at once (no second retry budget spent on a dead region)."""

    def __init__(self, regions: dict[str, str]) -> None:
        self.regions = regions

    def __call__(self, region: str, fn: Callable[[], T]) -> T:
        if self.regions.get(region, "answers") != "answers":
            return UNKNOWN_VALUE
        try:
            value = fn()
        except (ClientError, BotoCoreError) as e:
            if not unanswered(e):
                raise
            self.regions[region] = f"does not answer ({_short(e)})"
            return UNKNOWN_VALUE
        self.regions.setdefault(region, "answers")
        return value

    def down(self, region: str) -> bool:
        return self.regions.get(region, "answers") != "answers"


class _Factory:
    """Clients for ``fast_regions`` give up after two attempts (a region in an outage); others as given."""

    def __init__(self, factory: Any, fast_regions: tuple[str, ...]) -> None:
        self.factory = factory
        self.fast = (
            dataclasses.replace(factory, max_attempts=2) if isinstance(factory, ClientFactory) else factory
        )
        self.fast_regions = fast_regions

    def client(self, service: str, region: str) -> Any:
        return (self.fast if region in self.fast_regions else self.factory).client(service, region)


def _db_live(db: Any) -> str:
    if db is UNKNOWN_VALUE:
        return "unknown"
    if db is None:
        return "absent"
    src = db.get("ReadReplicaSourceDBInstanceIdentifier")
    state = db.get("DBInstanceStatus")
    return f"replica of {src} ({state})" if src else f"standalone, takes writes ({state})"


def _standalone(db: Any) -> bool:
    return isinstance(db, dict) and not db.get("ReadReplicaSourceDBInstanceIdentifier")


def _unknown(region: str) -> str:
    return f"unknown: {region} does not answer"


def reconcile_report(factory: Any, env: Any, topology: FailbackTopology | None = None) -> ReconcileReport:
    """Compare both stacks with the live data stores (read-only). Never fails because one region does not
    answer: that region's findings are unknown and ``unanswered`` names it. Raises ``StackError`` only
    when a stack read fails for another reason (access denied, throttled beyond retries)."""
    regions: dict[str, str] = {}
    if topology is None:
        primary_region, dr_region = env.primary_region, env.dr_region
    else:
        primary_region, dr_region = topology.primary.region, topology.dr.region
    f = _Factory(factory, (primary_region,))
    read = _Reader(regions)
    stacks: dict[Role, tuple[dict[str, str], dict[str, str], dict[str, str]] | None] = {}
    for role, region in ((Role.PRIMARY, primary_region), (Role.DR, dr_region)):
        name = topology.primary.stack if topology and role is Role.PRIMARY else None
        if topology and role is Role.DR:
            name = topology.dr.stack
        name = name or stack_name(role, env.suffix)
        stacks[role] = _read_stack(f, read, region, name)
    report = ReconcileReport(
        active_region="", regions=regions, primary_region=primary_region, dr_region=dr_region
    )
    t = topology or _topology(f, read, env, stacks, report)
    if t is None:
        report.direction = NOT_DEPLOYED if not read.down(dr_region) else UNKNOWN
        return report
    p_phys = (stacks[Role.PRIMARY] or ({}, {}, {}))[2]
    d_phys = (stacks[Role.DR] or ({}, {}, {}))[2]
    ctx = StepContext(factory=f, topology=t)
    _rds(ctx, read, t, report, p_phys, d_phys)
    _efs(ctx, read, t, report, p_phys)
    _redis(ctx, read, t, report)
    _secrets(ctx, read, t, report)
    for s in (t.primary, t.dr):
        if not s.db_id:
            continue
        olds = read(s.region, lambda s=s: renamed_instances(ctx, s))  # type: ignore[misc]
        if olds is not UNKNOWN_VALUE and olds:
            names = ", ".join(str(db["DBInstanceIdentifier"]) for db in olds)
            report.notes.append(
                f"renamed-aside instances still exist in {s.region} (kept until verified): {names}"
            )
    if report.direction == NORMAL and not report.matches:
        report.direction = PRIMARY_ACTIVE
    for region in (primary_region, dr_region):
        regions.setdefault(region, "answers")
    return report


def _read_stack(
    f: Any, read: _Reader, region: str, name: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]] | None:
    """(outputs, parameters, physical ids), None when the stack does not exist or the region is down."""
    got = read(region, lambda: _read_stack_raw(f, region, name))
    return None if got is UNKNOWN_VALUE else got


def _read_stack_raw(
    f: Any, region: str, name: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]] | None:
    try:
        return read_stack(f, region, name)
    except StackError as e:
        cause = e.__cause__
        if isinstance(cause, (ClientError, BotoCoreError)) and unanswered(cause):
            raise cause from None  # the reader marks the region down
        if isinstance(cause, ClientError) and "does not exist" in str(cause):
            return None
        if isinstance(cause, IndexError):
            return None
        raise


def _topology(
    f: Any,
    read: _Reader,
    env: Any,
    stacks: dict[Role, tuple[dict[str, str], dict[str, str], dict[str, str]] | None],
    report: ReconcileReport,
) -> FailbackTopology | None:
    """Both sides from what could be read; a side whose stack is not readable is inferred from the other
    stack (the DR stack's PrimaryDbArn parameter names the primary's instance)."""
    p, d = stacks[Role.PRIMARY], stacks[Role.DR]
    p_name, d_name = stack_name(Role.PRIMARY, env.suffix), stack_name(Role.DR, env.suffix)
    if d is None and p is None:
        return None
    p_out, p_params, p_phys = p or ({}, {}, {})
    d_out, d_params, d_phys = d or ({}, {}, {})
    if p is None:
        why = "does not answer" if read.down(env.primary_region) else "is not deployed"
        report.notes.append(f"the primary stack {p_name} in {env.primary_region} {why}")
        arn = d_params.get("PrimaryDbArn", "")
        p_out = {Output.DB_INSTANCE_IDENTIFIER: arn.rsplit(":", 1)[-1] if arn else ""}
    if d is None:
        why = "does not answer" if read.down(env.dr_region) else "is not deployed"
        report.notes.append(f"the DR stack {d_name} in {env.dr_region} {why}")

    def side(
        region: str, name: str, out: dict[str, str], params: dict[str, str], phys: dict[str, str]
    ) -> Side:
        return side_from_stack(region, name, out, params, phys, desired=0, low=0, high=0)

    primary = side(env.primary_region, p_name, p_out, p_params, p_phys)
    dr = side(env.dr_region, d_name, d_out, d_params, d_phys)
    if p is not None:
        names = (p_out.get(Output.DB_SECRET_NAME, ""), p_out.get(Output.REDIS_AUTH_SECRET_NAME, ""))
    else:
        # From the DR stack: its DB secret is the replica's name; its Redis AUTH secret is the replicated
        # one only with a Global Datastore (otherwise the template gives the DR region a local secret).
        gds = bool(d_params.get("GlobalDatastoreId"))
        names = (
            d_out.get(Output.DB_SECRET_NAME, ""),
            d_out.get(Output.REDIS_AUTH_SECRET_NAME, "") if gds else "",
        )
    secrets = tuple(s for s in dict.fromkeys(names) if s)
    return FailbackTopology(
        suffix=env.suffix,
        source_region=env.dr_region,
        target_region=env.primary_region,
        journal_table=d_out.get(Output.JOURNAL_TABLE_NAME, ""),
        global_datastore_id=p_out.get(Output.GLOBAL_DATASTORE_ID, "")
        or d_out.get(Output.GLOBAL_DATASTORE_ID, "")
        or d_params.get("GlobalDatastoreId", ""),
        secret_names=secrets,
        primary=primary,
        dr=dr,
        global_datastore_enabled=bool(getattr(env, "global_datastore", False)),
    )


def _fenced_primary(db: Any, t: FailbackTopology) -> bool:
    """The failover's hard fence: the primary DB's security groups swapped to the fence group."""
    if not isinstance(db, dict) or not t.primary.db_fence_security_group:
        return False
    groups = [g.get("VpcSecurityGroupId") for g in db.get("VpcSecurityGroups") or []]
    return groups == [t.primary.db_fence_security_group]


def _fenced_dr(ctx: StepContext, read: _Reader, db: Any, t: FailbackTopology) -> bool:
    """The failback's fence of the DR writers leaves its time as a tag on the DR DB instance."""
    if not isinstance(db, dict) or not db.get("DBInstanceArn"):
        return False
    tags = read(
        t.dr.region,
        lambda: ctx.client("rds", t.dr.region).list_tags_for_resource(ResourceName=db["DBInstanceArn"]),
    )
    return tags is not UNKNOWN_VALUE and bool(tag_value(tags.get("TagList"), TAG_FENCED_AT))


def _rds(  # noqa: PLR0917 - the context, the reader, the topology, the report and both stacks' ids
    ctx: StepContext,
    read: _Reader,
    t: FailbackTopology,
    report: ReconcileReport,
    p_phys: dict[str, str],
    d_phys: dict[str, str],
) -> None:
    p_db = (
        read(t.primary.region, lambda: rds_instance(ctx, t.primary.region, t.primary.db_id))
        if t.primary.db_id
        else None
    )
    d_db = read(t.dr.region, lambda: rds_instance(ctx, t.dr.region, t.dr.db_id)) if t.dr.db_id else None
    p_unknown, d_unknown = p_db is UNKNOWN_VALUE, d_db is UNKNOWN_VALUE
    for region, db in ((t.primary.region, p_db), (t.dr.region, d_db)):
        report.databases[region] = (
            "unknown"
            if db is UNKNOWN_VALUE
            else "absent"
            if db is None
            else "standalone"
            if _standalone(db)
            else "replica"
        )
    # Which region takes the writes, from the two instances as RDS reports them.
    if _standalone(d_db):
        if p_unknown or p_db is None or is_replica_of(p_db, t.dr) or _fenced_primary(p_db, t):
            report.active_region, report.direction = t.dr.region, FAILED_OVER
        elif _standalone(p_db) and _fenced_dr(ctx, read, d_db, t):
            # Cut back: the primary was promoted, the DR writers are fenced until re-protection.
            report.active_region, report.direction = t.primary.region, PRIMARY_ACTIVE
        else:
            report.active_region, report.direction = "both (split)", SPLIT
            report.notes.append(
                f"both {t.primary.db_id} ({t.primary.region}) and {t.dr.db_id} ({t.dr.region}) are "
                "standalone and neither is fenced: writes may go to both"
            )
    elif _standalone(p_db):
        report.active_region = t.primary.region
        report.direction = NORMAL if isinstance(d_db, dict) else (UNKNOWN if d_unknown else PRIMARY_ACTIVE)
    elif p_unknown and isinstance(d_db, dict):
        # The DR instance is still a replica: the primary takes the writes as far as anyone can tell.
        report.active_region, report.direction = t.primary.region, UNKNOWN
        report.notes.append(
            f"{t.primary.region} does not answer and {t.dr.db_id} in {t.dr.region} is still a replica: "
            "the environment has not failed over"
        )
    elif p_db is None and d_db is None and not p_unknown and not d_unknown:
        report.active_region, report.direction = "", NOT_DEPLOYED
    else:
        report.active_region, report.direction = "", UNKNOWN
    report.findings.append(
        StoreFinding(
            "rds",
            t.primary.stack,
            p_phys.get("DbInstance", ""),
            f"{t.primary.db_id}: standalone primary",
            _unknown(t.primary.region) if p_unknown else _db_live(p_db),
            p_phys.get("DbInstance") == t.primary.db_id
            and _standalone(p_db)
            and not _fenced_primary(p_db, t),
            t.primary.region,
            not p_unknown,
        )
    )
    report.findings.append(
        StoreFinding(
            "rds",
            t.dr.stack,
            d_phys.get("DbReplica", ""),
            f"{t.dr.db_id}: replica of {t.primary.db_id} ({t.primary.region})",
            _unknown(t.dr.region) if d_unknown else _db_live(d_db),
            not d_unknown and d_phys.get("DbReplica") == t.dr.db_id and is_replica_of(d_db, t.primary),
            t.dr.region,
            not d_unknown,
        )
    )


def _efs(
    ctx: StepContext, read: _Reader, t: FailbackTopology, report: ReconcileReport, p_phys: dict[str, str]
) -> None:
    if not t.dr.fs_id:
        return
    if t.primary.fs_id:
        rep = read(t.primary.region, lambda: replication_of(ctx, t.primary.region, t.primary.fs_id))
    else:
        # The primary stack was not readable: its file system is not known, nor what its side says.
        rep = UNKNOWN_VALUE if read.down(t.primary.region) else None
    # Both sides must agree: a failover that deleted only the DR side leaves the primary's half.
    dr_side = read(t.dr.region, lambda: replication_of(ctx, t.dr.region, t.dr.fs_id))

    def text(r: Any) -> str:
        if r is None:
            return "no replication"
        d = destination(r)
        return (
            f"{r.get('SourceFileSystemId')} ({r.get('SourceFileSystemRegion', '?')}) -> "
            f"{d.get('FileSystemId')} ({d.get('Region', '?')}, {d.get('Status')})"
        )

    known = rep is not UNKNOWN_VALUE and dr_side is not UNKNOWN_VALUE
    if known:
        if rep is not None and dr_side is None:
            report.notes.append(
                f"{t.primary.fs_id}'s configuration exists only on the {t.primary.region} side"
            )
            rep = None
        live = text(rep if rep is not None else dr_side)
    elif dr_side is not UNKNOWN_VALUE:
        live = f"{t.dr.region} side: {text(dr_side)}; {_unknown(t.primary.region)}"
    else:
        live = _unknown(t.dr.region)
    d = destination(rep) if isinstance(rep, dict) else {}
    report.findings.append(
        StoreFinding(
            "efs",
            t.primary.stack,
            p_phys.get("FileSystem", t.primary.fs_id),
            f"{t.primary.fs_id or '?'} ({t.primary.region}) -> {t.dr.fs_id} ({t.dr.region})",
            live,
            known
            and isinstance(rep, dict)
            and rep.get("SourceFileSystemId") == t.primary.fs_id
            and d.get("FileSystemId") == t.dr.fs_id,
            t.primary.region,
            known,
        )
    )


def _redis(ctx: StepContext, read: _Reader, t: FailbackTopology, report: ReconcileReport) -> None:
    if not t.global_datastore_id:
        return
    members: Any = UNKNOWN_VALUE
    # The Global Datastore is global: either region lists every member and its role.
    for region in (t.dr.region, t.primary.region):
        members = read(region, lambda region=region: _gds_members(ctx, region, t.global_datastore_id))  # type: ignore[misc]
        if members is not UNKNOWN_VALUE:
            break
    if members is UNKNOWN_VALUE:
        live, ok, known = "unknown: neither region answers", False, False
    elif members is None:
        live, ok, known = f"Global Datastore {t.global_datastore_id} not found", False, True
    else:
        roles = {m.get("ReplicationGroupRegion"): str(m.get("Role", "")).upper() for m in members}
        live = (
            ", ".join(
                f"{m.get('ReplicationGroupId')} {str(m.get('Role', '')).upper()} in "
                f"{m.get('ReplicationGroupRegion')}"
                for m in members
            )
            or "no members"
        )
        ok, known = roles.get(t.primary.region) == "PRIMARY" and roles.get(t.dr.region) == "SECONDARY", True
    report.findings.append(
        StoreFinding(
            "redis",
            t.primary.stack,
            t.global_datastore_id,
            f"{t.primary.redis_group_id or '?'} PRIMARY in {t.primary.region}, "
            f"{t.dr.redis_group_id or '?'} SECONDARY in {t.dr.region}",
            live,
            ok,
            t.primary.region,
            known,
        )
    )


def _gds_members(ctx: StepContext, region: str, global_id: str) -> list[dict[str, Any]] | None:
    try:
        groups = ctx.client("elasticache", region).describe_global_replication_groups(
            GlobalReplicationGroupId=global_id, ShowMemberInfo=True
        )["GlobalReplicationGroups"]
    except ClientError as e:
        if error_code(e) == "GlobalReplicationGroupNotFoundFault":
            return None
        raise
    return [dict(m) for m in (groups[0].get("Members") or [])] if groups else None


def _secrets(ctx: StepContext, read: _Reader, t: FailbackTopology, report: ReconcileReport) -> None:
    for name in t.secret_names:
        dr = read(t.dr.region, lambda name=name: _secret(ctx, t.dr.region, name))  # type: ignore[misc]
        prim = read(t.primary.region, lambda name=name: _secret(ctx, t.primary.region, name))  # type: ignore[misc]
        if dr is UNKNOWN_VALUE:
            live, ok, known = _unknown(t.dr.region), False, False
        elif dr is None:
            live, ok, known = f"absent in {t.dr.region}", False, True
        elif dr.get("PrimaryRegion") and dr.get("PrimaryRegion") != t.dr.region:
            if prim is UNKNOWN_VALUE:
                live, ok, known = (
                    f"replica of {dr['PrimaryRegion']}; {_unknown(t.primary.region)}",
                    False,
                    False,
                )
            else:
                status = {
                    r.get("Region"): r.get("Status") for r in (prim or {}).get("ReplicationStatus") or []
                }
                ok = dr.get("PrimaryRegion") == t.primary.region and status.get(t.dr.region) == "InSync"
                live = f"replica of {dr['PrimaryRegion']} ({status.get(t.dr.region) or 'no status'})"
                known = True
        else:
            live, ok, known = f"standalone in {t.dr.region} (promoted: not replicated)", False, True
        report.findings.append(
            StoreFinding(
                "secrets",
                t.primary.stack,
                name,
                f"primary in {t.primary.region}, replica in {t.dr.region}",
                live,
                ok,
                t.dr.region,
                known,
            )
        )


def _secret(ctx: StepContext, region: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("secretsmanager", region).describe_secret(SecretId=name))
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:160]
