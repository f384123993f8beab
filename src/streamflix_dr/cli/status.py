"""``streamflix-dr status --env NAME``: both regions' stacks, the active region, which way each store
replicates (read from the services), the environment lock and any unfinished failover operation."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from streamflix_dr.cli.common import AppContext, target_options
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.status import StatusReport, status
from streamflix_dr.errors import EndpointError
from streamflix_dr.locking import LockHolder

DIRECTIONS = {
    "normal": "normal (primary takes the writes, every store as the stacks declare)",
    "failed-over": "FAILED OVER (the DR region takes the writes; deploy needs --allow-failed-over)",
    "primary-active": "primary takes the writes, but not every store is as the stacks declare",
    "split": "SPLIT: both databases are writable and neither is fenced",
    "unknown": "unknown (a region that decides it does not answer)",
    "not-deployed": "not deployed",
}


def _command_of(op: dict[str, Any]) -> str:
    """The command that runs (and resumes) an operation of the runner: failover or failback (one lock)."""
    text = f"{op.get('direction', '')} {op.get('operation_id', '')}"
    return "failback" if "failback" in text else "failover"


def render_status(report: StatusReport) -> str:
    state = "deployed" if report.deployed else "not fully deployed"
    if report.failed_over:
        state += f", FAILED OVER: {report.active_region} takes the writes"
    lines = [f"Environment {report.env}: {state}"]
    if report.active_region:
        lines.append(f"Active region: {report.active_region} ({report.active_basis})")
    rec = report.reconcile or {}
    if rec.get("direction"):
        lines.append(f"Direction: {DIRECTIONS.get(rec['direction'], rec['direction'])}")
    for region, state in (rec.get("regions") or {}).items():
        if state != "answers":
            lines.append(f"Region {region} {state}: what it holds is unknown")
    for s in report.stacks:
        phase = f" phase={s.phase}" if s.phase else ""
        lines.append(
            f"{s.role.value:<8} {s.region:<10} {s.stack:<32} {s.status}{phase}"
            + (f"  ({s.reason})" if s.reason else "")
        )
        lines += [f"    {k:<28} {v}" for k, v in s.outputs.items()]
    if rec.get("findings"):
        lines.append("Data stores (declared by the stacks | live, as AWS reports it):")
        for f in rec["findings"]:
            mark = "ok" if f["matches"] else ("UNKNOWN" if not f.get("known", True) else "DIFFERS")
            lines.append(f"  {f['store']:<8} {f.get('region', ''):<10} {mark:<8} {f['declared']}")
            lines.append(f"  {'':<8} {'':<10} {'':<8} live: {f['live']}")
        lines += [f"  note: {n}" for n in rec.get("notes") or []]
    elif report.stores:
        lines.append("Replication (as the services report it):")
        lines += [
            f"  {st.store:<28} writes in {st.primary_region or '?':<10} {st.detail}" for st in report.stores
        ]
    now = time.time()
    if report.lock:
        holder = LockHolder.from_json(json.dumps(report.lock))
        lines.append(f"Environment lock: held by {holder.describe(now) if holder else report.lock}")
    else:
        lines.append("Environment lock: free")
    op = report.operation
    if op and op.get("unfinished"):
        lines.append(
            f"Unfinished {op['direction']} operation {op['operation_id']} ({op['status']}, "
            f"owner {op['owner']}): rerun `streamflix-dr {_command_of(op)} --env {report.env}` to resume it"
        )
    elif op:
        lines.append(
            f"Last {_command_of(op)} operation: {op['operation_id']} ({op['direction']}) {op['status']}"
        )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


@click.command("status")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@target_options
def command(env_name: str, as_json: bool, app: AppContext) -> None:
    """Show both regions' stacks, the active region, each store's direction (declared vs live), the lock
    and any unfinished operation (read-only). Exit 8 when a region did not answer (the rest is shown)."""
    env = load_environment(env_name)
    app.probe(env.dr_region)
    report = status(env, app.factory)
    click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True) if as_json else render_status(report))
    if report.unanswered:
        # Everything the answering regions said is printed above; the exit code says it is incomplete
        # (docs/operations.md: 8, an AWS endpoint did not answer).
        silent = ", ".join(report.unanswered)
        raise EndpointError(
            f"{silent} did not answer: the report above shows everything else; its rows for {silent} are "
            "unknown.",
            fix="check the region's health (https://health.aws.amazon.com/) and the endpoint; rerun "
            f"`streamflix-dr status --env {env_name}` when it answers",
        )
