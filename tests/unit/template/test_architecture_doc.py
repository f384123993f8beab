"""docs/architecture.md stays in step with the template: diagram nodes and resource counts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from streamflix_dr.constants import Phase, Role
from streamflix_dr.template_model import active_outputs, active_resources

from .conftest import make_params

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
# Resources every reader of the diagram needs to see; a rename in the template must reach the doc.
KEY_NODES = {
    "P": {
        "DbInstance",
        "FileSystem",
        "RedisReplicationGroup",
        "GlobalDatastore",
        "DbSecret",
        "EcrRepository",
        "EcrReplication",
        "BackupPlan",
        "BackupVault",
        "HealthCheck",
        "PrimaryRecord",
        "LoadBalancer",
        "EcsService",
        "Trail",
        "KmsKey",
    },
    "D": {
        "DbReplica",
        "FileSystem",
        "RedisSecondaryReplicationGroup",
        "EcrRepository",
        "BackupVault",
        "SecondaryRecord",
        "LoadBalancer",
        "EcsService",
        "PrimaryHealthAlarm",
        "FailoverTriggerRule",
        "FailoverStateMachine",
        "FailoverFunction",
        "ReadinessFunction",
        "JournalTable",
        "KmsKey",
    },
}
ROLE_OF = {"P": Role.PRIMARY, "D": Role.DR}
DNS = {"HostedZoneId": "Z0123456789ABC", "DomainName": "watch.example.com"}


def _mermaid() -> str:
    blocks = re.findall(r"```mermaid\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def _nodes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"P": set(), "D": set()}
    for prefix, lid in re.findall(r"\b([PD])_([A-Za-z0-9]+)", _mermaid()):
        found[prefix].add(lid)
    return found


def _active_in_role(template: dict[str, Any], role: Role) -> set[str]:
    out: set[str] = set()
    for gds in (False, True):
        out |= set(active_resources(template, make_params(role, Phase.FULL, gds=gds, **DNS)))
    return out


@pytest.mark.parametrize("prefix", ["P", "D"], ids=["primary", "dr"])
def test_diagram_nodes_exist_in_that_role(template: dict[str, Any], prefix: str) -> None:
    active = _active_in_role(template, ROLE_OF[prefix])
    assert sorted(_nodes()[prefix] - active) == []


@pytest.mark.parametrize("prefix", ["P", "D"], ids=["primary", "dr"])
def test_key_resources_are_in_the_diagram(template: dict[str, Any], prefix: str) -> None:
    assert KEY_NODES[prefix] <= set(template["Resources"])
    assert sorted(KEY_NODES[prefix] - _nodes()[prefix]) == []


def _count_rows() -> list[tuple[str, str, bool, int, int]]:
    rows = re.findall(
        r"^\| (primary|dr) \| (base|full) \| (on|off) \| (\d+) \| (\d+) \|$",
        DOC.read_text(encoding="utf-8"),
        flags=re.M,
    )
    return [(r, p, g == "on", int(n), int(o)) for r, p, g, n, o in rows]


def test_resource_counts_in_the_doc_match_the_template(template: dict[str, Any]) -> None:
    rows = _count_rows()
    assert len(rows) == 6
    for role, phase, gds, resources, outputs in rows:
        params = make_params(Role(role), Phase(phase), gds=gds)
        assert len(active_resources(template, params)) == resources, (role, phase, gds)
        assert len(active_outputs(template, params)) == outputs, (role, phase, gds)


def test_total_resource_count_in_the_doc(template: dict[str, Any]) -> None:
    match = re.search(r"The template holds (\d+) resources", DOC.read_text(encoding="utf-8"))
    assert match is not None
    assert int(match.group(1)) == len(template["Resources"])


def test_every_checkov_skip_is_documented(template: dict[str, Any]) -> None:
    rows = re.findall(r"^\| (CKV[^|]+) \| ([^|]+) \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    documented = {
        (check.strip(), lid.strip())
        for checks, lids in rows
        for check in checks.split(",")
        for lid in lids.split(",")
    }
    skipped = {
        (skip["id"], lid)
        for lid, res in template["Resources"].items()
        for skip in ((res.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    }
    assert skipped, "the template has no checkov skips to compare"
    assert sorted(skipped - documented) == []
    assert sorted(documented - skipped) == []
