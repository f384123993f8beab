"""Every DR rule on the good and bad fixture templates (golden results next to each bad one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.helpers import load_plugins

from streamflix_dr.rules import rules_dir

from .conftest import FIXTURES, as_rows, run_lint

BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
RULES = sorted(load_plugins(str(rules_dir())), key=lambda r: r.id)


def test_rules_have_ids_and_documentation() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == 10
    for rule in RULES:
        assert rule.id[0] in "EW" and rule.id[1] == "9" and len(rule.id) == 5, rule.id
        assert rule.shortdesc and rule.description and rule.source_url.startswith("https://"), rule.id
        assert "streamflix-dr" in rule.tags, rule.id


def test_every_rule_has_a_bad_fixture() -> None:
    covered = {json.loads(p.with_suffix(".json").read_text())["rule"] for p in BAD}
    assert covered == {r.id for r in RULES}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_has_no_findings_at_all(path: Path) -> None:
    # Not only the DR rules: cfn-lint's own errors, warnings and informational checks stay silent too.
    assert as_rows(run_lint(path)) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_matches_golden(path: Path) -> None:
    golden = json.loads(path.with_suffix(".json").read_text())
    rows = as_rows(run_lint(path))
    assert rows == golden["matches"]
    # Each bad fixture violates exactly the rule it is named for, and nothing else fires.
    assert {r["id"] for r in rows} == {golden["rule"]}
    assert all(". Fix: " in r["message"] for r in rows)


@pytest.mark.parametrize("role", ["primary", "dr"])
@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_stays_clean_with_parameter_sets(path: Path, role: str) -> None:
    for phase in ("base", "full"):
        if (role, phase) == ("primary", "base"):
            continue
        assert as_rows(run_lint(path, {"Role": role, "Phase": phase})) == []


def test_cfn_lint_cli_append_rules_runs_the_rules() -> None:
    """The user pipeline: the real ``cfn-lint --append-rules <dir>`` command line (good file stays silent)."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    bad = FIXTURES / "bad" / "retain.yaml"
    good = FIXTURES / "good" / "dr_stack.yaml"
    cmd = [
        str(cfn_lint),
        "--append-rules",
        str(rules_dir()),
        "--regions",
        "us-east-1",
        "--format",
        "parseable",
    ]
    out = subprocess.run(
        [*cmd, "--", str(bad), str(good)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 2, out.stderr  # cfn-lint's bitmask: 2 = errors
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}:") and ":E9401:" in line for line in lines)
