"""``streamflix-dr failover --env NAME``: plan, readiness gate, confirmation, journaled run, report."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import click

from streamflix_dr.cli.common import CURRENT, AppContext, target_options, typed_command
from streamflix_dr.cli.readiness import render_text
from streamflix_dr.config import load_environment
from streamflix_dr.constants import StepId
from streamflix_dr.errors import AbortedByUser, FailoverError, ReadinessError
from streamflix_dr.locking import EnvironmentLock, pid_alive
from streamflix_dr.readiness.core import ReadinessReport, run_readiness
from streamflix_dr.report.model import build_report, summary
from streamflix_dr.report.render import write_report
from streamflix_dr.runbook.journal import LockState, OperationStatus
from streamflix_dr.runbook.latency import Latency, load_model
from streamflix_dr.runbook.runner import EventKind, Plan, RunEvent
from streamflix_dr.runbook.session import build_runner, readiness_target, resolve
from streamflix_dr.runbook.steps import default_stages


def render_plan(plan: Plan) -> str:
    lines = [
        f"Failover plan {plan.direction} (expected {plan.expected_seconds / 60:.1f} min on the critical "
        f"path, {plan.serial_seconds / 60:.1f} min if run one by one):"
    ]
    for i, (stage, parallel, steps) in enumerate(plan.stages, 1):
        lines.append(f"  {i}. {stage}{' (in parallel)' if parallel and len(steps) > 1 else ''}")
        for s in steps:
            lines.append(f"     - {s.step:<24} ~{s.expected_seconds:>4.0f} s  {s.description}")
    return "\n".join(lines)


def render_event(ev: RunEvent) -> str:
    ts = time.strftime("%H:%M:%S", time.localtime(ev.at)) if ev.at else "--:--:--"
    tag = {EventKind.WARNING: "warning: ", EventKind.STEP_FAILED: "FAILED: "}.get(ev.kind, "")
    step = f"{ev.step:<24} " if ev.step else ""
    return f"{ts} {step}{tag}{ev.message}"


def gate(report: ReadinessReport, force: bool) -> None:
    """Refuse a failover onto a DR region that is not ready, unless forced."""
    if report.ready or force:
        return
    failed = ", ".join(f"{f.check_id} {f.resource}" for f in report.failed)
    raise ReadinessError(
        f"{report.region} is not ready for a failover: {failed}.",
        fix="fix the failed checks (streamflix-dr readiness --env ...), or pass --force if the "
        "primary is lost and you accept the risk",
    )


def unfinished(held: LockState | None, direction: str) -> bool:
    """The journal's lock item points at an operation of this direction that did not succeed."""
    return bool(held and held.status is not OperationStatus.SUCCEEDED and held.direction == direction)


def dead_local_owner(held: LockState | None, now: float, *, host: str | None = None) -> str | None:
    """Why the runner's lock can be taken at once: its owner ran on this host and its PID is gone.

    The runner's owner is ``<hostname>:<pid>`` (runbook/runner.py default_owner)."""
    if held is None or held.lease_until <= now or held.status is not OperationStatus.RUNNING:
        return None
    owner_host, _, pid_text = held.owner.rpartition(":")
    if owner_host != (host or socket.gethostname()) or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid() or pid_alive(pid):
        return None
    return f"its owner, PID {pid} on {owner_host}, no longer runs"


@click.command("failover")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation after showing the plan.")
@click.option("--dry-run", is_flag=True, help="Show readiness and the plan, then stop.")
@click.option("--force", is_flag=True, help="Fail over even when readiness checks fail.")
@click.option(
    "--skip-fence",
    is_flag=True,
    help="Do not fence the old primary (it answers but fencing fails); you must fence it by hand.",
)
@click.option(
    "--operation-id", default=None, help="Resume this operation (default: the unfinished one, or new)."
)
@click.option(
    "--break-lock",
    is_flag=True,
    help="Take the failover lock and the environment lock from a run that is known to be dead (a holder on "
    "this host whose process is gone is taken over without it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report summary as JSON on stdout.")
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where <operation id>/report.json, report.md and timeline.svg are written.",
)
@click.option(
    "--journal-dir",
    type=click.Path(path_type=Path),
    default=Path("reports/journal"),
    show_default=True,
    help="Local copy of the journal (the DR region's table is authoritative).",
)
@target_options
def command(
    *,
    env_name: str,
    yes: bool,
    dry_run: bool,
    force: bool,
    skip_fence: bool,
    operation_id: str | None,
    break_lock: bool,
    as_json: bool,
    reports_dir: Path,
    journal_dir: Path,
    app: AppContext,
) -> None:
    """Fail over from the primary region to the DR region.

    Fences the old primary (when it answers), promotes the database, fails over EFS and Redis, stops
    secret replication, scales ECS, points DNS at the DR region and verifies it serves. Every step is
    journaled in the DR region; a rerun resumes an interrupted run.
    """
    env = load_environment(env_name)
    app.probe(env.dr_region)
    CURRENT.doing = "reading both regions' stacks"
    resolved = resolve(app.factory, env)
    for w in resolved.warnings:
        click.echo(f"warning: {w}", err=True)
    # Plan figures come from the latency model; on AWS it is never slept (enabled=False).
    skip = {StepId.FENCE_PRIMARY: "--skip-fence: fence the old primary by hand (docs/failover.md, Fencing)"}
    runner = build_runner(
        app.factory,
        resolved.topology,
        journal_dir=journal_dir,
        stages=default_stages(skip if skip_fence else None),
        latency=Latency.off(load_model()),
        on_event=lambda ev: click.echo(render_event(ev), err=True),
    )
    held = runner.lock.read()
    resuming = operation_id is None and unfinished(held, runner.topology.direction)
    report: ReadinessReport | None = None
    if resuming:
        assert held is not None
        click.echo(
            f"Resuming unfinished {held.direction} operation {held.operation_id} ({held.status}): the "
            "readiness gate is skipped, because a half-done failover makes the DR region look not ready; "
            "steps the journal records as done are not run again.",
            err=True,
        )
    else:
        CURRENT.doing = f"checking readiness of {env.dr_region}"
        report = run_readiness(app.factory, readiness_target(env, resolved.dr_outputs), now=time.time())
        click.echo(render_text(report), err=True)
    plan = runner.plan()
    click.echo(render_plan(plan), err=True)
    if dry_run:
        click.echo("Dry run: nothing changed.", err=True)
        return
    if report is not None:
        gate(report, force)
    if not yes and not click.confirm(f"Fail over {env.name} to {env.dr_region} now?", err=True):
        raise AbortedByUser(f"failover of {env.name} declined; nothing was changed.", fix="rerun and confirm")
    op_id, _ = runner.resolve_operation(operation_id)
    CURRENT.operation_id = op_id
    CURRENT.resume = f"streamflix-dr failover --env {env_name}" + (
        f" --endpoint-url {app.target.endpoint_url}" if app.target.endpoint_url and not app.emulator else ""
    )
    dead = dead_local_owner(held, time.time()) if held and held.operation_id == op_id else None
    if dead:
        click.echo(f"Taking over the failover lock of {op_id} at once: {dead}.", err=True)
    env_lock = EnvironmentLock(app.factory.client("ssm", env.dr_region), env.dr_region, env.suffix)
    CURRENT.doing = f"running failover {op_id}"
    with env_lock.held("failover", operation_id=op_id, argv=typed_command(), force=break_lock):
        if env_lock.took_over:
            click.echo(
                f"Took over the environment lock of {env_lock.took_over.describe(time.time())}: "
                f"{env_lock.took_over_reason}.",
                err=True,
            )
        result = runner.run(operation_id=op_id, break_lock=break_lock or bool(dead))
    CURRENT.doing = ""
    doc = build_report(
        result,
        kind="failover",
        environment=env.name,
        rto_target_seconds=env.rto_target_seconds,
        readiness=report.to_dict() if report is not None else None,
    )
    paths = write_report(doc, reports_dir / result.operation_id)
    doc["report_path"] = str(paths["markdown"])
    if as_json:
        click.echo(json.dumps(summary(doc), indent=2, default=str))
    click.echo(f"Report: {paths['markdown']} (JSON {paths['json']}, timeline {paths['svg']})", err=True)
    if not result.succeeded:
        raise FailoverError(
            f"failover {result.operation_id} stopped: {result.error}.",
            fix=f"the journal is kept; fix the cause and rerun `{CURRENT.resume}` to resume",
        )
    click.echo(f"Failover {result.operation_id} done: RTO {doc['rto_seconds']:.0f} s.", err=True)
