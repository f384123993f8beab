"""After a deploy of both regions: every declared resource exists with its key properties; outputs; reruns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from integration_checks import CHECKERS, EMULATOR_CANNOT_SHOW, Res
from integration_support import EMULATOR_ONLY, LIVE, Deployment, emulator_timeouts

from streamflix_dr.cli.main import cli
from streamflix_dr.constants import OUTPUTS_BY_ROLE, Phase, Role, stack_name
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.deploy.stacks import Stack, outputs_of, parameters_of
from streamflix_dr.deploy.status import status

pytestmark = pytest.mark.integration


def active_logical_ids(template: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
    """Logical id -> type of the resources the template creates for these parameter values."""
    from streamflix_dr.template_model import active_resources  # noqa: PLC0415

    active = active_resources(template, params)
    ids = (
        list(active.keys())
        if isinstance(active, dict)
        else [a if isinstance(a, str) else a[0] for a in active]
    )
    return {lid: template["Resources"][lid]["Type"] for lid in ids}


def stack_resources(dep: Deployment, role: Role) -> dict[str, dict[str, Any]]:
    region = dep.env.region_of(role).region
    cfn = dep.factory.client("cloudformation", region)
    out: dict[str, dict[str, Any]] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(
        StackName=stack_name(role, dep.env.suffix)
    ):
        for r in page["StackResourceSummaries"]:
            if r.get("LogicalResourceId"):
                out[r["LogicalResourceId"]] = r
    return out


def describe(dep: Deployment, role: Role) -> dict[str, Any]:
    region = dep.env.region_of(role).region
    desc = Stack(
        dep.factory.client("cloudformation", region), region, stack_name(role, dep.env.suffix)
    ).describe()
    assert desc is not None, f"{region}: stack {stack_name(role, dep.env.suffix)} does not exist"
    return desc


@EMULATOR_ONLY
def test_deploy_ran_the_three_phases_in_order(deployment: Deployment):
    first, last = deployment.first_result, deployment.result
    assert first is not None and last is not None
    assert [(s.role, s.phase, s.action) for s in first.stages] == [
        (Role.DR, Phase.BASE, "created"),
        (Role.PRIMARY, Phase.FULL, "created"),
        (Role.DR, Phase.FULL, "updated"),
    ]
    # No image in either registry at first: the services were deployed with 0 tasks (issue 7, defect 1).
    assert first.image["available"] is False
    # After the image was pushed, the rerun started them: both stacks updated, nothing re-created.
    assert last.image["available"] is True
    assert [(s.role, s.phase, s.action) for s in last.stages] == [
        (Role.DR, Phase.BASE, "skipped"),
        (Role.PRIMARY, Phase.FULL, "updated"),
        (Role.DR, Phase.FULL, "updated"),
    ]
    statuses = {(e.region, e.status) for e in deployment.events if e.logical_id == e.stack}
    assert (deployment.env.dr_region, "CREATE_COMPLETE") in statuses
    assert (deployment.env.primary_region, "CREATE_COMPLETE") in statuses


@pytest.mark.parametrize("variant", ["deployment", "deployment_dns_gds"], ids=["dev", "dev-dns-gds"])
@pytest.mark.parametrize("role", [Role.PRIMARY, Role.DR], ids=["primary", "dr"])
def test_every_declared_resource_is_accounted_for(request: pytest.FixtureRequest, variant: str, role: Role):
    deployment: Deployment = request.getfixturevalue(variant)
    desc = describe(deployment, role)
    params = parameters_of(desc)
    outputs = outputs_of(desc)
    peer = outputs_of(describe(deployment, Role.DR if role is Role.PRIMARY else Role.PRIMARY))
    declared = active_logical_ids(deployment.template, params)
    created = stack_resources(deployment, role)
    checked: list[str] = []
    not_shown: dict[str, str] = {}
    problems: list[str] = []
    for lid, rtype in sorted(declared.items()):
        if not LIVE and rtype in EMULATOR_CANNOT_SHOW:
            not_shown[lid] = EMULATOR_CANNOT_SHOW[rtype]
            continue
        check = CHECKERS.get(rtype)
        if check is None:
            problems.append(f"{lid} ({rtype}): no checker and not in EMULATOR_CANNOT_SHOW")
            continue
        summary = created.get(lid)
        if summary is None:
            problems.append(f"{lid} ({rtype}): declared but not in the stack's resources")
            continue
        if not summary["ResourceStatus"].endswith("_COMPLETE"):
            problems.append(f"{lid} ({rtype}): {summary['ResourceStatus']}")
            continue
        res = Res(
            lid,
            rtype,
            summary.get("PhysicalResourceId", ""),
            deployment.template["Resources"][lid].get("Properties", {}),
            role,
            deployment.env.region_of(role).region,
            params,
            outputs,
            peer,
            deployment.env,
            deployment.factory,
            live=LIVE,
        )
        try:
            check(res)
            checked.append(lid)
        except (AssertionError, ClientError, KeyError, IndexError) as e:
            problems.append(f"{lid} ({rtype}, {res.physical_id}): {type(e).__name__}: {e}")
    undeclared = sorted(set(created) - set(declared))
    assert not undeclared, f"the stack has resources the template does not declare for it: {undeclared}"
    assert not problems, f"{len(problems)} of {len(declared)} resources failed:\n" + "\n".join(problems)
    assert len(checked) + len(not_shown) == len(declared)
    print(
        f"{role.value}: {len(checked)} checked, {len(not_shown)} not shown by the emulator: "
        f"{sorted(not_shown)}"
    )


def test_outputs_files(deployment: Deployment):
    flat = json.loads((deployment.outputs_dir / "flat-outputs.json").read_text())
    for role, phase in ((Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL)):
        region = deployment.env.region_of(role).region
        per_region = json.loads((deployment.outputs_dir / f"{region}.json").read_text())
        missing = [k for k in OUTPUTS_BY_ROLE[(role, phase)] if k not in per_region]
        assert not missing, f"{region}.json lacks {missing}"
        assert per_region == outputs_of(describe(deployment, role))
        assert all(flat[f"{role.value}.{k}"] == v for k, v in per_region.items())
        assert flat[f"{role.value}.Region"] == region


def test_status_reports_both_regions(deployment: Deployment):
    report = status(deployment.env, deployment.factory)
    assert report.deployed, report.to_dict()
    assert {s.region for s in report.stacks} == {deployment.env.primary_region, deployment.env.dr_region}


@EMULATOR_ONLY
def test_cli_status_json_against_the_endpoint(deployment: Deployment):
    # The CLI takes credentials from the standard chain; the emulator accepts any.
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = CliRunner(env=creds).invoke(
        cli, ["status", "--env", deployment.env.name, "--endpoint-url", str(deployment.endpoint), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["deployed"] is True
    assert [s["status"].endswith("_COMPLETE") for s in doc["stacks"]] == [True, True]


@EMULATOR_ONLY
def test_second_deploy_changes_nothing(deployment: Deployment):
    asked: list[Any] = []
    again = deploy(
        deployment.env,
        deployment.factory,
        confirm=lambda p: asked.append(p) or True,
        timeouts=emulator_timeouts(),
        outputs_dir=deployment.outputs_dir,
        template=deployment.template,
    )
    assert [s.action for s in again.stages] == ["skipped", "no-op", "no-op"], [
        s.to_dict() for s in again.stages
    ]
    assert asked == [] and not again.changed
