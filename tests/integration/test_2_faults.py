"""Faults on the emulator, each with a clear message: ROLLBACK_COMPLETE, throttling, interruption, bad input.

They use small templates and their own environment suffixes, so they neither slow the suite down
nor disturb the main target.
"""

from __future__ import annotations

import dataclasses
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
