"""``status``: the state as AWS reports it (reconcile), text and JSON; exit 8 when a region is silent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import streamflix_dr.cli.status as cli_status
from streamflix_dr.aws.status import StackState
from streamflix_dr.cli.main import main
from streamflix_dr.constants import Role
from streamflix_dr.deploy.status import StackStatus, StatusReport, StoreState


def _report(*, primary_down: bool) -> StatusReport:
    findings = [
        {
            "store": "rds",
            "stack": "streamflix-dr-primary-dev",
            "physical_id": "streamflix-db-dev",
            "declared": "streamflix-db-dev: standalone primary",
            "live": "unknown: eu-west-2 does not answer" if primary_down else "absent",
            "matches": False,
            "region": "eu-west-2",
            "known": not primary_down,
        },
        {
            "store": "rds",
            "stack": "streamflix-dr-dr-dev",
            "physical_id": "streamflix-db-dev",
            "declared": "streamflix-db-dev: replica of streamflix-db-dev (eu-west-2)",
            "live": "standalone, takes writes (available)",
            "matches": False,
            "region": "us-east-1",
            "known": True,
        },
    ]
    regions = {"eu-west-2": "does not answer (Could not connect)" if primary_down else "answers"}
    regions["us-east-1"] = "answers"
    return StatusReport(
        env="dev",
        stacks=(
            StackStatus(
                Role.PRIMARY,
                "eu-west-2",
                "streamflix-dr-primary-dev",
                "UNREACHABLE" if primary_down else "UPDATE_COMPLETE",
                StackState.ABSENT if primary_down else StackState.STABLE,
            ),
            StackStatus(
                Role.DR, "us-east-1", "streamflix-dr-dr-dev", "UPDATE_COMPLETE", StackState.STABLE, "full"
            ),
        ),
        active_region="us-east-1",
        active_basis="where the database takes writes",
        stores=(StoreState("database", "us-east-1", "streamflix-db-dev in us-east-1 is standalone"),),
        reconcile={
            "active_region": "us-east-1",
            "direction": "failed-over",
            "matches": False,
            "regions": regions,
            "findings": findings,
            "notes": [],
        },
    )


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``streamflix-dr status`` through ``main`` (which maps errors to exit codes)."""

    def invoke(report: StatusReport, *args: str) -> Ran:
        monkeypatch.setattr(cli_status, "status", lambda env, factory: report)
        monkeypatch.setattr("streamflix_dr.cli.common.AppContext.probe", lambda self, region: "1")
        try:
            main(["status", "--env", "dev", *args])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return invoke


def test_a_silent_region_is_named_and_the_exit_code_is_8_with_everything_else_shown(run: Any) -> None:
    result = run(_report(primary_down=True))

    assert result.exit_code == 8, result.output
    out = result.output
    assert "Region eu-west-2 does not answer (Could not connect): what it holds is unknown" in out
    assert "Direction: FAILED OVER" in out
    assert "rds      eu-west-2  UNKNOWN" in out and "live: unknown: eu-west-2 does not answer" in out
    assert "rds      us-east-1  DIFFERS" in out and "live: standalone, takes writes (available)" in out
    assert "FAILED OVER: us-east-1 takes the writes" in out
    assert "error: eu-west-2 did not answer" in result.stderr and "fix: check the region's health" in out


def test_json_carries_the_reconcile_report_and_the_silent_regions(run: Any) -> None:
    result = run(_report(primary_down=True), "--json")

    assert result.exit_code == 8
    doc = json.loads(result.stdout)
    assert doc["direction"] == "failed-over" and doc["unanswered_regions"] == ["eu-west-2"]
    assert doc["failed_over"] is True and doc["active_region"] == "us-east-1"
    assert [f["known"] for f in doc["reconcile"]["findings"]] == [False, True]


def test_every_region_answering_exits_0(run: Any) -> None:
    result = run(_report(primary_down=False))

    assert result.exit_code == 0, result.output
    assert "does not answer" not in result.output


def test_after_a_cut_back_the_primary_is_active_not_failed_over(run: Any) -> None:
    import dataclasses  # noqa: PLC0415

    report = _report(primary_down=False)
    assert report.reconcile is not None
    cut_back = dataclasses.replace(
        report,
        active_region="eu-west-2",
        # The DR instance is still standalone (fenced until re-protected): stores alone say failed over.
        reconcile={**report.reconcile, "direction": "primary-active", "active_region": "eu-west-2"},
    )
    assert report.failed_over and not cut_back.failed_over

    result = run(cut_back, "--json")

    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["failed_over"] is False and doc["direction"] == "primary-active"


@pytest.mark.parametrize(
    ("direction", "op_id", "command"),
    [
        ("eu-west-2->us-east-1", "failover-20261130T180348Z-0b93da", "failover"),
        ("failback", "failback-20261130T190000Z-1c2d3e", "failback"),
    ],
)
def test_an_unfinished_operation_names_the_command_that_resumes_it(
    run: Any, direction: str, op_id: str, command: str
) -> None:
    import dataclasses  # noqa: PLC0415

    op = {"operation_id": op_id, "direction": direction, "owner": "ops@host", "status": "running"}
    report = dataclasses.replace(_report(primary_down=False), operation={**op, "unfinished": True})

    result = run(report)

    assert f"Unfinished {direction} operation {op_id}" in result.stdout
    assert f"rerun `streamflix-dr {command} --env dev` to resume it" in result.stdout
