"""``validate()``: stacks, merging, parse errors, environments, checkov discovery."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from streamflix_dr.config import load_environment
from streamflix_dr.constants import Param, Phase, Role
from streamflix_dr.template import load_template
from streamflix_dr.validate import Severity, Source, cfnlint_runner, validate
from streamflix_dr.validate.checkov_runner import checkov_command, find_checkov, parse_report, run_checkov
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
    # An unknown parameter (a typo) is refused when the environment is read, naming the template's names.
    path.write_text(path.read_text() + "parameters: {Application: other, NoSuchParam: x}\n")
    result = validate([template], env=str(path), include_checkov=False)
    config = [f for f in result.findings if f.source is Source.CONFIG]
    assert any(
        "NoSuchParam" in f.message and "is not a parameter of the template" in f.message for f in config
    )
    # A known parameter's value is checked against the template's constraints, per stack.
    path.write_text(path.read_text().replace(", NoSuchParam: x", ""))
    result = validate([template], env=str(path), include_checkov=False)
    params = [f for f in result.findings if f.source is Source.PARAMETERS]
    texts = " | ".join(f.message for f in params)
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


# ---------------------------------------------------------------- one cfn-lint run, checkov alongside


def test_all_stacks_are_linted_in_one_cfn_lint_run(monkeypatch: Any, env_file: Any) -> None:
    from streamflix_dr.rules import _common  # noqa: PLC0415

    calls: list[tuple[Any, tuple[dict[str, Any], ...]]] = []
    real = cfnlint_runner.lint_file

    def counting(path: Path, config: Any = None) -> Any:
        calls.append((config, _common.STACK_PARAMETER_SETS.get()))
        return real(path, config=config)

    monkeypatch.setattr(cfnlint_runner, "lint_file", counting)
    stacks = [
        {"Role": "dr", "Phase": "base"},
        {"Role": "primary", "Phase": "full"},
        {"Role": "dr", "Phase": "full"},
    ]
    result = validate([BAD_RETAIN], include_checkov=False)
    ((config, for_dr_rules),) = calls
    assert sorted(config["regions"]) == ["eu-west-2", "us-east-1"]
    # Without an environment the sets hold only Role and Phase: the DR rules get them; cfn-lint's own rules
    # resolve every allowed value of both instead (as a plain cfn-lint run does).
    assert "parameters" not in config and list(for_dr_rules) == stacks
    # Nothing lost against one run per stack: the same two findings, on every stack.
    assert {f.rule_id for f in result.findings} == {"E9401"} and len(result.findings) == 2
    assert _common.STACK_PARAMETER_SETS.get() == ()

    calls.clear()
    validate([GOOD], env=str(env_file()), include_checkov=False)
    ((config, for_dr_rules),) = calls
    # With an environment its values go to cfn-lint too, one parameter set per stack.
    assert [(s.parameters["Role"], s.parameters["Phase"]) for s in config["parameters"]] == [
        ("dr", "base"),
        ("primary", "full"),
        ("dr", "full"),
    ]
    assert for_dr_rules == ()


def test_a_finding_from_one_stacks_values_names_that_stack(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        "Parameters:\n  R: {Type: Number}\nResources:\n  G:\n    Type: AWS::Logs::LogGroup\n"
        "    Properties:\n      RetentionInDays: !Ref R\n"
    )
    stacks = [
        cfnlint_runner.StackSpec("a us-east-1", "us-east-1", {"R": "7"}),
        cfnlint_runner.StackSpec("b eu-west-2", "eu-west-2", {"R": "8"}),
    ]
    findings = cfnlint_runner.lint_stacks(template, stacks, parameters_source="env.yaml")
    (resolved,) = [f for f in findings if f.rule_id == "W1030"]
    assert resolved.stacks == ("b eu-west-2",) and "'8'" in resolved.message
    # Findings that do not depend on a stack's values belong to every stack.
    (kms,) = [f for f in findings if f.rule_id == "E9101"]
    assert kms.stacks == ("a us-east-1", "b eu-west-2")


def test_checkov_runs_while_cfn_lint_lints(monkeypatch: Any, tmp_path: Path) -> None:
    exe = tmp_path / "checkov"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    import threading  # noqa: PLC0415

    linting = threading.Event()
    real = cfnlint_runner.lint_file

    def lint_file(path: Path, config: Any = None) -> Any:
        linting.set()
        return real(path, config=config)

    def fake_checkov(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        # Run one after the other, cfn-lint would only start after this returns: the wait would time out.
        started_together = linting.wait(timeout=120)
        report = {"results": {"failed_checks": [] if started_together else [{"check_id": "SEQUENTIAL"}]}}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(report), stderr="")

    monkeypatch.setattr(cfnlint_runner, "lint_file", lint_file)
    result = validate(
        [GOOD],
        include_checkov=True,
        checkov_env={"STREAMFLIX_DR_CHECKOV": str(exe)},
        checkov_runner_fn=fake_checkov,
    )
    assert result.summary.checkov == "ran"
    assert [f.rule_id for f in result.findings if f.source is Source.CHECKOV] == []
    assert result.ok


def test_checkov_through_the_shim_reports_what_checkov_reports(tmp_path: Path) -> None:
    exe = find_checkov()
    assert exe, "checkov should be installed in .venv-checkov (make validate)"
    command = checkov_command(exe)
    assert command[-1].endswith("checkov_shim.py"), command
    template = tmp_path / "t.yaml"
    template.write_text(
        "Parameters:\n  Suffix: {Type: String, Default: x}\nResources:\n"
        "  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub 'b-${Suffix}'\n"
        "  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub 't-${Bucket}'\n"
    )
    args = ["--file", str(template), "--framework", "cloudformation", "--output", "json", "--compact"]
    args.append("--skip-download")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}

    def checks(cmd: list[str]) -> set[tuple[str, str, str]]:
        out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=300, check=False, env=env)
        results = json.loads(out.stdout)["results"]
        return {
            (c["check_id"], c["resource"], kind)
            for kind in ("passed_checks", "failed_checks", "skipped_checks")
            for c in results[kind]
        }

    plain = checks([exe])
    assert plain and any(kind == "failed_checks" for _, _, kind in plain)
    assert checks(command) == plain
