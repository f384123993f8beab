"""Deploy while the environment is failed over, on the emulator: an environment of its own (deployed once
for this module: both stacks, the image pushed, deployed again so the services run), failed over with the
failover runner while the primary region is in an outage; then

- a plain ``deploy`` refuses (exit 2, FailedOverError) and changes nothing;
- a template that drops the replica's ``SourceDBInstanceIdentifier`` is refused before it runs;
- ``deploy --allow-failed-over`` deploys the DR stack only, its change set has no Replace, Remove or
  data-store change, the DR service runs at the primary's capacity, and the DR database is untouched (same
  identifiers, still standalone, not a replica again);
- ``status`` says the DR region is active and that the primary region does not answer (exit 8).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from integration_support import emulator_timeouts, factory_for

from streamflix_dr.cli.main import main
from streamflix_dr.config import Environment, load_environment
from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.deploy.orchestrator import FailedOver, deploy
from streamflix_dr.deploy.plan import DATA_STORE_STACK_POLICY, is_data_store
from streamflix_dr.errors import FailedOverError
from streamflix_dr.resources import environments_dir
from streamflix_dr.runbook.latency import Timeouts
from streamflix_dr.template import load_template

pytestmark = pytest.mark.integration


@dataclass
class FailedOverEnv:
    env: Environment
    env_file: str
    endpoint: str
    factory: Any
    outputs_dir: Path
    result: Any  # the failover runner's result


def _dbs(factory: Any, region: str) -> dict[str, dict[str, Any]]:
    """Every DB instance in ``region`` by identifier (DescribeDBInstances)."""
    rds = factory.client("rds", region)
    out: dict[str, dict[str, Any]] = {}
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            out[db["DBInstanceIdentifier"]] = db
    return out


@pytest.fixture(scope="module")
def failed_over(
    emulator_endpoint: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FailedOverEnv]:
    if emulator_endpoint is None:
        pytest.skip("needs the emulator: it deploys, fails a region over and deploys again")
    from streamflix_dr.drill import publish_image  # noqa: PLC0415
    from streamflix_dr.runbook.session import build_runner, resolve  # noqa: PLC0415
    from streamflix_dr_emulator import outage  # noqa: PLC0415

    tmp = tmp_path_factory.mktemp("deploy-during-dr")
    doc = yaml.safe_load((environments_dir() / "dev.yaml").read_text(encoding="utf-8"))
    doc.update(suffix=f"dd{uuid.uuid4().hex[:6]}", name="ddrtest")
    env_file = tmp / "ddrtest.yaml"
    env_file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    env = load_environment(str(env_file))
    factory = factory_for(emulator_endpoint)
    outputs_dir = tmp / "cfn-outputs"
    template = load_template()
    first = deploy(
        env,
        factory,
        confirm=lambda _p: True,
        timeouts=emulator_timeouts(),
        outputs_dir=outputs_dir,
        template=template,
    )
    resolved = resolve(factory, env)
    if not first.image.get("available"):
        publish_image(factory, env, resolved.primary_outputs or {}, resolved.dr_outputs, lambda _m: None)
        again = deploy(
            env,
            factory,
            confirm=lambda _p: True,
            timeouts=emulator_timeouts(),
            outputs_dir=outputs_dir,
            template=template,
        )
        assert again.image["available"], again.next_steps
        resolved = resolve(factory, env)
    outage.fail_region(env.primary_region)
    try:
        runner = build_runner(
            factory,
            resolved.topology,
            journal_dir=tmp / "journal",
            timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
        )
        result = runner.run()
        with pytest.MonkeyPatch.context() as mp:
            # The CLI takes credentials from the standard chain, as against AWS; the emulator accepts any.
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            yield FailedOverEnv(env, str(env_file), emulator_endpoint, factory, outputs_dir, result)
    finally:
        outage.restore_region(env.primary_region)


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_failover_promoted_the_dr_database(failed_over: FailedOverEnv) -> None:
    """The precondition of every test below, from AWS's own answer (not the runner's word)."""
    env = failed_over.env
    statuses = {s.step: s.status.value for s in failed_over.result.steps}
    assert statuses.get("promote-db") == "done", (statuses, failed_over.result.error)
    db = _dbs(failed_over.factory, env.dr_region)[f"streamflix-db-{env.suffix}"]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier"), db


def test_a_plain_deploy_refuses_with_exit_2_and_changes_nothing(
    failed_over: FailedOverEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env = failed_over.env
    cfn = failed_over.factory.client("cloudformation", env.dr_region)
    before = cfn.describe_stacks(StackName=stack_name(Role.DR, env.suffix))["Stacks"][0]

    code, _, err = _cli(
        ["deploy", "--env", failed_over.env_file, "--endpoint-url", failed_over.endpoint, "--yes"], capsys
    )

    assert code == 2, err
    assert f"environment {env.name} is failed over" in err and "--allow-failed-over" in err
    assert f"{env.primary_region} does not answer" in err
    after = cfn.describe_stacks(StackName=stack_name(Role.DR, env.suffix))["Stacks"][0]
    assert after["StackStatus"] == before["StackStatus"]
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")


def test_removing_the_replica_source_from_the_template_is_refused_before_it_runs(
    failed_over: FailedOverEnv,
) -> None:
    env, factory = failed_over.env, failed_over.factory
    template = load_template()
    del template["Resources"]["DbReplica"]["Properties"]["SourceDBInstanceIdentifier"]
    dbs_before = _dbs(factory, env.dr_region)
    shown: list[Any] = []

    with pytest.raises(FailedOverError) as refused:
        deploy(
            env,
            factory,
            confirm=lambda _p: pytest.fail("a refused change set must not be offered for execution"),
            timeouts=emulator_timeouts(),
            outputs_dir=failed_over.outputs_dir,
            template=template,
            failed_over=FailedOver.for_env(env, env.dr_region),
            show=shown.append,
        )

    assert "DbReplica (AWS::RDS::DBInstance)" in refused.value.message
    assert "PromoteReadReplica" in (refused.value.fix or "")
    (plan,) = shown
    assert {c.logical_id for c, _ in plan.refused} >= {"DbReplica"}
    assert _dbs(factory, env.dr_region).keys() == dbs_before.keys()


def test_deploy_allow_failed_over_changes_no_data_store_and_runs_dr_at_full_capacity(
    failed_over: FailedOverEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env, factory = failed_over.env, failed_over.factory
    dbs_before = _dbs(factory, env.dr_region)

    code, out, err = _cli(
        [
            "deploy",
            "--env",
            failed_over.env_file,
            "--endpoint-url",
            failed_over.endpoint,
            "--yes",
            "--json",
            "--allow-failed-over",
            "--poll-interval",
            "0.2",
            "--outputs-dir",
            str(failed_over.outputs_dir),
        ],
        capsys,
    )

    assert code == 0, err
    result = json.loads(out)
    assert result["mode"] == "failed-over"
    actions = {(s["role"], s["phase"]): s["action"] for s in result["stages"]}
    assert actions[("primary", "full")] == "skipped" and actions[("dr", "base")] == "skipped"
    assert actions[("dr", "full")] in ("updated", "no-op")
    assert "REFUSED" not in err
    # What the change set showed (stderr): no Replace, no Remove, no data store.
    rows = [line.split() for line in err.splitlines() if line.startswith("  ") and len(line.split()) >= 3]
    changes = [r for r in rows if r[0] in ("Add", "Modify", "Remove", "Dynamic", "Import")]
    assert not [r for r in changes if r[0] == "Remove"], changes
    assert not [r for r in changes if "replacement=True" in r or "replacement=Conditional" in r], changes
    assert not [r for r in changes if is_data_store(r[2])], changes
    assert result["data_store_changes"] in ({}, {stack_name(Role.DR, env.suffix): []})
    # The DR database is untouched: same identifiers, still standalone (not a replica again), available.
    dbs_after = _dbs(factory, env.dr_region)
    assert dbs_after.keys() == dbs_before.keys()
    db = dbs_after[f"streamflix-db-{env.suffix}"]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier") and db["DBInstanceStatus"] == "available"
    assert db["DBInstanceArn"] == dbs_before[db["DBInstanceIdentifier"]]["DBInstanceArn"]
    # The DR service is at the primary's capacity (what runs after the failover), not back at warm.
    dr_out = result["outputs"][env.dr_region]
    svc = factory.client("ecs", env.dr_region).describe_services(
        cluster=dr_out[Output.ECS_CLUSTER_NAME], services=[dr_out[Output.ECS_SERVICE_NAME]]
    )["services"][0]
    assert svc["desiredCount"] == env.primary.desired_count > env.dr.desired_count
    target = factory.client("application-autoscaling", env.dr_region).describe_scalable_targets(
        ServiceNamespace="ecs",
        ResourceIds=[f"service/{dr_out[Output.ECS_CLUSTER_NAME]}/{dr_out[Output.ECS_SERVICE_NAME]}"],
    )["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in target] == [
        (env.primary.min_capacity, env.primary.max_capacity)
    ]
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in factory.client("cloudformation", env.dr_region).describe_stacks(
            StackName=stack_name(Role.DR, env.suffix)
        )["Stacks"][0]["Parameters"]
    }
    assert params["PrimaryDbArn"].endswith(f":db:streamflix-db-{env.suffix}")  # kept as deployed
    # The stack policy that makes CloudFormation itself refuse such changes on AWS (moto only stores it).
    policy = factory.client("cloudformation", env.dr_region).get_stack_policy(
        StackName=stack_name(Role.DR, env.suffix)
    )["StackPolicyBody"]
    assert json.loads(policy) == DATA_STORE_STACK_POLICY


def test_status_shows_the_dr_region_active_and_the_primary_region_silent(
    failed_over: FailedOverEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env = failed_over.env

    code, out, err = _cli(
        ["status", "--env", failed_over.env_file, "--endpoint-url", failed_over.endpoint, "--json"], capsys
    )

    assert code == 8, err  # docs/operations.md: a region did not answer; the rest is reported
    doc = json.loads(out)
    assert doc["active_region"] == env.dr_region and doc["direction"] == "failed-over"
    assert doc["failed_over"] is True and doc["unanswered_regions"] == [env.primary_region]
    rec = doc["reconcile"]
    assert rec["databases"] == {env.primary_region: "unknown", env.dr_region: "standalone"}
    by = {(f["store"], f["region"]): f for f in rec["findings"]}
    assert by[("rds", env.dr_region)]["live"].startswith("standalone, takes writes")
    assert not by[("rds", env.primary_region)]["known"]
    # The primary's half of EFS is not known (its stack and its region are silent); the DR side is.
    assert not by[("efs", env.primary_region)]["known"]
    assert f"{env.dr_region} side: no replication" in by[("efs", env.primary_region)]["live"]
    secrets = {f["physical_id"]: f for f in rec["findings"] if f["store"] == "secrets"}
    assert set(secrets) == {f"streamflix-db-{env.suffix}"}  # the DR's local Redis secret is not replicated
    assert secrets[f"streamflix-db-{env.suffix}"]["live"].startswith(f"standalone in {env.dr_region}")
    assert f"error: {env.primary_region} did not answer" in err
