"""Render a ``ValidationResult`` as text or JSON (kept apart from the core, which never prints)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from streamflix_dr.validate.findings import Finding, ValidationResult


def summary_line(result: ValidationResult) -> str:
    s = result.summary
    verdict = "passed" if s.ok else "FAILED"
    checkov = {"ran": "", "skipped": ", checkov skipped", "not found": ", checkov not found"}[s.checkov]
    return (
        f"validate {verdict}: {s.errors} error(s), {s.warnings} warning(s), {s.infos} info "
        f"in {len(s.templates)} template(s){checkov} ({s.elapsed_seconds:.1f}s)"
    )


def _finding_text(f: Finding) -> str:
    where = f.location + (f" [{f.resource}]" if f.resource else "")
    stacks = f" ({', '.join(f.stacks)})" if f.stacks else ""
    text = f"{f.severity.value.upper():7} {f.source.value}/{f.rule_id} {where}: {f.message}{stacks}"
    if f.fix:
        text += f"\n        fix: {f.fix}"
    return text


def to_text(result: ValidationResult, *, show_info: bool = True) -> str:
    """One block per finding (errors first), then the skipped-checkov note and the summary line."""
    lines = [_finding_text(f) for f in result.findings if show_info or f.severity.value != "info"]
    if result.summary.checkov == "skipped":
        lines.append("checkov: skipped (--no-checkov)")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    if timings:
        lines.append(f"timings: {timings}")
    lines.append(summary_line(result))
    return "\n".join(lines)


def to_dict(result: ValidationResult) -> dict[str, Any]:
    s = result.summary
    return {
        "findings": [
            {
                "source": f.source.value,
                "rule_id": f.rule_id,
                "severity": f.severity.value,
                "template": f.template,
                "line": f.line,
                "resource": f.resource,
                "message": f.message,
                "fix": f.fix,
                "stacks": list(f.stacks),
            }
            for f in result.findings
        ],
        "summary": {**asdict(s), "templates": list(s.templates), "ok": s.ok},
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }


def to_json(result: ValidationResult) -> str:
    return json.dumps(to_dict(result), indent=2)
