"""reconcile_report: the stacks against the live data stores, failed over and after a full failback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FakeClock, make_runner
from fakes import DR, PRIMARY, World

from streamflix_dr.failback.base import FailbackTopology, Phase
from streamflix_dr.failback.reconcile import reconcile_report


def test_a_failed_over_environment_does_not_match_its_stacks(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    report = reconcile_report(factory, None, topology)

    assert not report.matches
    assert report.active_region == "both (split)"  # both DBs standalone: the primary has diverged
    by_stack = {(f.store, f.stack): f for f in report.findings}
    dr_db = by_stack[("rds", topology.dr.stack)]
    assert not dr_db.matches and dr_db.live.startswith("standalone")
    assert not by_stack[("efs", topology.primary.stack)].matches
    assert not by_stack[("redis", topology.primary.stack)].matches
    assert not by_stack[("secrets", topology.primary.stack)].matches


def test_after_a_full_failback_every_store_matches_and_no_renamed_instance_is_left(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, list(Phase)).run().succeeded

    report = reconcile_report(factory, None, topology)

    assert report.matches, report.to_dict()
    assert report.active_region == PRIMARY
    assert report.notes == []
    assert {f.store for f in report.findings} == {"rds", "efs", "redis", "secrets"}


def test_during_reprotect_the_renamed_instance_is_noted(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT]).run().succeeded

    report = reconcile_report(factory, None, topology)

    assert report.active_region == DR
    assert any("renamed-aside" in n for n in report.notes)
    assert not report.matches
