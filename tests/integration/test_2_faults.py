"""Faults on the emulator, each with a clear message: ROLLBACK_COMPLETE, throttling, interruption, bad input.

They use small templates and their own environment suffixes, so they neither slow the suite down
nor disturb the main target.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from integration_support import EMULATOR_ONLY, Deployment, emulator_timeouts

from streamflix_dr.cli.main import cli
from streamflix_dr.config import Environment
from streamflix_dr.constants import Phase, stack_name
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.deploy.plan import Plan, StageResult
from streamflix_dr.deploy.status import status
from streamflix_dr.errors import AbortedByUser, StackError

pytestmark = [pytest.mark.integration, EMULATOR_ONLY]

PARAMS = ("EnvironmentSuffix", "Environment", "CostCenter", "Role", "Phase", "DrFileSystemId", "PrimaryDbArn")


def template(*, broken: bool = False) -> dict[str, Any]:
    resources: dict[str, Any] = {"Topic": {"Type": "AWS::SNS::Topic"}}
    if broken:
        # A type no CloudFormation registry has: the create fails and rolls back, as on AWS.
        resources["Broken"] = {"Type": "AWS::StreamflixTest::DoesNotExist", "Properties": {}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {p: {"Type": "String", "Default": ""} for p in PARAMS},
        "Resources": resources,
        "Outputs": {
            key: {"Value": {"Fn::Sub": value}}
            for key, value in {
                "FileSystemId": "fs-${EnvironmentSuffix}${Role}",
                "KmsKeyArn": "arn:aws:kms:${AWS::Region}:123456789012:key/${Role}",
                "BackupVaultArn": "arn:aws:backup:${AWS::Region}:123456789012:backup-vault:${Role}",
                "DbInstanceArn": "arn:aws:rds:${AWS::Region}:123456789012:db:${Role}",
                "HealthCheckId": "hc-${Role}",
            }.items()
        },
    }


def env_with(target: Deployment, suffix: str) -> Environment:
    return dataclasses.replace(target.env, suffix=suffix)


def run(env: Environment, target: Deployment, tmp_path: Path, **kw: Any):
    return deploy(
        env,
        target.factory,
        confirm=kw.pop("confirm", lambda _p: True),
        timeouts=emulator_timeouts(),
        outputs_dir=tmp_path,
        **kw,
    )


def test_rollback_complete_is_explained_then_recreated(target: Deployment, tmp_path: Path):
    env = env_with(target, "fltrb")
    with pytest.raises(StackError) as info:
        run(env, target, tmp_path, template=template(broken=True))
    msg = str(info.value)
    assert f"{env.dr_region}/{stack_name('dr', 'fltrb')}" in msg
    assert "ROLLBACK_COMPLETE" in msg and "Broken" in msg and "AWS::StreamflixTest::DoesNotExist" in msg
    assert "deletes and recreates" in msg
    dr = next(s for s in status(env, target.factory).stacks if s.region == env.dr_region)
    assert dr.status == "ROLLBACK_COMPLETE"
    # Declining the recreate leaves it as it is.
    with pytest.raises(AbortedByUser, match="ROLLBACK_COMPLETE"):
        run(env, target, tmp_path, template=template(), confirm=lambda p: p.action != "recreate")
    plans: list[Plan] = []
    result = run(env, target, tmp_path, template=template(), confirm=lambda p: plans.append(p) or True)
    assert plans[0].action == "recreate"
    assert [s.action for s in result.stages] == ["recreated", "created", "updated"]


def test_throttling_is_retried_with_backoff(target: Deployment, tmp_path: Path):
    from streamflix_dr_emulator import server  # noqa: PLC0415

    env = env_with(target, "fltthr")
    server.inject_throttling("cloudformation", "CreateChangeSet", 2)
    server.inject_throttling("cloudformation", "DescribeStacks", 3)
    try:
        result = run(env, target, tmp_path, template=template())
    finally:
        left = (
            server.pending_throttling("cloudformation", "CreateChangeSet"),
            server.pending_throttling("cloudformation", "DescribeStacks"),
        )
        server.clear_throttling()
    assert left == (0, 0)  # every injected throttle was hit and retried through
    assert [s.action for s in result.stages] == ["created", "created", "updated"]


def test_interrupted_deploy_resumes(target: Deployment, tmp_path: Path):
    env = env_with(target, "fltint")

    class Interrupted(Exception):
        pass

    def stop_after_base(stage: StageResult) -> None:
        if stage.phase is Phase.BASE:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(env, target, tmp_path, template=template(), on_stage=stop_after_base)
    result = run(env, target, tmp_path, template=template())
    assert [s.action for s in result.stages] == ["no-op", "created", "updated"]


def _bad_env(tmp_path: Path, **changes: Any) -> str:
    doc = yaml.safe_load((Path(__file__).parents[2] / "environments" / "dev.yaml").read_text())
    doc["suffix"] = "fltbad"
    for dotted, value in changes.items():
        node = doc
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (None, "not a known environment"),
        ({"regions__dr__region": "eu-west-2"}, "regions.dr.region"),
        ({"domain_name": "watch.streamflix.example", "hosted_zone_id": "Z123ABC"}, "certificate_arn"),
    ],
    ids=["unknown-environment", "wrong-region-pair", "domain-without-certificate"],
)
def test_bad_input_is_refused_and_changes_nothing(target: Deployment, tmp_path: Path, changes, expected):
    env_arg = "nosuchenv" if changes is None else _bad_env(tmp_path, **changes)
    result = CliRunner().invoke(
        cli, ["deploy", "--env", env_arg, "--yes", "--endpoint-url", str(target.endpoint)]
    )
    assert result.exit_code != 0
    assert expected in str(result.exception)
    for region in (target.env.primary_region, target.env.dr_region):
        names = [
            s["StackName"]
            for s in target.factory.client("cloudformation", region).describe_stacks()["Stacks"]
        ]
        assert not [n for n in names if n.endswith("-fltbad") or n.endswith("-nosuchenv")]


# ---- issue 8: interrupted failover, the environment lock, deploy after a failover -------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from streamflix_dr.cli.main import main  # noqa: E402
from streamflix_dr.config import load_environment  # noqa: E402
from streamflix_dr.locking import EnvironmentLock  # noqa: E402
from streamflix_dr.runbook.journal import OperationStatus, RunLock  # noqa: E402
from streamflix_dr.runbook.topology import stack_values  # noqa: E402

# Run the CLI in a child process that kills itself (SIGKILL: no finally, no lock release) once N steps of
# the failover are done: what a crashed laptop or a killed terminal leaves behind.
KILL_AFTER_STEPS = """
import os, signal, sys
from streamflix_dr.runbook import runner
n = int(os.environ["KILL_AFTER_STEPS"])
done = []
orig = runner.Runner._execute
def execute(self, op_id, step, rec):
    orig(self, op_id, step, rec)
    done.append(step)
    if len(done) >= n:
        os.kill(os.getpid(), signal.SIGKILL)
runner.Runner._execute = execute
from streamflix_dr.cli.main import main
main(sys.argv[1:])
"""


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def stand_in(target: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Environment]:
    """Both regions' resources made directly (no CloudFormation), with the stacks' outputs in stand-in
    stacks, as the failover CLI tests do; a fresh suffix."""
    from test_drill_emulator import stand_in_deploy  # noqa: PLC0415

    from streamflix_dr.drill import DrillOptions  # noqa: PLC0415

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    doc = yaml.safe_load((Path(__file__).parents[2] / "environments" / "dev.yaml").read_text())
    doc.update(suffix=f"k{uuid.uuid4().hex[:6]}", name="killtest", global_datastore=True)
    env_file = tmp_path / "killtest.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    env = load_environment(str(env_file))
    # A registered DR target stands for tasks that started: the resumed failover can verify it serves.
    stand_in_deploy(env, target.factory, DrillOptions(), registered_target=True)
    return str(env_file), env


def test_killed_failover_resumes_with_the_same_command(
    target: Deployment, stand_in: tuple[str, Environment], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file, env = stand_in
    common = ["--env", env_file, "--endpoint-url", str(target.endpoint), "--yes"]
    dirs = ["--journal-dir", str(tmp_path / "journal"), "--reports-dir", str(tmp_path / "reports")]
    # The stand-in environment is not ready (no image, alarms, ...): the first run needs --force.
    child = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_STEPS, "failover", *common, "--force", *dirs],
        env={**os.environ, "KILL_AFTER_STEPS": "2"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    dr = stack_values(target.factory, env.dr_region, f"streamflix-dr-dr-{env.suffix}")
    lock = RunLock(
        target.factory.client("dynamodb", env.dr_region), dr["JournalTableName"], env.dr_region, env.suffix
    )
    held = lock.read()
    assert held is not None and held.status is OperationStatus.RUNNING  # the dead run's lease is still live
    env_lock = EnvironmentLock(target.factory.client("ssm", env.dr_region), env.dr_region, env.suffix).read()
    assert env_lock is not None and env_lock.command == "failover"

    # The same command, without --force or --break-lock: the half-done failover is resumed at once.
    code, _, err = _cli(["failover", *common, *dirs], capsys)
    assert code == 0, err
    assert f"Resuming unfinished eu-west-2->us-east-1 operation {held.operation_id}" in err
    assert "readiness gate is skipped" in err
    assert f"Taking over the failover lock of {held.operation_id} at once" in err
    assert "Took over the environment lock" in err and "no longer runs on this host" in err
    assert f"Failover {held.operation_id} done" in err
    after = lock.read()
    assert after is not None and after.status is OperationStatus.SUCCEEDED
    # The lock is free again and status says the environment is failed over.
    code, out, err = _cli(
        ["status", "--env", env_file, "--endpoint-url", str(target.endpoint), "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["lock"] is None and doc["failed_over"] is True and doc["active_region"] == env.dr_region
    stores = {s["store"]: s for s in doc["stores"]}
    assert stores["database"]["primary_region"] == env.dr_region
    assert stores["redis"]["primary_region"] == env.dr_region
    # deploy refuses a failed-over environment (exit 2) before it changes anything.
    code, _, err = _cli(["deploy", *common, "--skip-preflight"], capsys)
    assert code == 2 and "is failed over" in err and "--allow-failed-over" in err


def test_second_command_is_refused_while_the_environment_lock_is_held(
    target: Deployment, stand_in: tuple[str, Environment], capsys: pytest.CaptureFixture[str]
) -> None:
    env_file, env = stand_in
    holder = EnvironmentLock(
        target.factory.client("ssm", env.dr_region), env.dr_region, env.suffix, host="build-7", pid=31337
    )
    holder.acquire("deploy", argv="streamflix-dr deploy --env killtest")
    try:
        for argv in (["deploy", "--skip-preflight"], ["destroy"], ["failover", "--force"], ["failback"]):
            code, _, err = _cli(
                [*argv, "--env", env_file, "--endpoint-url", str(target.endpoint), "--yes"], capsys
            )
            assert code == 4, (argv, err)
            assert "`deploy` by PID 31337 on build-7" in err
        code, out, _ = _cli(["status", "--env", env_file, "--endpoint-url", str(target.endpoint)], capsys)
        assert code == 0 and "Environment lock: held by `deploy` by PID 31337 on build-7" in out
    finally:
        holder.release()


def test_readiness_of_a_never_deployed_environment_is_json_and_exit_3(
    target: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    doc = yaml.safe_load((Path(__file__).parents[2] / "environments" / "dev.yaml").read_text())
    doc["suffix"] = "nvrdep"
    env_file = tmp_path / "never.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    code, out, err = _cli(
        ["readiness", "--env", str(env_file), "--endpoint-url", str(target.endpoint), "--json"], capsys
    )
    assert code == 3, err
    report = json.loads(out)
    assert report["ready"] is False
    assert [f["check_id"] for f in report["findings"]] == ["STACK001"]
    assert "streamflix-dr deploy" in report["findings"][0]["fix"]


@pytest.mark.parametrize("stop_at", [("dr", "base"), ("primary", "full"), ("dr", "full")], ids=str)
def test_deploy_killed_while_a_change_set_waits_resumes(
    target: Deployment, tmp_path: Path, stop_at: tuple[str, str]
) -> None:
    """Killed at the prompt: the stack is REVIEW_IN_PROGRESS (first create) or has an unexecuted change set.
    The rerun completes, one stack per name, no change set left behind."""
    env = env_with(target, "fltcs" + stop_at[0][0] + stop_at[1][0])

    def killed(plan: Plan) -> bool:
        if (plan.role.value, plan.phase.value) == stop_at:
            raise KeyboardInterrupt
        return True

    with pytest.raises(KeyboardInterrupt):
        run(env, target, tmp_path, template=template(), confirm=killed)
    result = run(env, target, tmp_path, template=template())
    assert result.stages[-1].action in ("created", "updated")
    for region in (env.primary_region, env.dr_region):
        cfn = target.factory.client("cloudformation", region)
        live = [
            s
            for s in cfn.describe_stacks()["Stacks"]
            if s["StackName"].endswith(f"-{env.suffix}") and s["StackStatus"] != "DELETE_COMPLETE"
        ]
        assert len(live) == len({s["StackName"] for s in live}), [s["StackName"] for s in live]
        for s in live:
            # Executed ones may be listed (CloudFormation removes them; moto keeps them): the pending ones go.
            pending = [
                c["ChangeSetName"]
                for c in cfn.list_change_sets(StackName=s["StackId"])["Summaries"]
                if c.get("ExecutionStatus") in ("AVAILABLE", "UNAVAILABLE")
            ]
            assert pending == [], (s["StackName"], pending)
