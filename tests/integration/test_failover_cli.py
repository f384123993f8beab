"""``streamflix-dr readiness`` and ``failover`` through the CLI against the emulator: the readiness gate,
--dry-run, --force, the report files and the exit codes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_drill_emulator import stand_in_deploy

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.cli.main import main
from streamflix_dr.config import load_environment
from streamflix_dr.drill import DrillOptions
from streamflix_dr.resources import environments_dir

pytestmark = pytest.mark.integration


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def deployed(
    emulator_endpoint: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str, Any]:
    if emulator_endpoint is None:
        pytest.skip("needs the emulator")
    # --endpoint-url takes credentials from the standard chain, as against AWS
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    doc = yaml.safe_load((environments_dir() / "dev.yaml").read_text())
    doc.update(suffix=f"c{uuid.uuid4().hex[:6]}", name="clitest", global_datastore=True)
    env_file = tmp_path / "clitest.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    env = load_environment(str(env_file))
    f = ClientFactory(
        Target(endpoint_url=emulator_endpoint, access_key_id="testing", secret_access_key="testing")
    )
    stand_in_deploy(env, f, DrillOptions(), registered_target=True)
    return str(env_file), emulator_endpoint, f


def test_readiness_reports_findings_and_exit_code(
    deployed: tuple[str, str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    env_file, ep, _ = deployed
    code, out, _ = _run(["readiness", "--env", env_file, "--endpoint-url", ep, "--json"], capsys)
    doc = json.loads(out)
    # the stand-in stacks carry no KMS key, image, alarm or state machine outputs: not ready
    assert code == 3 and doc["ready"] is False
    failed = {f["check_id"] for f in doc["findings"] if f["status"] == "fail"}
    assert {"KMS001", "ECR001", "AUTO001"} <= failed
    passed = {f["check_id"] for f in doc["findings"] if f["status"] == "pass"}
    assert {"RDS001", "EFS001", "REDIS001", "SEC001"} <= passed
    code, out, _ = _run(["readiness", "--env", env_file, "--endpoint-url", ep], capsys)
    assert code == 3 and "NOT READY" in out and "fix:" in out


def test_failover_refuses_when_not_ready_unless_forced(
    deployed: tuple[str, str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file, ep, _ = deployed
    reports = tmp_path / "reports"
    common = [
        "--env",
        env_file,
        "--endpoint-url",
        ep,
        "--reports-dir",
        str(reports),
        "--journal-dir",
        str(tmp_path / "journal"),
    ]
    code, _, err = _run(["failover", *common, "--dry-run"], capsys)
    assert code == 0, err
    assert "Failover plan eu-west-2->us-east-1" in err and "(in parallel)" in err
    assert "Dry run: nothing changed." in err
    code, _, err = _run(["failover", *common, "--yes"], capsys)
    assert code == 3 and "is not ready for a failover" in err and "--force" in err
    assert not reports.exists()
    code, out, err = _run(["failover", *common, "--yes", "--force", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["result"] == "succeeded"
    assert {s["step"] for s in summary["steps"]} >= {"fence-primary", "promote-db", "verify-serving"}
    folder = reports / summary["operation_id"]
    assert (folder / "report.json").is_file() and (folder / "report.md").is_file()
    assert (folder / "timeline.svg").read_text().startswith("<svg")
    assert (tmp_path / "journal" / f"{summary['operation_id']}.json").is_file()
