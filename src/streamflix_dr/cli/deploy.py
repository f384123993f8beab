"""``streamflix-dr deploy --env NAME``: both regions, in order, through change sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from streamflix_dr.cli.common import (
    CURRENT,
    AppContext,
    stack_operation_options,
    target_options,
    typed_command,
)
from streamflix_dr.cli.preflight import preflight
from streamflix_dr.config import Environment, load_environment, refuse_placeholders
from streamflix_dr.constants import Role
from streamflix_dr.deploy.orchestrator import FailedOver, Timeouts, account_id, artifact_buckets, deploy
from streamflix_dr.deploy.plan import Plan, StageResult
from streamflix_dr.deploy.stacks import StackEvent, Timing
from streamflix_dr.errors import AbortedByUser, EndpointError, FailedOverError
from streamflix_dr.failback.reconcile import NORMAL, NOT_DEPLOYED, ReconcileReport, reconcile_report
from streamflix_dr.locking import EnvironmentLock


def render_event(ev: StackEvent) -> str:
    ts = ev.timestamp.strftime("%H:%M:%S") if ev.timestamp else "--:--:--"
    reason = f"  {ev.reason}" if ev.reason else ""
    return f"{ts} {ev.region:<10} {ev.logical_id:<36} {ev.resource_type:<40} {ev.status}{reason}"


def render_plan(plan: Plan) -> str:
    lines = [f"{plan.region} {plan.stack} ({plan.role.value}, phase {plan.phase.value}): {plan.action}"]
    if plan.reason:
        lines.append(f"  {plan.reason}")
    if plan.template_url:
        lines.append(f"  template: {plan.template_url}")
    if not plan.changes and plan.action != "recreate":
        lines.append("  (no resource changes: parameter values or outputs change)")
    for c in plan.changes:
        repl = f"  replacement={c.replacement}" if c.replacement else ""
        store = "  [data store]" if c in plan.data_store_changes else ""
        lines.append(f"  {c.action:<8} {c.logical_id:<36} {c.resource_type}{repl}{store}")
    if plan.action in ("update", "recreate"):
        touched = plan.data_store_changes
        lines.append(
            "  data stores: "
            + (
                "unchanged (no database, file system, cache, secret, table or key is modified)"
                if not touched
                else "CHANGED: " + ", ".join(f"{c.logical_id} ({c.action})" for c in touched)
            )
        )
    for c, why in plan.refused:
        lines.append(f"  REFUSED (failed over): {c.logical_id} ({c.resource_type}) {why}")
    return "\n".join(lines)


def render_stage(stage: StageResult) -> str:
    return (
        f"{stage.region} {stage.stack} [{stage.role.value}/{stage.phase.value}]: {stage.action} "
        f"({stage.detail}, {stage.seconds:.1f}s)"
    )


def deploy_mode(
    env: Environment, app: AppContext, *, allow_failed_over: bool, say: Callable[[str], None]
) -> FailedOver | None:
    """Which deploy fits what runs, from AWS itself (``reconcile_report``): the normal one (None) while the
    DR database is a replica; while it is not (failed over, split, cut back but not re-protected) refuse, or
    with ``allow_failed_over`` the guarded DR-only deploy (``FailedOver``)."""
    report = reconcile_report(app.factory, env)
    for region in report.unanswered:
        say(f"note: {region} {report.regions[region]}")
    if not report.dr_database_writable:
        if report.unanswered:
            silent = ", ".join(report.unanswered)
            raise EndpointError(
                f"{silent} does not answer and environment {env.name} is not failed over (its DR database is "
                "not writable): a deploy in the normal direction needs both regions.",
                fix="wait until the region answers (https://health.aws.amazon.com/), or fail over first "
                f"(streamflix-dr failover --env {env.name}) and then deploy with --allow-failed-over",
            )
        if report.direction not in (NORMAL, NOT_DEPLOYED):
            say(f"note: the environment is {report.direction}: " + _differences(report))
        return None
    dr_db = next((f.live for f in report.findings if f.store == "rds" and f.region == env.dr_region), "")
    what = (
        f"environment {env.name} is failed over: its DR database in {env.dr_region} is no longer a replica "
        f"({dr_db}); active region: {report.active_region or 'unknown'}"
    )
    if not allow_failed_over:
        raise FailedOverError(
            f"{what}. A deploy now would apply the normal-direction template (primary in "
            f"{env.primary_region}, replica in {env.dr_region}) over it.",
            fix="fail back first (streamflix-dr failback); or rerun with --allow-failed-over: it deploys the "
            "DR stack only, keeps every data store's parameters as deployed, runs the DR service at the "
            "primary's capacity and refuses a change set that replaces, removes or changes a data store",
        )
    active = (
        report.active_region if report.active_region in (env.primary_region, env.dr_region) else env.dr_region
    )
    mode = FailedOver.for_env(env, active, reason=what)
    desired, low, high = mode.capacity
    say(
        f"note: {what}. --allow-failed-over: deploying the DR stack only, data-store parameters as deployed, "
        f"its service at desired {desired} (min {low}, max {high}); the primary stack is skipped."
    )
    return mode


def _differences(report: ReconcileReport) -> str:
    off = [f"{f.store} {f.region or f.stack}: {f.live}" for f in report.findings if not f.matches]
    return "; ".join(off) or "every store matches"


@click.command("deploy")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--yes", is_flag=True, help="Do not ask before executing change sets or recreating stacks.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout (progress on stderr)."
)
@click.option(
    "--outputs-dir",
    type=click.Path(path_type=Path),
    default=Path("cfn-outputs"),
    show_default=True,
    help="Where <region>.json and flat-outputs.json are written.",
)
@click.option(
    "--allow-failed-over",
    is_flag=True,
    help="While failed over (the DR database is promoted): deploy the DR stack only, data stores as "
    "deployed, its service at the primary's capacity; refuse a change set that replaces, removes or changes "
    "a data store.",
)
@click.option(
    "--skip-preflight", is_flag=True, help="Do not check certificates, zone and instance offerings first."
)
@stack_operation_options(
    "Bound on each stack operation [default: 90; 240 for the DR phase that creates the replica]."
)
@target_options
def command(
    *,
    env_name: str,
    yes: bool,
    as_json: bool,
    outputs_dir: Path,
    allow_failed_over: bool,
    skip_preflight: bool,
    poll_interval: float,
    timeout_minutes: int | None,
    app: AppContext,
) -> None:
    """Deploy both regions: DR base, primary, DR full (the replica). Running it again resumes."""
    env = load_environment(env_name)
    refuse_placeholders(env)
    app.probe(env.dr_region)
    say = lambda m: click.echo(m, err=True)  # noqa: E731
    timeouts = Timeouts(timing=Timing(poll_interval=poll_interval, on_wait=say))
    if timeout_minutes:
        timeouts.stack_minutes = timeouts.dr_full_minutes = timeout_minutes
    lock = EnvironmentLock(app.factory.client("ssm", env.dr_region), env.dr_region, env.suffix)
    with lock.held("deploy", argv=typed_command()):
        if lock.took_over:
            say(f"Took over the environment lock of {lock.took_over.describe(0)}: {lock.took_over_reason}.")
        CURRENT.doing = "comparing both stacks with the live data stores (is the environment failed over?)"
        failed_over = deploy_mode(env, app, allow_failed_over=allow_failed_over, say=say)
        if failed_over and not skip_preflight:
            say("note: preflight skipped while failed over (it checks both regions; the DR stack exists).")
            skip_preflight = True
        if not skip_preflight:
            CURRENT.doing = "checking certificates, hosted zone and instance offerings (preflight)"
            for line in preflight(env, app.factory):
                say(f"preflight: {line}")
        # The artifact buckets are created before the first change set; note which exist now, so a "no"
        # to the first change set can remove the ones this run created.
        region = env.dr_region if failed_over else env.primary_region
        buckets = {
            role: b
            for role, b in artifact_buckets(env, app.factory, account_id(app.factory, region)).items()
            if not failed_over or role is Role.DR
        }
        existed = {role: b.exists() for role, b in buckets.items()}
        executed: list[StageResult] = []

        def confirm(plan: Plan) -> bool:
            say(render_plan(plan))
            CURRENT.doing = f"waiting for {plan.stack} in {plan.region} ({plan.action})"
            if yes:
                return True
            return click.confirm(f"Execute this {plan.action} of {plan.stack} in {plan.region}?", err=True)

        def on_stage(stage: StageResult) -> None:
            executed.append(stage)
            say(render_stage(stage))

        say(
            f"Deploying {env.name} to {app.target.describe()}: {env.dr_region} (DR base), "
            f"{env.primary_region} (primary), {env.dr_region} (DR full)"
        )
        try:
            result = deploy(
                env,
                app.factory,
                confirm=confirm,
                on_event=lambda ev: say(render_event(ev)),
                timeouts=timeouts,
                outputs_dir=outputs_dir,
                on_stage=on_stage,
                failed_over=failed_over,
                show=lambda plan: say(render_plan(plan)),
            )
        except AbortedByUser as e:
            if any(s.action not in ("no-op", "skipped") for s in executed):
                raise
            removed = [b.name for role, b in buckets.items() if not existed[role] and b.remove()]
            kept = [b.name for role, b in buckets.items() if existed[role]]
            raise AbortedByUser(
                f"{e.message} Nothing of {env.name} was changed"
                + (
                    f"; the artifact buckets this run created were removed ({', '.join(removed)})"
                    if removed
                    else ""
                )
                + (f"; the artifact buckets from earlier runs remain ({', '.join(kept)})" if kept else "")
                + ".",
                fix=e.fix,
            ) from e
    CURRENT.doing = ""
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(
        f"{'Deployed' if result.changed else 'No changes in'} {env.name} in {result.seconds:.1f}s"
        + (" (failed over: DR stack only)" if result.mode == "failed-over" else "")
        + f". Outputs: {', '.join(result.output_files)}"
    )
