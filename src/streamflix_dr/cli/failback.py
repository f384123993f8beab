"""``streamflix-dr failback --env NAME [--phase ...]``: plan, confirmation, journaled run, report.

Registration (cli/main.py COMMANDS, owned by the CLI's maintainer): ``"failback": "failback"``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from streamflix_dr.cli.common import CURRENT, AppContext, target_options, typed_command
from streamflix_dr.cli.failover import render_event, render_plan
from streamflix_dr.config import load_environment
from streamflix_dr.errors import AbortedByUser
from streamflix_dr.failback.base import FailbackError, Phase
from streamflix_dr.failback.report import build_failback_report, write_failback_report
from streamflix_dr.failback.session import build_failback_runner, resolve_failback
from streamflix_dr.locking import EnvironmentLock
from streamflix_dr.runbook.latency import Latency, load_model

PHASE_CHOICES = [p.value for p in Phase] + ["all"]


def phases_of(choice: str) -> list[Phase]:
    return list(Phase) if choice == "all" else [Phase(choice)]


@click.command("failback")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option(
    "--phase",
    type=click.Choice(PHASE_CHOICES),
    default="all",
    show_default=True,
    help="reprotect (hours, while still in DR), cutback (the planned window), reprotect-original, or all.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation after showing the plan.")
@click.option("--dry-run", is_flag=True, help="Show the plan with expected durations, then stop.")
@click.option(
    "--force",
    is_flag=True,
    help="Cut back even if a store has not drained; the report shows what was lost.",
)
@click.option(
    "--operation-id", default=None, help="Resume this operation (default: the unfinished one, or new)."
)
@click.option("--break-lock", is_flag=True, help="Take the lock from a run that is known to be dead.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where <operation id>/report.json and report.md are written.",
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
    phase: str,
    yes: bool,
    dry_run: bool,
    force: bool,
    operation_id: str | None,
    break_lock: bool,
    as_json: bool,
    reports_dir: Path,
    journal_dir: Path,
    app: AppContext,
) -> None:
    """Fail back from the DR region to the primary, with no acknowledged write lost.

    Re-protects (replication towards the primary), cuts back in a window (fence, drain, promote,
    DNS, verify) and re-protects the original direction. Journaled like a failover: the same command
    resumes an interrupted run.
    """
    env = load_environment(env_name)
    topology = resolve_failback(app.factory, env)
    runner = build_failback_runner(
        app.factory,
        topology,
        phases_of(phase),
        journal_dir=journal_dir,
        force=force,
        max_lag_seconds=env.max_replica_lag_seconds,
        latency=Latency.off(load_model()),
        on_event=lambda ev: click.echo(render_event(ev), err=True),
    )
    plan = runner.plan()
    click.echo(render_plan(plan).replace("Failover plan", "Failback plan", 1), err=True)
    if dry_run:
        click.echo("Dry run: nothing changed.", err=True)
        return
    cut = Phase.CUTBACK in phases_of(phase)
    question = (
        f"Cut {env.name} back to {env.primary_region} now (writes stop for the window above)?"
        if cut
        else f"Re-protect {env.name} now?"
    )
    if not yes and not click.confirm(question, err=True):
        raise AbortedByUser(f"failback of {env.name} declined; nothing was changed.", fix="rerun and confirm")
    op_id, _ = runner.resolve_operation(operation_id)
    CURRENT.operation_id = op_id
    CURRENT.resume = f"streamflix-dr failback --env {env_name} --phase {phase}" + (
        f" --endpoint-url {app.target.endpoint_url}" if app.target.endpoint_url and not app.emulator else ""
    )
    CURRENT.doing = f"running failback {op_id}"
    # One environment lock for deploy, destroy, failover and failback alike (issue 8).
    env_lock = EnvironmentLock(app.factory.client("ssm", env.dr_region), env.dr_region, env.suffix)
    with env_lock.held("failback", operation_id=op_id, argv=typed_command(), force=break_lock):
        if env_lock.took_over:
            click.echo(
                f"Took over the environment lock of {env_lock.took_over.describe(time.time())}: "
                f"{env_lock.took_over_reason}.",
                err=True,
            )
        result = runner.run(operation_id=op_id, break_lock=break_lock)
    CURRENT.doing = ""
    doc = build_failback_report(result, environment=env.name)
    paths = write_failback_report(doc, reports_dir / result.operation_id)
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    click.echo(f"Report: {paths['markdown']} (JSON {paths['json']})", err=True)
    if not result.succeeded:
        raise FailbackError(
            f"failback {result.operation_id} stopped: {result.error}.",
            fix="the journal is kept; fix the cause (or wait for the drain) and rerun the same command",
        )
    click.echo(
        f"Failback {result.operation_id} done: write-unavailability {doc['write_unavailable_seconds']} s "
        f"(modelled), lost {doc['lost']}.",
        err=True,
    )
