"""``streamflix-dr failover --env NAME``: plan, readiness gate, confirmation, journaled run, report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from streamflix_dr.cli.common import AppContext, target_options
from streamflix_dr.cli.readiness import render_text
from streamflix_dr.config import load_environment
from streamflix_dr.constants import StepId
from streamflix_dr.errors import FailoverError, ReadinessError
from streamflix_dr.readiness.core import ReadinessReport, run_readiness
from streamflix_dr.report.model import build_report, summary
from streamflix_dr.report.render import write_report
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
@click.option("--break-lock", is_flag=True, help="Take the lock from a run that is known to be dead.")
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
    resolved = resolve(app.factory, env)
    for w in resolved.warnings:
        click.echo(f"warning: {w}", err=True)
    report = run_readiness(app.factory, readiness_target(env, resolved.dr_outputs), now=time.time())
    click.echo(render_text(report), err=True)
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
    plan = runner.plan()
    click.echo(render_plan(plan), err=True)
    if dry_run:
        click.echo("Dry run: nothing changed.", err=True)
        return
    gate(report, force)
    if not yes and not click.confirm(f"Fail over {env.name} to {env.dr_region} now?", err=True):
        raise click.exceptions.Abort
    result = runner.run(operation_id=operation_id, break_lock=break_lock)
    doc = build_report(
        result,
        kind="failover",
        environment=env.name,
        rto_target_seconds=env.rto_target_seconds,
        readiness=report.to_dict(),
    )
    paths = write_report(doc, reports_dir / result.operation_id)
    doc["report_path"] = str(paths["markdown"])
    if as_json:
        click.echo(json.dumps(summary(doc), indent=2, default=str))
    click.echo(f"Report: {paths['markdown']} (JSON {paths['json']}, timeline {paths['svg']})", err=True)
    if not result.succeeded:
        raise FailoverError(
            f"failover {result.operation_id} stopped: {result.error}.",
            fix="the journal is kept; fix the cause and rerun the same command to resume",
        )
    click.echo(f"Failover {result.operation_id} done: RTO {doc['rto_seconds']:.0f} s.", err=True)
