"""Findings as data: what ``validate`` found, where, and how to fix it. Rendering lives in ``render``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Source(StrEnum):
    """Which check produced a finding."""

    CFN_LINT = "cfn-lint"
    DR_RULES = "dr-rules"
    CHECKOV = "checkov"
    CONFIG = "config"
    PARAMETERS = "parameters"


class Severity(StrEnum):
    """Errors fail validation; warnings are reported (and must be zero); infos are for review."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One problem in one template (or environment file)."""

    source: Source
    rule_id: str
    severity: Severity
    template: str
    line: int | None
    resource: str | None
    message: str
    fix: str | None = None
    # The stacks the finding applies to, e.g. ("dr/base us-east-1",); empty when it does not depend on one.
    stacks: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.template}:{self.line}" if self.line else self.template


@dataclass(frozen=True)
class Summary:
    """Counts by severity, what was checked and how long it took."""

    errors: int
    warnings: int
    infos: int
    templates: tuple[str, ...]
    elapsed_seconds: float
    checkov: str  # "ran", "skipped" or "not found"

    @property
    def ok(self) -> bool:
        # The issue asks for zero cfn-lint warnings too, so a warning fails validation like an error.
        return self.errors == 0 and self.warnings == 0


@dataclass(frozen=True)
class ValidationResult:
    """Everything ``validate`` found, with timings per phase (seconds)."""

    findings: tuple[Finding, ...]
    summary: Summary
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.summary.ok

    def by_severity(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity is severity]
