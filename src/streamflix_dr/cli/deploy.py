"""``streamflix-dr deploy --env NAME``: both regions, in order, through change sets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streamflix_dr.cli.common import AppContext, stack_operation_options, target_options
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.orchestrator import Timeouts, deploy
from streamflix_dr.deploy.plan import Plan, StageResult
from streamflix_dr.deploy.stacks import StackEvent, Timing


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
        lines.append(f"  {c.action:<8} {c.logical_id:<36} {c.resource_type}{repl}")
    return "\n".join(lines)


def render_stage(stage: StageResult) -> str:
    return (
        f"{stage.region} {stage.stack} [{stage.role.value}/{stage.phase.value}]: {stage.action} "
        f"({stage.detail}, {stage.seconds:.1f}s)"
    )


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
    poll_interval: float,
    timeout_minutes: int | None,
    app: AppContext,
) -> None:
    """Deploy both regions: DR base, primary, DR full (the replica). Running it again resumes."""
    env = load_environment(env_name)
    timeouts = Timeouts(timing=Timing(poll_interval=poll_interval))
    if timeout_minutes:
        timeouts.stack_minutes = timeouts.dr_full_minutes = timeout_minutes

    def confirm(plan: Plan) -> bool:
        click.echo(render_plan(plan), err=True)
        if yes:
            return True
        return click.confirm(f"Execute this {plan.action} of {plan.stack} in {plan.region}?", err=True)

    def on_event(ev: StackEvent) -> None:
        click.echo(render_event(ev), err=True)

    def on_stage(stage: StageResult) -> None:
        click.echo(render_stage(stage), err=True)

    click.echo(
        f"Deploying {env.name} to {app.target.describe()}: {env.dr_region} (DR base), "
        f"{env.primary_region} (primary), {env.dr_region} (DR full)",
        err=True,
    )
    try:
        result = deploy(
            env,
            app.factory,
            confirm=confirm,
            on_event=on_event,
            timeouts=timeouts,
            outputs_dir=outputs_dir,
            on_stage=on_stage,
        )
    except KeyboardInterrupt:
        # CloudFormation goes on with a running operation; the rerun waits for it and continues.
        click.echo(
            f"\nInterrupted. A running stack operation continues in AWS; run "
            f"`streamflix-dr deploy --env {env_name}` again to resume.",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(
        f"{'Deployed' if result.changed else 'No changes in'} {env.name} in {result.seconds:.1f}s. "
        f"Outputs: {', '.join(result.output_files)}"
    )
