"""Do the stacks match what runs? For each data store: what the template declares vs the live state.

CloudFormation cannot tell: ``SourceDBInstanceIdentifier`` is write-only, so drift detection does not see
a promotion (provider schema, aws-cloudformation-resource-providers-rds), and the Global Datastore's
member roles and the EFS direction are not compared live either. ``reconcile_report`` asks the services.
After a complete failback (and re-protection) every finding matches: the next ``deploy`` of either stack
changes no data store. ``status`` and ``deploy`` can call it (deploy: refuse while anything differs).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.failback.base import FailbackTopology, rds_instance
from streamflix_dr.failback.efs import destination, replication_of
from streamflix_dr.failback.rds import is_replica_of, renamed_instances
from streamflix_dr.failback.redis import member_role
from streamflix_dr.failback.secrets import replicated
from streamflix_dr.failback.session import read_stack, resolve_failback
from streamflix_dr.runbook.steps import StepContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreFinding:
    """One data store: what the stack declares, what runs, whether they match."""

    store: str
    stack: str
    physical_id: str
    declared: str
    live: str
    matches: bool


@dataclass
class ReconcileReport:
    """Every store's finding; ``active_region`` is where the writable DB is."""

    active_region: str
    findings: list[StoreFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(f.matches for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "active_region": self.active_region,
            "matches": self.matches,
            "findings": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
        }


def _db_live(db: dict[str, Any] | None) -> str:
    if db is None:
        return "absent"
    src = db.get("ReadReplicaSourceDBInstanceIdentifier")
    return f"replica of {src}" if src else f"standalone ({db.get('DBInstanceStatus')})"


def reconcile_report(factory: Any, env: Any, topology: FailbackTopology | None = None) -> ReconcileReport:
    """Compare both stacks with the live data stores (read-only)."""
    t = topology or resolve_failback(factory, env)
    ctx = StepContext(factory=factory, topology=t)
    _, _, p_phys = read_stack(factory, t.primary.region, t.primary.stack)
    _, _, d_phys = read_stack(factory, t.dr.region, t.dr.stack)
    primary_db = rds_instance(ctx, t.primary.region, t.primary.db_id)
    dr_db = rds_instance(ctx, t.dr.region, t.dr.db_id)
    active = t.primary.region
    if dr_db is not None and not dr_db.get("ReadReplicaSourceDBInstanceIdentifier"):
        active = t.dr.region if is_replica_of(primary_db, t.dr) or primary_db is None else "both (split)"
    report = ReconcileReport(active_region=active)
    add = report.findings.append
    add(
        StoreFinding(
            "rds",
            t.primary.stack,
            p_phys.get("DbInstance", ""),
            f"{t.primary.db_id}: standalone primary",
            _db_live(primary_db),
            p_phys.get("DbInstance") == t.primary.db_id
            and primary_db is not None
            and not primary_db.get("ReadReplicaSourceDBInstanceIdentifier"),
        )
    )
    add(
        StoreFinding(
            "rds",
            t.dr.stack,
            d_phys.get("DbReplica", ""),
            f"{t.dr.db_id}: replica of {t.primary.db_id} ({t.primary.region})",
            _db_live(dr_db),
            d_phys.get("DbReplica") == t.dr.db_id and is_replica_of(dr_db, t.primary),
        )
    )
    if t.primary.fs_id and t.dr.fs_id:
        try:
            rep = replication_of(ctx, t.primary.region, t.primary.fs_id)
            # Both sides must agree: a failover that deleted only the DR side leaves the primary's half.
            dr_side = replication_of(ctx, t.dr.region, t.dr.fs_id)
        except (ClientError, BotoCoreError) as e:
            rep, dr_side, report.notes = None, None, [*report.notes, f"EFS not readable: {e}"]
        if rep is not None and dr_side is None:
            report.notes.append(
                f"{t.primary.fs_id}'s configuration exists only on the {t.primary.region} side"
            )
            rep = None
        d = destination(rep)
        live = (
            f"{rep.get('SourceFileSystemId')} -> {d.get('FileSystemId')} ({d.get('Status')})"
            if rep
            else "no replication"
        )
        add(
            StoreFinding(
                "efs",
                t.primary.stack,
                p_phys.get("FileSystem", ""),
                f"{t.primary.fs_id} -> {t.dr.fs_id}",
                live,
                rep is not None
                and rep.get("SourceFileSystemId") == t.primary.fs_id
                and d.get("FileSystemId") == t.dr.fs_id,
            )
        )
    if t.global_datastore_id:
        p_role = member_role(ctx, t.primary.region, t.global_datastore_id, t.primary.redis_group_id)
        d_role = member_role(ctx, t.dr.region, t.global_datastore_id, t.dr.redis_group_id)
        add(
            StoreFinding(
                "redis",
                t.primary.stack,
                t.global_datastore_id,
                f"{t.primary.redis_group_id} PRIMARY, {t.dr.redis_group_id} SECONDARY",
                f"{t.primary.redis_group_id} {p_role or 'not a member'}, {t.dr.redis_group_id} "
                f"{d_role or 'not a member'}",
                p_role == "PRIMARY" and d_role == "SECONDARY",
            )
        )
    for name in t.secret_names:
        ok = replicated(ctx, name)
        add(
            StoreFinding(
                "secrets",
                t.primary.stack,
                name,
                f"primary in {t.primary.region}, replica in {t.dr.region}",
                "as declared" if ok else f"not a replica of {t.primary.region} in sync",
                ok,
            )
        )
    olds = [str(db["DBInstanceIdentifier"]) for s in (t.primary, t.dr) for db in renamed_instances(ctx, s)]
    if olds:
        report.notes.append(f"renamed-aside instances still exist (kept until verified): {', '.join(olds)}")
    return report
