"""``streamflix-dr status --env NAME``: both regions' stacks, state and key outputs."""

from __future__ import annotations

import json

import click

from streamflix_dr.cli.common import AppContext, target_options
from streamflix_dr.config import load_environment
from streamflix_dr.deploy.status import StatusReport, status


def render_status(report: StatusReport) -> str:
    lines = [f"Environment {report.env}: {'deployed' if report.deployed else 'not fully deployed'}"]
    for s in report.stacks:
        phase = f" phase={s.phase}" if s.phase else ""
        lines.append(
            f"{s.role.value:<8} {s.region:<10} {s.stack:<32} {s.status}{phase}"
            + (f"  ({s.reason})" if s.reason else "")
        )
        lines += [f"    {k:<28} {v}" for k, v in s.outputs.items()]
    return "\n".join(lines)


@click.command("status")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@target_options
def command(env_name: str, as_json: bool, app: AppContext) -> None:
    """Show both regions' stacks, their state and the key outputs (read-only)."""
    env = load_environment(env_name)
    report = status(env, app.factory)
    click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True) if as_json else render_status(report))
