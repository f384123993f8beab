"""Run the DR rules through cfn-lint's library API, the way ``validate`` and users' pipelines do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.context import ParameterSet
from cfnlint.helpers import load_plugins

from streamflix_dr.rules import rules_dir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "templates"
REGIONS = ["us-east-1", "eu-west-2"]
_RULES = load_plugins(str(rules_dir()))


def run_lint(
    path: Path, parameters: dict[str, Any] | None = None, regions: list[str] | None = None
) -> list[Any]:
    """All cfn-lint matches (its own rules, informational ones included, plus the DR rules)."""
    config = ManualArgs(regions=regions or REGIONS, include_checks=["I"], append_rules=[str(rules_dir())])
    if parameters is not None:
        config["parameters"] = [ParameterSet(source=None, parameters=parameters)]
        config["ignore_checks"] = ["E2900"]
    return list(lint_file(path, config=config))


def as_rows(matches: list[Any]) -> list[dict[str, Any]]:
    return sorted(
        ({"id": m.rule.id, "line": m.linenumber, "message": m.message} for m in matches),
        key=lambda r: (r["line"], r["id"], r["message"]),
    )


@pytest.fixture
def lint_text(tmp_path: Path) -> Any:
    """Lint a template given as text; returns the matches."""

    def _lint(text: str, parameters: dict[str, Any] | None = None) -> list[Any]:
        path = tmp_path / "t.yaml"
        path.write_text(text)
        return run_lint(path, parameters)

    return _lint


def load_rule(cls: str) -> Any:
    """A rule object as cfn-lint's loader makes it (imported from its file, not from the package)."""
    for rule in _RULES:
        if type(rule).__name__ == cls:
            return rule
    raise LookupError(cls)


def cfn_template(text: str, parameters: dict[str, Any] | None = None, region: str = "us-east-1") -> Any:
    """A cfn-lint Template object for ``text`` (optionally with a parameter set, like --parameters)."""
    from cfnlint.decode import decode_str  # noqa: PLC0415
    from cfnlint.template import Template  # noqa: PLC0415

    tpl, errors = decode_str(text)
    assert not errors, errors
    sets = [ParameterSet(source=None, parameters=parameters)] if parameters is not None else None
    return Template("t.yaml", tpl, [region], sets)


def messages(rule_cls: str, text: str, parameters: dict[str, Any] | None = None) -> list[str]:
    rule = load_rule(rule_cls)
    return sorted(m.message for m in rule.match(cfn_template(text, parameters)))
