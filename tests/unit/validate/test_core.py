"""``validate()``: stacks, merging, parse errors, environments, checkov discovery."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from streamflix_dr.config import load_environment
from streamflix_dr.constants import Param, Phase, Role
from streamflix_dr.template import load_template
from streamflix_dr.validate import Severity, Source, cfnlint_runner, validate
from streamflix_dr.validate.checkov_runner import find_checkov, parse_report, run_checkov
from streamflix_dr.validate.core import stack_values
from streamflix_dr.validate.parameters import parameter_line

from .conftest import BAD_RETAIN, GOOD


def test_good_fixture_passes_for_all_three_stacks() -> None:
    result = validate([GOOD], include_checkov=False)
    assert result.ok, [f.message for f in result.findings]
    assert result.summary.errors == result.summary.warnings == 0
    assert result.summary.checkov == "skipped"
    assert {"parse", "cfn-lint"} <= set(result.timings)


def test_findings_are_merged_across_stacks_with_resource_and_fix() -> None:
    result = validate([BAD_RETAIN], include_checkov=False)
    assert not result.ok
    retain = [f for f in result.findings if f.rule_id == "E9401"]
    assert len(retain) == 2  # DeletionPolicy and UpdateReplacePolicy, once each
    for f in retain:
        assert f.source is Source.DR_RULES and f.severity is Severity.ERROR
        assert f.resource == "JournalTable" and f.line in (315, 316)
        assert f.fix and "Delete" in f.fix and "Fix:" not in f.message
        assert f.stacks == ("dr/base us-east-1", "primary/full eu-west-2", "dr/full us-east-1")
    assert {f.rule_id for f in result.findings} == {"E9401"}


def test_template_that_does_not_parse(broken_template: Path) -> None:
    result = validate([broken_template], include_checkov=False)
    (finding,) = result.findings
    assert finding.severity is Severity.ERROR and finding.rule_id == "E0000"
    assert finding.template == str(broken_template) and finding.line == 7
    assert "does not parse" in finding.message and finding.fix and "syntax" in finding.fix


def test_missing_template(tmp_path: Path) -> None:
    result = validate([tmp_path / "nope.yaml"], include_checkov=False)
    assert [f.message for f in result.findings] == ["no such template"]
    assert not result.ok


def test_bad_environment_is_a_config_finding(env_file: Any, tiny_template: Path) -> None:
    path = env_file(suffix="Bad-Suffix")
    result = validate([tiny_template], env=str(path), include_checkov=False)
    config = [f for f in result.findings if f.source is Source.CONFIG]
    assert len(config) == 1
    assert config[0].template == str(path)
    assert "suffix='Bad-Suffix'" in config[0].message and config[0].fix and "dev01" in config[0].fix
    assert not result.ok


def test_unknown_environment_name_lists_the_known_ones(tmp_path: Path, tiny_template: Path) -> None:
    (tmp_path / "dev.yaml").write_text("name: dev\n")
    result = validate([tiny_template], env="nosuch", include_checkov=False, environments_dir=tmp_path)
    (finding,) = [f for f in result.findings if f.source is Source.CONFIG]
    assert "--env='nosuch'" in finding.message and "known: dev" in finding.message


def test_environment_values_are_checked_against_the_template(env_file: Any, tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        GOOD.read_text().replace(
            "  Application:\n    Type: String\n    Default: streamflix\n",
            "  Application:\n    Type: String\n    Default: streamflix\n    AllowedValues: [streamflix]\n",
        )
    )
    path = env_file()
    path.write_text(path.read_text() + "parameters: {Application: other, NoSuchParam: x}\n")
    result = validate([template], env=str(path), include_checkov=False)
    params = [f for f in result.findings if f.source is Source.PARAMETERS]
    texts = " | ".join(f.message for f in params)
    assert "NoSuchParam: the template declares no such parameter" in texts
    assert "Application" in texts and "'other'" in texts
    application = next(f for f in params if f.message.startswith("Application"))
    assert application.line == 12 and application.severity is Severity.ERROR
    assert application.fix and str(path) in application.fix
    assert application.stacks == ("dr/base us-east-1", "primary/full eu-west-2", "dr/full us-east-1")


def test_stack_values_use_deploys_stand_ins_for_peer_outputs(env_file: Any) -> None:
    env = load_environment(str(env_file()))
    template = load_template()
    dr_full = stack_values(env, template, Role.DR, Phase.FULL)
    assert dr_full[Param.PRIMARY_DB_ARN].startswith("arn:aws:rds:eu-west-2:")
    primary = stack_values(env, template, Role.PRIMARY, Phase.FULL)
    assert primary[Param.DR_FILE_SYSTEM_ID].startswith("fs-") and primary[Param.ROLE] == "primary"
    assert Param.PRIMARY_DB_ARN not in stack_values(env, template, Role.DR, Phase.BASE)


def test_checkov_not_found_is_an_error_with_the_fix(tmp_path: Path, tiny_template: Path) -> None:
    env = {"STREAMFLIX_DR_CHECKOV": str(tmp_path / "missing"), "PATH": ""}
    result = validate([tiny_template], include_checkov=True, checkov_env=env)
    (finding,) = [f for f in result.findings if f.source is Source.CHECKOV]
    assert finding.rule_id == "checkov-missing" and finding.fix and "make validate" in finding.fix
    assert result.summary.checkov == "not found" and not result.ok


def test_find_checkov_order(tmp_path: Path) -> None:
    exe = tmp_path / "checkov"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert find_checkov({"STREAMFLIX_DR_CHECKOV": str(exe)}) == str(exe)
    assert find_checkov({"PATH": str(tmp_path)}, repo_root=tmp_path / "no-repo") == str(exe)
    assert find_checkov({"PATH": ""}, repo_root=tmp_path / "no-repo") is None


def test_checkov_report_parsing() -> None:
    report = {
        "check_type": "cloudformation",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_53",
                    "check_name": "Ensure S3 bucket has block public ACLs enabled",
                    "file_line_range": [3, 9],
                    "resource": "AWS::S3::Bucket.Bucket",
                    "guideline": None,
                }
            ],
            "skipped_checks": [
                {
                    "check_id": "CKV_AWS_18",
                    "check_name": "access logging",
                    "file_line_range": [3, 9],
                    "resource": "AWS::S3::Bucket.Bucket",
                    "check_result": {"result": "SKIPPED", "suppress_comment": "log bucket"},
                }
            ],
        },
    }
    failed, skipped = parse_report([report], "t.yaml")
    assert (failed.rule_id, failed.line, failed.resource, failed.severity) == (
        "CKV_AWS_53",
        3,
        "Bucket",
        Severity.ERROR,
    )
    assert skipped.severity is Severity.INFO and "log bucket" in skipped.message


def test_checkov_crash_without_json_is_an_error() -> None:
    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert "--skip-download" in cmd and cmd[cmd.index("--output") + 1] == "json"
        return subprocess.CompletedProcess(cmd, 2, stdout="Traceback...", stderr="boom\nKeyError: x")

    (finding,) = run_checkov("checkov", [GOOD], runner=fake_run)
    assert (
        finding.rule_id == "checkov-run" and "exited 2" in finding.message and "KeyError" in finding.message
    )


def test_real_checkov_runs_on_a_small_template(tmp_path: Path) -> None:
    exe = find_checkov()
    assert exe, "checkov should be installed in .venv-checkov (make validate)"
    template = tmp_path / "bucket.yaml"
    template.write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n")
    findings = run_checkov(exe, [template])
    ids = {f.rule_id for f in findings}
    assert "CKV_AWS_53" in ids and all(f.resource == "Bucket" for f in findings)
    json.dumps([f.message for f in findings])  # plain strings


def test_parameter_problem_lines_point_at_the_parameter_or_rule() -> None:
    template = cfnlint_runner.parse(GOOD)[0]
    assert template is not None
    assert parameter_line(template, "Application='x': is not one of the allowed values") == 12
    assert parameter_line(template, "SubnetIds: no value given") == 25
    assert parameter_line(template, "rule Nope (X=''): fails") is None
    assert parameter_line(template, "something else") is None


def test_cfn_lint_failure_becomes_a_finding(tiny_template: Path) -> None:
    findings = cfnlint_runner.lint(tiny_template, region="xx-nowhere-1", parameters=None, stack="dr/base xx")
    (finding,) = findings
    assert finding.rule_id == "cfn-lint-crash" and finding.severity is Severity.ERROR
    assert "xx-nowhere-1" in finding.message and finding.fix and "--regions xx-nowhere-1" in finding.fix
