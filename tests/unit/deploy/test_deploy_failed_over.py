"""Deploy while failed over: DR stack only, data stores as deployed, the DR service at the primary's
capacity; a change set that replaces/removes anything or changes a data store is refused before it runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deploy_fakes import FakeFactory, Recorder, client_error, default_outputs, small_template

import streamflix_dr.cli.deploy as cli_deploy
from streamflix_dr.cli.main import main
from streamflix_dr.config import Environment
from streamflix_dr.constants import Phase, Role, stack_name
from streamflix_dr.deploy import orchestrator
from streamflix_dr.deploy.orchestrator import FailedOver, deploy
from streamflix_dr.deploy.plan import (
    ALLOW_ALL_STACK_POLICY,
    DATA_STORE_STACK_POLICY,
    Plan,
    unsafe_while_failed_over,
)
from streamflix_dr.deploy.stacks import ResourceChange
from streamflix_dr.errors import FailedOverError


def template(**overrides: Any) -> dict[str, Any]:
    """The small template plus a replica (SourceDBInstanceIdentifier from PrimaryDbArn) and a service."""
    resources: dict[str, Any] = {
        "DbReplica": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "SourceDBInstanceIdentifier": {"Ref": "PrimaryDbArn"},
                "DBInstanceClass": "db.r6g.large",
            },
        },
        "Svc": {"Type": "AWS::ECS::Service", "Properties": {"DesiredCount": {"Ref": "DesiredCount"}}},
    }
    resources.update(overrides)
    tpl = small_template(resources)
    tpl["Resources"] = {k: v for k, v in tpl["Resources"].items() if v is not None}
    return tpl


@pytest.fixture
def deployed(env: Environment, factory: FakeFactory, timeouts: Any, out_dir: Path) -> FakeFactory:
    for region in (env.primary_region, env.dr_region):
        factory.client("cloudformation", region).precise = True
    deploy(env, factory, confirm=lambda _p: True, timeouts=timeouts, outputs_dir=out_dir, template=template())
    return factory


def _objects(factory: FakeFactory, region: str) -> dict[str, Any]:
    (bucket,) = [b for name, b in factory.s3.buckets.items() if region in name]
    return dict(bucket["objects"])


def _dr(env: Environment, factory: FakeFactory) -> Any:
    return factory.cfn[env.dr_region]._live(stack_name(Role.DR, env.suffix))


def test_failed_over_deploy_updates_only_the_dr_stack_at_full_capacity_and_keeps_the_replica_parameters(
    env: Environment, deployed: FakeFactory, timeouts: Any, out_dir: Path
) -> None:
    primary_cfn = deployed.cfn[env.primary_region]
    primary_calls, requested = len(primary_cfn.calls), len(deployed.requested)
    arn_before = _dr(env, deployed).params["PrimaryDbArn"]
    primary_objects = _objects(deployed, env.primary_region)
    asked: list[Plan] = []

    result = deploy(
        env,
        deployed,
        confirm=lambda p: asked.append(p) or True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=template(),
        failed_over=FailedOver.for_env(env, env.dr_region),
    )

    actions = {(s.role, s.phase): s.action for s in result.stages}
    assert actions == {
        (Role.DR, Phase.BASE): "skipped",
        (Role.PRIMARY, Phase.FULL): "skipped",
        (Role.DR, Phase.FULL): "updated",
    }
    # Nothing at all was asked of the primary region (it may be down).
    assert primary_cfn.calls[primary_calls:] == []
    # Clients are made for both regions (no call), but no service other than CloudFormation is asked there
    # (no ECR image check, no STS, no S3 bucket): CloudFormation's own calls are checked above.
    assert {s for s, r in deployed.requested[requested:] if r == env.primary_region} <= {
        "cloudformation",
        "s3",
    }
    assert primary_objects == _objects(
        deployed, env.primary_region
    )  # nothing uploaded to the primary's bucket
    dr = _dr(env, deployed)
    assert dr.params["DesiredCount"] == str(env.primary.desired_count) != str(env.dr.desired_count)
    assert dr.params["PrimaryDbArn"] == arn_before  # kept (UsePreviousValue), not read from the primary
    (plan,) = asked
    assert [(c.action, c.logical_id) for c in plan.changes] == [("Modify", "Svc")]
    assert plan.data_store_changes == () and plan.refused == ()
    assert json.loads(dr.policy) == DATA_STORE_STACK_POLICY
    assert result.mode == "failed-over" and result.data_store_changes == {dr.name: ()}
    # The primary's outputs stay in the flat file, as the last deploy that reached it wrote them.
    flat = json.loads((out_dir / "flat-outputs.json").read_text())
    assert flat["primary.Region"] == env.primary_region and "primary.DbInstanceArn" in flat
    assert flat["dr.Region"] == env.dr_region


@pytest.mark.parametrize(
    ("overrides", "logical", "why"),
    [
        pytest.param(
            {
                "DbReplica": {
                    "Type": "AWS::RDS::DBInstance",
                    "Properties": {"DBInstanceClass": "db.r6g.large"},  # SourceDBInstanceIdentifier removed
                }
            },
            "DbReplica",
            "is a data store and would change (Modify)",
            id="replica-property-removed",
        ),
        pytest.param({"Topic": None}, "Topic", "would be deleted", id="resource-removed"),
        pytest.param(
            {
                "Svc": {
                    "Type": "AWS::ECS::Service",
                    "Metadata": {"FakeReplacement": "True"},
                    "Properties": {"DesiredCount": {"Ref": "DesiredCount"}, "ServiceName": "renamed"},
                }
            },
            "Svc",
            "would be replaced",
            id="service-replaced",
        ),
    ],
)
def test_a_change_set_that_touches_data_or_replaces_or_removes_is_shown_then_refused_and_not_executed(
    env: Environment,
    deployed: FakeFactory,
    timeouts: Any,
    out_dir: Path,
    overrides: dict[str, Any],
    logical: str,
    why: str,
) -> None:
    dr_cfn = deployed.cfn[env.dr_region]
    before = _dr(env, deployed)
    params_before, template_before = dict(before.params), before.template
    shown: list[Plan] = []

    with pytest.raises(FailedOverError) as refused:
        deploy(
            env,
            deployed,
            confirm=lambda _p: pytest.fail("a refused change set must not be offered for execution"),
            timeouts=timeouts,
            outputs_dir=out_dir,
            template=template(**overrides),
            failed_over=FailedOver.for_env(env, env.dr_region),
            show=shown.append,
        )

    assert refused.value.exit_code == 2
    assert f"{logical} (" in refused.value.message and why in refused.value.message
    assert "Nothing was executed" in refused.value.message
    assert "failback" in (refused.value.fix or "")
    if logical == "DbReplica":
        assert "PromoteReadReplica" in (refused.value.fix or "")
    (plan,) = shown
    assert any(c.logical_id == logical for c, _ in plan.refused)
    after = _dr(env, deployed)
    assert after.params == params_before and after.template == template_before
    assert "execute_change_set" not in dr_cfn.calls[-3:]


def test_a_normal_deploy_lifts_the_failed_over_stack_policy(
    env: Environment, deployed: FakeFactory, timeouts: Any, out_dir: Path
) -> None:
    fo = FailedOver.for_env(env, env.dr_region)
    deploy(
        env,
        deployed,
        confirm=lambda _p: True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=template(),
        failed_over=fo,
    )
    assert json.loads(_dr(env, deployed).policy) == DATA_STORE_STACK_POLICY

    deploy(
        env, deployed, confirm=lambda _p: True, timeouts=timeouts, outputs_dir=out_dir, template=template()
    )

    assert json.loads(_dr(env, deployed).policy) == ALLOW_ALL_STACK_POLICY


@pytest.mark.parametrize(
    ("change", "unsafe"),
    [
        (ResourceChange("Modify", "DbReplica", "AWS::RDS::DBInstance", "False"), True),
        (ResourceChange("Modify", "Cache", "AWS::ElastiCache::ReplicationGroup", "False"), True),
        (ResourceChange("Dynamic", "Files", "AWS::EFS::FileSystem", ""), True),
        (ResourceChange("Modify", "Svc", "AWS::ECS::Service", "Conditional"), True),
        (ResourceChange("Remove", "Topic", "AWS::SNS::Topic", ""), True),
        (ResourceChange("Modify", "Svc", "AWS::ECS::Service", "False"), False),
        (ResourceChange("Add", "Alarm", "AWS::CloudWatch::Alarm", ""), False),
    ],
    ids=lambda v: v.logical_id if isinstance(v, ResourceChange) else str(v),
)
def test_what_is_unsafe_while_failed_over(change: ResourceChange, unsafe: bool) -> None:
    assert bool(unsafe_while_failed_over(change)) is unsafe


# ---- the command: reconcile decides; refuse without the flag; the guarded deploy with it ---------------


def _rds_answer(*, dr_standalone: bool, region: str, DBInstanceIdentifier: str = "") -> Any:
    if not DBInstanceIdentifier:  # the paginated listing (renamed-aside instances): none
        return {"DBInstances": []}
    if dr_standalone and region == "eu-west-2":
        # The old primary was renamed aside by the failback's re-protect, or the region lost it.
        return client_error(
            "DBInstanceNotFound", "DBInstance streamflix-db-dev not found.", "DescribeDBInstances"
        )
    arn = "arn:aws:rds:eu-west-2:123456789012:db:streamflix-db-dev"
    db: dict[str, Any] = {
        "DBInstanceIdentifier": "streamflix-db-dev",
        "DBInstanceArn": f"arn:aws:rds:{region}:123456789012:db:streamflix-db-dev",
        "DBInstanceStatus": "available",
    }
    if region == "us-east-1" and not dr_standalone:
        db["ReadReplicaSourceDBInstanceIdentifier"] = arn
    return {"DBInstances": [db]}


@pytest.fixture
def cli_aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(*, dr_standalone: bool) -> FakeFactory:
        def outputs(region: str, params: dict[str, str]) -> dict[str, str]:
            return {**default_outputs(region, params), "DbInstanceIdentifier": "streamflix-db-dev"}

        factory = FakeFactory(outputs_for=outputs)
        for region in ("eu-west-2", "us-east-1"):
            factory.recorders[("rds", region)] = Recorder(
                "rds",
                {
                    "describe_db_instances": lambda region=region, **kw: _rds_answer(
                        dr_standalone=dr_standalone, region=region, **kw
                    )
                },
            )
            factory.client("cloudformation", region).precise = True
        monkeypatch.setattr("streamflix_dr.cli.common.ClientFactory", lambda target: factory)
        real = orchestrator.deploy
        monkeypatch.setattr(
            cli_deploy, "deploy", lambda env, f, **kw: real(env, f, template=template(), **kw)
        )
        return factory

    return make


@dataclass
class Ran:
    exit_code: int
    output: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """``streamflix-dr deploy`` through ``main`` (which maps errors to exit codes)."""

    def invoke(*args: str) -> Ran:
        try:
            main(["deploy", "--env", "dev", "--yes", "--skip-preflight", *args])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return Ran(code, out.out + out.err)

    return invoke


def test_the_command_refuses_a_failed_over_environment_then_deploys_it_guarded_with_the_flag(
    cli_aws: Any, run: Any, tmp_path: Path
) -> None:
    factory = cli_aws(dr_standalone=False)
    assert run("--outputs-dir", str(tmp_path)).exit_code == 0  # the normal direction: a normal deploy
    for region in ("eu-west-2", "us-east-1"):
        factory.recorders[("rds", region)].answers["describe_db_instances"] = lambda region=region, **kw: (
            _rds_answer(dr_standalone=True, region=region, **kw)
        )

    refused = run("--outputs-dir", str(tmp_path))

    assert refused.exit_code == 2, refused.output
    assert "is failed over" in refused.output and "--allow-failed-over" in refused.output
    assert "standalone, takes writes" in refused.output

    allowed = run("--outputs-dir", str(tmp_path), "--allow-failed-over")

    assert allowed.exit_code == 0, allowed.output
    out = allowed.output
    assert "the primary stack is skipped" in out and "desired 2 (min 2, max 10)" in out
    assert "Modify   Svc" in out and "data stores: unchanged" in out
    assert "(failed over: DR stack only)" in out


def test_in_the_normal_direction_the_plan_of_both_stacks_says_no_data_store_changes(
    cli_aws: Any, run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_aws(dr_standalone=False)
    assert run("--outputs-dir", str(tmp_path)).exit_code == 0
    # A release that changes the service only (as after a failback and re-protection: every DB a replica
    # of its declared source again), with the flag given by habit: reconcile says normal, so a normal deploy.
    changed = template(
        Svc={
            "Type": "AWS::ECS::Service",
            "Properties": {"DesiredCount": {"Ref": "DesiredCount"}, "ServiceName": "v2"},
        }
    )
    real = orchestrator.deploy
    monkeypatch.setattr(cli_deploy, "deploy", lambda env, f, **kw: real(env, f, template=changed, **kw))

    again = run("--outputs-dir", str(tmp_path), "--allow-failed-over")

    assert again.exit_code == 0, again.output
    assert "is failed over" not in again.output
    assert "eu-west-2 streamflix-dr-primary-dev [primary/full]: updated" in again.output
    assert "us-east-1 streamflix-dr-dr-dev [dr/full]: updated" in again.output
    assert again.output.count("data stores: unchanged") == 2
    assert "DbReplica" not in again.output


def test_a_silent_primary_region_without_a_failover_stops_the_deploy_before_any_change(
    cli_aws: Any, run: Any, tmp_path: Path
) -> None:
    from botocore.exceptions import EndpointConnectionError  # noqa: PLC0415

    factory = cli_aws(dr_standalone=False)
    assert run("--outputs-dir", str(tmp_path)).exit_code == 0
    calls = {r: len(c.calls) for r, c in factory.cfn.items()}
    factory.recorders[("rds", "eu-west-2")].answers["describe_db_instances"] = EndpointConnectionError(
        endpoint_url="https://rds.eu-west-2.amazonaws.com/"
    )

    stopped = run("--outputs-dir", str(tmp_path))

    assert stopped.exit_code == 8, stopped.output
    assert "eu-west-2 does not answer and environment dev is not failed over" in stopped.output
    assert "streamflix-dr failover --env dev" in stopped.output
    # Only reads happened: no change set anywhere.
    assert all("create_change_set" not in c.calls[calls[r] :] for r, c in factory.cfn.items())
