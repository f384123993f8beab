"""``streamflix-dr failback``: the plan of the chosen phases, --dry-run changes nothing, the report."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from streamflix_dr.cli import failback as cli
from streamflix_dr.failback.base import FailbackStepId, FailbackTopology, Phase


@pytest.fixture
def env() -> Any:
    return SimpleNamespace(name="test", primary_region="eu-west-2", max_replica_lag_seconds=60)


@pytest.mark.parametrize(
    ("phase", "present", "absent"),
    [
        ("reprotect", FailbackStepId.REPROTECT_RDS, FailbackStepId.FENCE_DR),
        ("cutback", FailbackStepId.DRAIN_RDS, FailbackStepId.REPROTECT_RDS),
        ("reprotect-original", FailbackStepId.DELETE_RENAMED, FailbackStepId.PROMOTE_RDS),
    ],
)
def test_dry_run_shows_only_the_chosen_phase_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    topology: FailbackTopology,
    env: Any,
    phase: str,
    present: FailbackStepId,
    absent: FailbackStepId,
) -> None:
    monkeypatch.setattr(cli, "load_environment", lambda _name: env)
    monkeypatch.setattr(cli, "resolve_failback", lambda _f, _e: topology)
    calls: list[str] = []
    real = cli.build_failback_runner

    def spy(*args: Any, **kwargs: Any) -> Any:
        runner = real(*args, **kwargs)
        monkeypatch.setattr(runner, "run", lambda **_kw: calls.append("run"))
        return runner

    monkeypatch.setattr(cli, "build_failback_runner", spy)

    result = CliRunner().invoke(cli.command, ["--env", "test", "--phase", phase, "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "Failback plan failback" in result.output
    assert present.value in result.output and absent.value not in result.output
    assert "Dry run: nothing changed." in result.output
    assert calls == []


def test_all_is_the_three_phases_in_order() -> None:
    assert cli.phases_of("all") == [Phase.REPROTECT, Phase.CUTBACK, Phase.REPROTECT_ORIGINAL]
    assert cli.phases_of("cutback") == [Phase.CUTBACK]
