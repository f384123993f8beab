"""``streamflix-dr drill``: a full DR drill against the embedded emulator (``--emulator``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from streamflix_dr.cli.common import AppContext, target_options
from streamflix_dr.cli.failover import render_event
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.destroy import destroy
from streamflix_dr.drill import DrillOptions, run_drill
from streamflix_dr.report.model import summary

HEALTH_CHECK_MIN_SCALE = 0.2


def engines_on(time_scale: float) -> None:
    """The embedded emulator runs the real engines for a drill (PostgreSQL, Valkey, EFS directories, the app
    as ECS task processes, load balancers), with health-check intervals on the drill's time scale."""
    from streamflix_dr_emulator import engines  # noqa: PLC0415 - only with --emulator
    from streamflix_dr_emulator.engines import ecs_tasks  # noqa: PLC0415

    engines.enable(True)
    # Health checks run on the drill's time scale, but no faster than a fifth of AWS's: each check does
    # real work in the app (SELECT 1, PING, statvfs over TLS) that takes a good fraction of a second on
    # two shared cores; at 1/60 (a 15 s interval every 0.25 s, a 0.2 s timeout) checks pile up in the
    # app and every target turns unhealthy. At 1/5: a check every 3 s, a 1 s timeout.
    ecs_tasks.configure(time_scale=max(HEALTH_CHECK_MIN_SCALE, min(1.0, 1.0 / time_scale)))


@click.command("drill")
@click.option("--env", "env_name", default="dev", show_default=True, help="Environment name or path.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report summary as one JSON object on stdout."
)
@click.option(
    "--time-scale",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="AWS seconds per drill second for the latency model (60: a minute becomes a second).",
)
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where drills/<operation id>/ and history.jsonl are written.",
)
@click.option("--keep", is_flag=True, help="Do not tear the stacks down at the end.")
@click.option(
    "--no-failback", is_flag=True, help="Stop after the first failover (no failback, no second failover)."
)
@target_options
def command(
    *,
    env_name: str,
    as_json: bool,
    time_scale: float,
    reports_dir: Path,
    keep: bool,
    no_failback: bool,
    app: AppContext,
) -> None:
    """Deploy, write under load through the primary's load balancer, check readiness, fail the primary
    region, fail over, read everything back through the DR load balancer; then fail back (re-protect,
    cut back under load, re-protect the original direction) and fail over a second time; tear down, and
    report. Needs the emulator (--emulator: its real engines and region outage are switched on)."""
    env = load_environment(env_name)
    app.probe(env.dr_region)
    opts = DrillOptions(
        time_scale=time_scale, reports_dir=reports_dir, teardown=not keep, failback=not no_failback
    )
    finished = False
    if app.emulator:
        engines_on(time_scale)
    try:
        doc = run_drill(
            env,
            app.factory,
            app.target.endpoint_url,
            options=opts,
            progress=lambda m: click.echo(f"drill: {m}", err=True),
            on_event=lambda ev: click.echo(render_event(ev), err=True),
        )
        finished = True
    finally:
        if not finished and not keep:
            # A drill tears down what it deployed whatever happens (a failure half way, Ctrl-C).
            click.echo(f"drill: stopped early; tearing down {env.name} ...", err=True)
            try:
                if app.target.endpoint_url:
                    # The drill may have failed the primary region (it is an emulator-only command):
                    # bring it back so that teardown can reach both regions.
                    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

                    DataPlaneClient(app.target.endpoint_url).restore_region(env.primary_region)
                destroy(env, app.factory, confirm=lambda _p: True)
                click.echo(f"drill: torn down {env.name}.", err=True)
            except (Exception, KeyboardInterrupt) as e:  # never mask why the drill stopped
                click.echo(
                    f"drill: teardown of {env.name} failed ({e}); "
                    f"run `streamflix-dr destroy --env {env_name}`",
                    err=True,
                )
        if app.emulator:
            from streamflix_dr_emulator import engines  # noqa: PLC0415 - the embedded emulator's

            engines.shutdown_all()  # every server, app process and load balancer this drill started
    if as_json:
        click.echo(json.dumps(summary(doc), default=str))
    else:
        click.echo(
            f"Drill {doc['result']}: RTO {doc['rto_modelled_seconds']:.0f} s modelled "
            f"({doc['rto_seconds']:.1f} s real), serial {doc['rto_serial_seconds']:.0f} s, overhead "
            f"{doc['overhead_fraction'] * 100:.1f} %, RPO {doc['rpo_seconds']}"
        )
        fb = doc.get("failback") or {}
        if fb:
            click.echo(
                f"Failback {fb.get('result')}: cut-back {fb.get('rto_modelled_seconds')} s modelled, writes "
                f"unavailable {fb.get('write_unavailable_seconds')} s modelled, lost {fb.get('lost')}, "
                f"re-protect {fb.get('reprotect_seconds')} s modelled; second failover "
                f"{(doc.get('second_failover') or {}).get('result')}"
            )
    click.echo(f"Report: {doc['report_path']}", err=True)
    if doc["result"] != "succeeded":
        sys.exit(1)
