"""Text and JSON rendering of validation results."""

from __future__ import annotations

import json

from streamflix_dr.validate import Finding, Severity, Source, Summary, ValidationResult
from streamflix_dr.validate.render import summary_line, to_json, to_text


def _result(checkov: str = "skipped") -> ValidationResult:
    findings = (
        Finding(
            Source.DR_RULES,
            "E9401",
            Severity.ERROR,
            "t.yaml",
            12,
            "Table",
            "Retained.",
            "use Delete",
            ("dr/base",),
        ),
        Finding(
            Source.CHECKOV, "CKV_AWS_18", Severity.INFO, "t.yaml", 3, "Bucket", "skipped by the template"
        ),
    )
    summary = Summary(
        errors=1, warnings=0, infos=1, templates=("t.yaml",), elapsed_seconds=1.25, checkov=checkov
    )
    return ValidationResult(findings=findings, summary=summary, timings={"cfn-lint": 1.0})


def test_text_lists_findings_fix_skip_and_summary() -> None:
    text = to_text(_result())
    assert "ERROR   dr-rules/E9401 t.yaml:12 [Table]: Retained. (dr/base)\n        fix: use Delete" in text
    assert "checkov: skipped (--no-checkov)" in text
    assert text.splitlines()[-1] == (
        "validate FAILED: 1 error(s), 0 warning(s), 1 info in 1 template(s), checkov skipped (1.2s)"
    )
    assert "checkov: skipped" not in to_text(_result("ran"))


def test_json_shape() -> None:
    data = json.loads(to_json(_result()))
    assert set(data) == {"findings", "summary", "timings"}
    assert data["findings"][0] == {
        "source": "dr-rules",
        "rule_id": "E9401",
        "severity": "error",
        "template": "t.yaml",
        "line": 12,
        "resource": "Table",
        "message": "Retained.",
        "fix": "use Delete",
        "stacks": ["dr/base"],
    }
    assert data["summary"]["errors"] == 1 and data["summary"]["ok"] is False
    assert data["summary"]["checkov"] == "skipped"


def test_summary_line_passed() -> None:
    ok = ValidationResult(findings=(), summary=Summary(0, 0, 0, ("a", "b"), 0.5, "ran"))
    assert summary_line(ok) == "validate passed: 0 error(s), 0 warning(s), 0 info in 2 template(s) (0.5s)"
