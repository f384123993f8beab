"""``streamflix-dr readiness --env NAME``: can the DR region take over now? Exit 0 ready, 3 not ready."""

from __future__ import annotations

import json
import sys
import time

import click

from streamflix_dr.cli.common import AppContext, target_options
from streamflix_dr.config import load_environment
from streamflix_dr.readiness.core import Finding, ReadinessReport, Status, run_readiness
from streamflix_dr.runbook.session import readiness_target
from streamflix_dr.runbook.topology import stack_values

MARK = {Status.PASS: "ok  ", Status.WARN: "warn", Status.FAIL: "FAIL"}


def render_text(report: ReadinessReport) -> str:
    lines = [f"Readiness of {report.region}:"]
    for f in report.findings:
        lines.append(f"  {MARK[f.status]} {f.check_id:<9} {f.resource[:48]:<48} {f.message}")
        if f.fix and f.status is not Status.PASS:
            lines.append(f"       fix: {f.fix}")
    counts = report.to_dict()["counts"]
    verdict = "READY" if report.ready else "NOT READY"
    lines.append(f"{verdict}: {counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed")
    return "\n".join(lines)


def check(app: AppContext, env_name: str) -> ReadinessReport:
    """Run readiness for an environment (the DR stack's outputs name what to check).

    An environment whose DR stack does not exist is not ready: one failed finding, exit 3, JSON as usual."""
    from streamflix_dr.constants import Role, stack_name  # noqa: PLC0415
    from streamflix_dr.deploy.stacks import Stack  # noqa: PLC0415

    env = load_environment(env_name)
    app.probe(env.dr_region)
    name = stack_name(Role.DR, env.suffix)
    desc = Stack(app.factory.client("cloudformation", env.dr_region), env.dr_region, name).describe()
    if desc is None or desc.get("StackStatus") == "REVIEW_IN_PROGRESS":
        return ReadinessReport(
            env.dr_region,
            (
                Finding(
                    "STACK001",
                    env.dr_region,
                    name,
                    Status.FAIL,
                    "the DR stack does not exist: the environment was never deployed, or was destroyed",
                    fix=f"deploy it: streamflix-dr deploy --env {env_name}",
                ),
            ),
            checked_at=time.time(),
        )
    outputs = stack_values(app.factory, env.dr_region, name)
    return run_readiness(app.factory, readiness_target(env, outputs), now=time.time())


@click.command("readiness")
@click.option("--env", "env_name", required=True, help="Environment name (environments/<name>.yaml) or path.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@target_options
def command(*, env_name: str, as_json: bool, app: AppContext) -> None:
    """Check that the DR region can take over now: replica and lag, EFS sync, Redis, secrets, KMS,
    image, warm ECS capacity, alarms and automation. Exits 0 when ready, 3 when a check fails."""
    report = check(app, env_name)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else render_text(report))
    if not report.ready:
        sys.exit(report.exit_code)
