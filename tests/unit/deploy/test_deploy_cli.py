"""The deploy/destroy/status commands: they parse, ask, render and map exit codes; the core is faked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from deploy_fakes import FakeFactory, small_template

import streamflix_dr.cli.deploy as cli_deploy
import streamflix_dr.cli.destroy as cli_destroy
import streamflix_dr.cli.status as cli_status
from streamflix_dr.cli.main import cli, main
from streamflix_dr.constants import Phase, Role
from streamflix_dr.deploy import destroy as destroy_core
from streamflix_dr.deploy import orchestrator
from streamflix_dr.deploy.plan import Plan
from streamflix_dr.deploy.stacks import ResourceChange, StackEvent
from streamflix_dr.errors import AbortedByUser
from streamflix_dr.locking import EnvironmentLock


@pytest.fixture
def fake_aws(monkeypatch) -> FakeFactory:
    """Every command's ClientFactory is replaced by the in-memory fakes; the real core runs."""
    factory = FakeFactory(ticks=2)
    monkeypatch.setattr("streamflix_dr.cli.common.ClientFactory", lambda target: factory)
    real_deploy = orchestrator.deploy

    def deploy_small(env, f, **kw):
        return real_deploy(env, f, template=small_template(), **kw)

    monkeypatch.setattr(cli_deploy, "deploy", deploy_small)
    return factory


def test_deploy_yes_shows_plans_events_and_writes_outputs(fake_aws, tmp_path: Path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["deploy", "--env", "dev", "--yes", "--outputs-dir", str(out), "--poll-interval", "0.05"]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "us-east-1 streamflix-dr-dr-dev (dr, phase base): create" in text
    assert "Add      Topic" in text
    assert "CREATE_COMPLETE" in text  # events
    assert "Deployed dev" in text
    assert (out / "flat-outputs.json").is_file()


def test_deploy_json_is_machine_readable(fake_aws, tmp_path: Path):
    result = CliRunner().invoke(
        cli,
        [
            "deploy",
            "--env",
            "dev",
            "--yes",
            "--json",
            "--outputs-dir",
            str(tmp_path),
            "--poll-interval",
            "0.05",
        ],
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)  # progress goes to stderr, only the result to stdout
    assert [s["action"] for s in doc["stages"]] == ["created", "created", "updated"]
    assert doc["changed"] is True


def test_deploy_declined_exits_5_and_changes_nothing(fake_aws, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    with pytest.raises(SystemExit) as info:
        main(["deploy", "--env", "dev", "--outputs-dir", str(tmp_path), "--poll-interval", "0.05"])
    assert info.value.code == 5
    assert "declined" in capsys.readouterr().err
    assert "execute_change_set" not in fake_aws.cfn["us-east-1"].calls


def test_destroy_then_status(fake_aws, tmp_path: Path):
    runner = CliRunner()
    assert (
        runner.invoke(
            cli,
            ["deploy", "--env", "dev", "--yes", "--outputs-dir", str(tmp_path), "--poll-interval", "0.05"],
        ).exit_code
        == 0
    )
    status = runner.invoke(cli, ["status", "--env", "dev", "--json"])
    assert status.exit_code == 0 and json.loads(status.output)["deployed"] is True
    gone = runner.invoke(cli, ["destroy", "--env", "dev", "--yes", "--poll-interval", "0.05"])
    assert gone.exit_code == 0, gone.output
    assert "delete dr stack" in gone.output and "Destroyed dev" in gone.output
    after = runner.invoke(cli, ["status", "--env", "dev"])
    assert "NOT_FOUND" in after.output and "not fully deployed" in after.output


def test_renderers():
    ev = StackEvent(
        "us-east-1",
        "s",
        "Db",
        "AWS::RDS::DBInstance",
        "CREATE_FAILED",
        "bad class",
        datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC),
    )
    line = cli_deploy.render_event(ev)
    assert line.startswith("12:00:01 us-east-1") and "CREATE_FAILED  bad class" in line
    plan = Plan(
        "dev",
        Role.PRIMARY,
        Phase.FULL,
        "eu-west-2",
        "p",
        "update",
        (ResourceChange("Modify", "Db", "AWS::RDS::DBInstance", "True"),),
    )
    assert "replacement=True" in cli_deploy.render_plan(plan)
    assert cli_destroy.render_destroy_plan(
        destroy_core.DestroyPlan("dev", (("r", "s", "CREATE_COMPLETE"),), ())
    )
    assert callable(cli_status.render_status)


def test_interrupt_says_how_to_resume(monkeypatch, capsys):
    factory = FakeFactory()
    monkeypatch.setattr("streamflix_dr.cli.common.ClientFactory", lambda target: factory)
    monkeypatch.setattr("sys.argv", ["streamflix-dr", "deploy", "--env", "dev", "--yes"])

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_deploy, "deploy", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--env", "dev", "--yes"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 130
    assert "interrupted (Ctrl-C): `streamflix-dr deploy` for environment dev" in err
    assert "rerun `streamflix-dr deploy --env dev --yes` to resume" in err
    # The environment lock was released on the way out.
    assert factory.ssm["us-east-1"].params == {}


def test_declining_the_first_change_set_removes_the_buckets_it_created(fake_aws, tmp_path: Path):
    result = CliRunner().invoke(cli, ["deploy", "--env", "dev", "--outputs-dir", str(tmp_path)], input="n\n")
    assert isinstance(result.exception, AbortedByUser), result.output
    assert "the artifact buckets this run created were removed" in result.exception.message
    assert fake_aws.s3.buckets == {}
    assert fake_aws.ssm["us-east-1"].params == {}


def test_second_deploy_is_refused_naming_the_holder(fake_aws, tmp_path: Path, capsys):
    EnvironmentLock(
        fake_aws.client("ssm", "us-east-1"), "us-east-1", "dev", host="other-host", pid=4242
    ).acquire("deploy")
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--env", "dev", "--yes", "--outputs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 4
    assert "`deploy` by PID 4242 on other-host" in err
    assert fake_aws.cfn == {} or all(not c.stacks for c in fake_aws.cfn.values())


def test_drill_tears_down_when_it_stops_half_way(fake_aws, monkeypatch, capsys):
    import streamflix_dr.cli.drill as cli_drill  # noqa: PLC0415

    torn: list[str] = []

    def fails_half_way(env, factory, endpoint, **_kw):
        raise KeyboardInterrupt  # Ctrl-C (or any failure) in the middle of the drill

    monkeypatch.setattr(cli_drill, "run_drill", fails_half_way)
    monkeypatch.setattr(cli_drill, "destroy", lambda env, factory, confirm: torn.append(env.name))
    with pytest.raises(SystemExit) as exit_info:
        main(["drill", "--env", "dev"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 130
    assert torn == ["dev"]
    assert "stopped early; tearing down dev" in err and "torn down dev" in err
