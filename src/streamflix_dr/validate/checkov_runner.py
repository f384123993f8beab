"""Run checkov's CloudFormation checks in its own virtualenv (its pins clash with cfn-lint's)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamflix_dr.validate.findings import Finding, Severity, Source

LOGGER = logging.getLogger(__name__)

ENV_VAR = "STREAMFLIX_DR_CHECKOV"
CHECKOV_TIMEOUT_SECONDS = 300
INSTALL_FIX = "run `make validate` (it installs checkov into .venv-checkov), set STREAMFLIX_DR_CHECKOV to a "
INSTALL_FIX += "checkov executable, or pass --no-checkov"
_REPO_ROOT = Path(__file__).resolve().parents[3]


def find_checkov(env: Mapping[str, str] | None = None, repo_root: Path | None = None) -> str | None:
    """$STREAMFLIX_DR_CHECKOV, else <repo>/.venv-checkov/bin/checkov, else checkov on PATH."""
    environ = os.environ if env is None else env
    explicit = environ.get(ENV_VAR)
    if explicit:
        return explicit if Path(explicit).is_file() and os.access(explicit, os.X_OK) else None
    local = (repo_root or _REPO_ROOT) / ".venv-checkov" / "bin" / "checkov"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("checkov", path=environ.get("PATH"))


def not_found_finding(env: Mapping[str, str] | None = None) -> Finding:
    environ = os.environ if env is None else env
    where = f"{ENV_VAR}={environ[ENV_VAR]!r} is not an executable" if environ.get(ENV_VAR) else "not found"
    return Finding(
        source=Source.CHECKOV,
        rule_id="checkov-missing",
        severity=Severity.ERROR,
        template="-",
        line=None,
        resource=None,
        message=f"checkov is {where} (looked at ${ENV_VAR}, .venv-checkov/bin/checkov and PATH)",
        fix=INSTALL_FIX,
    )


SHIM = Path(__file__).with_name("checkov_shim.py")


def checkov_command(executable: str) -> list[str]:
    """How to start checkov: through ``checkov_shim.py`` with the interpreter of the checkov script (its
    shebang), which runs the same checks faster; the executable itself when that interpreter is unknown."""
    try:
        with open(executable, "rb") as f:
            first = f.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return [executable]
    interpreter = first[2:].strip().split(" ")[0] if first.startswith("#!") else ""
    if interpreter and Path(interpreter).is_file() and os.access(interpreter, os.X_OK) and SHIM.is_file():
        return [interpreter, str(SHIM)]
    return [executable]


def _resource_id(resource: Any) -> str | None:
    # checkov names resources "<Type>.<LogicalId>".
    if isinstance(resource, str) and "." in resource:
        return resource.rsplit(".", 1)[1]
    return None


def _reports(data: Any) -> list[dict[str, Any]]:
    items = data if isinstance(data, list) else [data]
    return [d for d in items if isinstance(d, dict)]


def parse_report(data: Any, template: str) -> list[Finding]:
    """Failed checks as errors, template-suppressed ones as infos (to review), parse errors as errors."""
    findings: list[Finding] = []
    for report in _reports(data):
        results = report.get("results", {}) or {}
        for check in results.get("failed_checks", []) or []:
            lines = check.get("file_line_range") or [None]
            guideline = check.get("guideline")
            findings.append(
                Finding(
                    source=Source.CHECKOV,
                    rule_id=str(check.get("check_id")),
                    severity=Severity.ERROR,
                    template=template,
                    line=lines[0],
                    resource=_resource_id(check.get("resource")),
                    message=str(check.get("check_name")),
                    fix=f"see {guideline}"
                    if guideline
                    else "fix the resource, or (if the check does not apply) "
                    "add Metadata.checkov.skip with the check id and a reason",
                )
            )
        for check in results.get("skipped_checks", []) or []:
            lines = check.get("file_line_range") or [None]
            reason = (check.get("check_result") or {}).get("suppress_comment") or "no reason given"
            findings.append(
                Finding(
                    source=Source.CHECKOV,
                    rule_id=str(check.get("check_id")),
                    severity=Severity.INFO,
                    template=template,
                    line=lines[0],
                    resource=_resource_id(check.get("resource")),
                    message=f"skipped by the template: {check.get('check_name')} ({reason})",
                )
            )
        for path in results.get("parsing_errors", []) or []:
            findings.append(
                Finding(
                    source=Source.CHECKOV,
                    rule_id="checkov-parse",
                    severity=Severity.ERROR,
                    template=str(path),
                    line=None,
                    resource=None,
                    message="checkov could not parse the template",
                    fix="run cfn-lint on it first; fix what it reports",
                )
            )
    return findings


def run_checkov(
    executable: str, templates: Sequence[Path], *, runner: Any = subprocess.run, timeout: float | None = None
) -> list[Finding]:
    """Run checkov on each template (CloudFormation framework, JSON output) and return its findings.

    ``runner`` is ``subprocess.run`` or a test double with the same signature.
    """
    findings: list[Finding] = []
    for template in templates:
        cmd = [
            *checkov_command(executable),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            # No Prisma Cloud calls: the build has no network, and findings must not depend on one.
            "--skip-download",
        ]
        LOGGER.info("running %s", " ".join(cmd))
        try:
            proc = runner(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout or CHECKOV_TIMEOUT_SECONDS,
                check=False,
                env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            findings.append(_run_failed(template, f"could not run checkov ({e})"))
            continue
        # checkov exits 1 when checks fail; anything else without JSON is a crash.
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            findings.append(
                _run_failed(template, f"checkov exited {proc.returncode} without a report: {tail[0]}")
            )
            continue
        findings.extend(parse_report(data, str(template)))
    return findings


def _run_failed(template: Path, message: str) -> Finding:
    return Finding(
        source=Source.CHECKOV,
        rule_id="checkov-run",
        severity=Severity.ERROR,
        template=str(template),
        line=None,
        resource=None,
        message=message,
        fix="run the same checkov command by hand to see its error; reinstall with `make validate`",
    )
