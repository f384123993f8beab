"""``streamflix-dr validate`` through click's CliRunner: exit codes, --json, parse errors, --env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streamflix_dr.cli.main import cli

RETAINED = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
"""


@pytest.fixture
def retained(tmp_path: Path) -> Path:
    path = tmp_path / "retained.yaml"
    path.write_text(RETAINED)
    return path


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


def test_good_template_exits_zero_and_says_checkov_was_skipped(tiny_template: Path) -> None:
    result = _run(str(tiny_template), "--no-checkov")
    assert result.exit_code == 0, result.output
    assert "checkov: skipped (--no-checkov)" in result.output
    assert result.output.strip().splitlines()[-1].startswith("validate passed: 0 error(s), 0 warning(s)")


def test_bad_template_exits_non_zero_with_rule_location_and_fix(retained: Path) -> None:
    result = _run(str(retained), "--no-checkov")
    assert result.exit_code == 1
    assert f"dr-rules/E9401 {retained}:5 [Handle]" in result.output
    assert "fix: use Delete" in result.output
    assert "validate FAILED: 2 error(s), 0 warning(s)" in result.output


def test_json_output_shape(retained: Path) -> None:
    result = _run(str(retained), "--no-checkov", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["summary"]["errors"] == 2 and data["summary"]["ok"] is False
    assert data["summary"]["checkov"] == "skipped"
    assert {f["rule_id"] for f in data["findings"]} == {"E9401"}
    assert all(
        set(f) >= {"source", "severity", "template", "line", "resource", "message", "fix"}
        for f in data["findings"]
    )


def test_template_that_does_not_parse_names_file_and_line(broken_template: Path) -> None:
    result = _run(str(broken_template), "--no-checkov")
    assert result.exit_code == 1
    assert f"{broken_template}:7" in result.output and "does not parse" in result.output
    assert "fix: fix the YAML/JSON syntax at that line" in result.output


def test_bad_env_names_field_value_and_fix(env_file: Any, tiny_template: Path) -> None:
    path = env_file(suffix="UPPER")
    result = _run(str(tiny_template), "--no-checkov", "--env", str(path))
    assert result.exit_code == 1
    assert f"config/config {path}: suffix='UPPER'" in result.output
    assert "fix: use e.g. prod or dev01" in result.output


def test_missing_checkov_is_an_error_unless_skipped(
    tmp_path: Path, monkeypatch: Any, tiny_template: Path
) -> None:
    monkeypatch.setenv("STREAMFLIX_DR_CHECKOV", str(tmp_path / "no-checkov"))
    result = _run(str(tiny_template))
    assert result.exit_code == 1
    assert "checkov/checkov-missing" in result.output and "make validate" in result.output
    skipped = _run(str(tiny_template), "--no-checkov")
    assert skipped.exit_code == 0 and "checkov: skipped (--no-checkov)" in skipped.output
