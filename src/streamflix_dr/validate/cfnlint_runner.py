"""Run cfn-lint (its library API) with the project's DR rules appended, and turn matches into findings."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file
from cfnlint.context import ParameterSet
from cfnlint.decode import decode
from cfnlint.helpers import load_plugins

from streamflix_dr.rules import _common, rules_dir
from streamflix_dr.validate.findings import Finding, Severity, Source

LOGGER = logging.getLogger(__name__)

# E2900 checks a parameter set against the template's parameters. ``validate`` passes a partial set
# (Role and Phase) when no environment is given, and checks an environment's values itself with
# messages that name the environment file; so E2900 would only repeat or misreport.
IGNORED_CHECKS = ("E2900",)
FIX_MARKER = " Fix: "


@functools.lru_cache(maxsize=1)
def dr_rule_ids() -> frozenset[str]:
    """The ids of the project's rules (to tell dr-rules findings from cfn-lint's own)."""
    return frozenset(rule.id for rule in load_plugins(str(rules_dir())))


def dr_rules() -> list[Any]:
    """The project's rule objects, for listing (id, shortdesc, description)."""
    return sorted(load_plugins(str(rules_dir())), key=lambda r: r.id)


def _severity(rule_id: str) -> Severity:
    if rule_id.startswith("E"):
        return Severity.ERROR
    if rule_id.startswith("W"):
        return Severity.WARNING
    return Severity.INFO


def split_fix(message: str) -> tuple[str, str | None]:
    """Our rules end their messages with ``. Fix: ...``; split that off."""
    if FIX_MARKER in message:
        head, fix = message.split(FIX_MARKER, 1)
        return head.rstrip(".") + ".", fix.strip()
    return message, None


class ResourceLines:
    """Which resource a line of a template belongs to."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self._ranges: list[tuple[int, int, str]] = []
        resources = template.get("Resources", {})
        if isinstance(resources, Mapping):
            for name, body in resources.items():
                start = getattr(name, "start_mark", None)
                end = getattr(body, "end_mark", None)
                if start is not None and end is not None:
                    self._ranges.append((start.line + 1, end.line + 1, str(name)))

    def at(self, line: int | None) -> str | None:
        if line is None:
            return None
        for start, end, name in self._ranges:
            if start <= line <= end:
                return name
        return None


def parse(path: Path) -> tuple[dict[str, Any] | None, Finding | None]:
    """Decode a template with cfn-lint's decoder; a parse error becomes a finding with file, line and fix."""
    template, matches = decode(str(path))
    if matches:
        m = matches[0]
        return None, Finding(
            source=Source.CFN_LINT,
            rule_id=m.rule.id,
            severity=Severity.ERROR,
            template=str(path),
            line=m.linenumber,
            resource=None,
            message=f"the template does not parse: {m.message}",
            fix="fix the YAML/JSON syntax at that line (cfn-lint's decoder reports the first problem)",
        )
    if not isinstance(template, dict):
        return None, Finding(
            source=Source.CFN_LINT,
            rule_id="E0000",
            severity=Severity.ERROR,
            template=str(path),
            line=1,
            resource=None,
            message="the template is empty or not a mapping",
            fix="start from templates/streamflix-dr.yaml",
        )
    return template, None


@dataclass(frozen=True)
class StackSpec:
    """One stack a template becomes: its label (``dr/base us-east-1``), region and parameter values."""

    label: str
    region: str
    parameters: Mapping[str, str] | None = None


def lint(
    path: Path,
    *,
    region: str,
    parameters: Mapping[str, str] | None,
    stack: str,
    parameters_source: str | None = None,
    resource_lines: ResourceLines | None = None,
) -> list[Finding]:
    """Lint one template for one stack (region + parameter values); see ``lint_stacks``."""
    return lint_stacks(
        path,
        [StackSpec(stack, region, parameters)],
        parameters_source=parameters_source,
        resource_lines=resource_lines,
    )


def _set_source(label: str, parameters_source: str | None) -> str:
    return f"{parameters_source} ({label})" if parameters_source else label


def _stacks_named(
    message: str, stacks: Sequence[StackSpec], parameters_source: str | None
) -> tuple[str, ...]:
    """The stacks a finding belongs to: those whose parameter set cfn-lint names in the message (it says
    ``from ['<source>']`` when a value resolved from a parameter set fails), else every stack linted."""
    named = tuple(s.label for s in stacks if f"'{_set_source(s.label, parameters_source)}'" in message)
    return named or tuple(s.label for s in stacks)


def lint_stacks(
    path: Path,
    stacks: Sequence[StackSpec],
    *,
    parameters_source: str | None = None,
    resource_lines: ResourceLines | None = None,
    sets_for_cfn_lint: bool = True,
) -> list[Finding]:
    """Lint one template for all the stacks it becomes in ONE cfn-lint run, with the DR rules.

    cfn-lint validates the template once against every stack's region and resolves parameter references
    with every stack's parameter set (one ``ParameterSet`` each, named after the stack), so each value a
    stack would get is checked as in a run of its own, while the schema validation of the resources, the
    bulk of the work, happens once instead of once per stack. The DR rules read all the parameter sets
    (``rules._common.parameter_values``). Informational checks are included (``info`` findings to review).

    ``sets_for_cfn_lint=False`` gives the parameter sets to the DR rules only
    (``_common.STACK_PARAMETER_SETS``) and lets cfn-lint's own rules resolve every parameter to its default,
    allowed, minimum and maximum values, as a plain cfn-lint run does. ``validate`` does that when the sets
    hold nothing but Role and Phase (no environment): cfn-lint then checks a superset of the values, and
    resolving each reference once instead of once per set saves a fifth of its time.
    """
    regions = sorted({s.region for s in stacks})
    config = ManualArgs(
        regions=regions,
        include_checks=["I"],
        ignore_checks=list(IGNORED_CHECKS),
        append_rules=[str(rules_dir())],
    )
    sets = [
        ParameterSet(source=_set_source(s.label, parameters_source), parameters=dict(s.parameters))
        for s in stacks
        if s.parameters
    ]
    if sets and sets_for_cfn_lint:
        config["parameters"] = sets
    ours = dr_rule_ids()
    labels = tuple(s.label for s in stacks)
    findings = []
    token = _common.STACK_PARAMETER_SETS.set(
        () if sets_for_cfn_lint else tuple(dict(s.parameters) for s in stacks if s.parameters)
    )
    try:
        matches = lint_file(path, config=config)
    except Exception as e:  # cfn-lint raises its own errors (unknown region, bad config) and plain ones
        LOGGER.debug("cfn-lint failed on %s", path, exc_info=True)
        return [
            Finding(
                source=Source.CFN_LINT,
                rule_id="cfn-lint-crash",
                severity=Severity.ERROR,
                template=str(path),
                line=None,
                resource=None,
                message=f"cfn-lint could not lint the template for {', '.join(labels)}: "
                f"{type(e).__name__}: {e}",
                fix=f"run `cfn-lint --regions {' '.join(regions)} {path}` to see the full error; check the "
                "region names",
                stacks=labels,
            )
        ]
    finally:
        _common.STACK_PARAMETER_SETS.reset(token)
    for m in matches:
        rule_id = str(m.rule.id)
        message, fix = split_fix(str(m.message))
        if fix is None and getattr(m.rule, "source_url", None):
            fix = f"see {m.rule.source_url}"
        findings.append(
            Finding(
                source=Source.DR_RULES if rule_id in ours else Source.CFN_LINT,
                rule_id=rule_id,
                severity=_severity(rule_id),
                template=str(path),
                line=m.linenumber,
                resource=resource_lines.at(m.linenumber) if resource_lines else None,
                message=message,
                fix=fix,
                stacks=_stacks_named(message, stacks, parameters_source),
            )
        )
    return findings
