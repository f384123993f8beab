"""``streamflix-dr destroy --env NAME``: both regions, in the safe order."""

from __future__ import annotations

import json

import click

from streamflix_dr.cli.common import AppContext, stack_operation_options, target_options
from streamflix_dr.cli.deploy import render_event
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.destroy import DestroyPlan, destroy
from streamflix_dr.deploy.orchestrator import Timeouts
from streamflix_dr.deploy.stacks import StackEvent, Timing


def render_destroy_plan(plan: DestroyPlan) -> str:
    lines = [f"This removes environment {plan.env}:"]
    lines += [f"  stack  {region:<10} {stack} ({status})" for region, stack, status in plan.stacks]
    lines += [f"  bucket {region:<10} {bucket}" for region, bucket in plan.buckets]
    lines.append("  plus EFS replication, the Redis secondary's association, backup recovery points.")
    return "\n".join(lines)


@click.command("destroy")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout (progress on stderr)."
)
@stack_operation_options("Bound on each stack deletion [default: 120].")
@target_options
def command(
    *,
    env_name: str,
    yes: bool,
    as_json: bool,
    poll_interval: float,
    timeout_minutes: int | None,
    app: AppContext,
) -> None:
    """Tear down both regions (replication first, then DR, then primary). Safe to run again."""
    env = load_environment(env_name)
    timeouts = Timeouts(timing=Timing(poll_interval=poll_interval))
    if timeout_minutes:
        timeouts.delete_minutes = timeouts.stack_minutes = timeout_minutes

    def confirm(plan: DestroyPlan) -> bool:
        click.echo(render_destroy_plan(plan), err=True)
        return yes or click.confirm(f"Destroy {plan.env} in both regions?", err=True)

    def on_event(ev: StackEvent) -> None:
        click.echo(render_event(ev), err=True)

    result = destroy(env, app.factory, confirm=confirm, on_event=on_event, timeouts=timeouts)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    for step in result.steps:
        click.echo(f"{step.region:<10} {step.step:<36} {step.action:<13} {step.detail}")
    click.echo(f"Destroyed {env.name} in {result.seconds:.1f}s.")
