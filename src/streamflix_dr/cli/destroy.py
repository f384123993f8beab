"""``streamflix-dr destroy --env NAME``: both regions in the safe order, then a check that nothing is left."""

from __future__ import annotations

import json

import click

from streamflix_dr.cli.common import (
    CURRENT,
    AppContext,
    stack_operation_options,
    target_options,
    typed_command,
)
from streamflix_dr.cli.deploy import render_event
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.destroy import DestroyPlan, destroy, leftovers
from streamflix_dr.deploy.orchestrator import Timeouts
from streamflix_dr.deploy.stacks import StackEvent, Timing
from streamflix_dr.errors import LeftoversError
from streamflix_dr.locking import EnvironmentLock


def render_destroy_plan(plan: DestroyPlan) -> str:
    lines = [f"This removes environment {plan.env}:"]
    lines += [f"  stack  {region:<10} {stack} ({status})" for region, stack, status in plan.stacks]
    lines += [f"  bucket {region:<10} {bucket}" for region, bucket in plan.buckets]
    lines.append(
        "  plus EFS replication, the Global Datastore (its secondary first), backup recovery points, "
        "secrets a failover left standalone, Lambda log groups."
    )
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
    """Tear down both regions (replication first, then DR, then primary), from any state a deploy or a
    failover left, then check that nothing carrying the environment's suffix remains. Safe to run again."""
    env = load_environment(env_name)
    app.probe(env.dr_region)
    say = lambda m: click.echo(m, err=True)  # noqa: E731
    timeouts = Timeouts(timing=Timing(poll_interval=poll_interval, on_wait=say))
    if timeout_minutes:
        timeouts.delete_minutes = timeouts.stack_minutes = timeout_minutes

    def confirm(plan: DestroyPlan) -> bool:
        say(render_destroy_plan(plan))
        return yes or click.confirm(f"Destroy {plan.env} in both regions?", err=True)

    def on_event(ev: StackEvent) -> None:
        say(render_event(ev))

    lock = EnvironmentLock(app.factory.client("ssm", env.dr_region), env.dr_region, env.suffix)
    with lock.held("destroy", argv=typed_command()):
        if lock.took_over:
            say(f"Took over the environment lock of {lock.took_over.describe(0)}: {lock.took_over_reason}.")
        CURRENT.doing = "tearing down both regions"
        result = destroy(env, app.factory, confirm=confirm, on_event=on_event, timeouts=timeouts)
        CURRENT.doing = "checking that nothing of the environment is left"
        left, unchecked = leftovers(env, app.factory)
    CURRENT.doing = ""
    if as_json:
        doc = result.to_dict()
        doc.update(leftovers=left, unchecked=unchecked)
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        for step in result.steps:
            click.echo(f"{step.region:<10} {step.step:<36} {step.action:<13} {step.detail}")
    for u in unchecked:
        say(f"warning: not checked for leftovers: {u}")
    if left:
        raise LeftoversError(
            f"destroy of {env.name} finished, but {len(left)} resources carrying suffix "
            f"{env.suffix!r} remain: {'; '.join(left[:20])}" + (" ..." if len(left) > 20 else "") + ".",
            fix="rerun destroy (it resumes); delete what remains by hand if it is not the tool's, then rerun",
        )
    if not as_json:
        click.echo(
            f"Destroyed {env.name} in {result.seconds:.1f}s; nothing carrying suffix {env.suffix!r} is left."
        )
