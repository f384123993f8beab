"""The failback's latency model merged under the failover's, and the report's window and losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FakeClock, make_runner

from streamflix_dr.failback.base import FailbackTopology, Phase
from streamflix_dr.failback.phases import failback_stages
from streamflix_dr.failback.report import build_failback_report, render_markdown
from streamflix_dr.failback.runner import failback_latency
from streamflix_dr.runbook.latency import ActionLatency, Latency


def test_every_action_a_failback_step_waits_on_has_a_figure_with_a_source() -> None:
    latency = failback_latency(None)
    actions = {a for _, steps, _ in failback_stages(list(Phase)) for s in steps for a in s.actions}
    assert actions <= set(latency.actions)
    assert all(latency.actions[a].source for a in actions)


def test_the_failover_models_figures_win_where_both_have_one() -> None:
    failover = Latency(
        actions={"rds.promote_read_replica": ActionLatency("rds.promote_read_replica", 42, "x")}
    )
    merged = failback_latency(failover)
    assert merged.actions["rds.promote_read_replica"].seconds == 42
    assert merged.actions["rds.create_cross_region_replica"].seconds > 0


def test_the_cutback_plan_puts_promotion_and_dns_on_the_critical_path(topology: FailbackTopology) -> None:
    latency = failback_latency(None)
    planned = {
        s.id.value: s.expected_seconds(latency)
        for _, steps, _ in failback_stages([Phase.CUTBACK])
        for s in steps
    }
    assert planned["fb-promote-rds"] >= 300
    assert planned["fb-switch-dns"] >= 150


def test_report_window_runs_from_the_fence_to_the_verification(
    factory: Any, topology: FailbackTopology, clock: FakeClock, tmp_path: Path
) -> None:
    result = make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT, Phase.CUTBACK]).run()
    assert result.succeeded, result.error
    by = {r.step: r for r in result.steps}

    doc = build_failback_report(result, environment="test")

    fence, verify = by["fb-fence-dr"], by["fb-verify-primary"]
    assert fence.started_at is not None and verify.ended_at is not None
    assert doc["write_unavailable_wall_seconds"] == round(verify.ended_at - fence.started_at, 3)
    # The DR scale-down after the verification is outside the window.
    assert by["fb-scale-dr-warm"].started_at >= verify.ended_at  # type: ignore[operator]
    assert "Write-unavailability window" in render_markdown(doc)


def test_failback_report_writes_the_step_timeline_like_the_failover_report(
    factory: Any, topology: FailbackTopology, clock: FakeClock, tmp_path: Path
) -> None:
    from streamflix_dr.failback.report import write_failback_report  # noqa: PLC0415

    result = make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT, Phase.CUTBACK]).run()
    assert result.succeeded, result.error
    doc = build_failback_report(result, environment="test")

    # One timeline entry per step the run journaled, each with its modelled start and end.
    assert {t["step"] for t in doc["timeline"]} == {r.step for r in result.steps}
    assert all(t["start_modelled"] is not None for t in doc["timeline"] if t["status"] == "done")
    paths = write_failback_report(doc, tmp_path / "report")
    svg = paths["svg"].read_text()
    assert svg.startswith("<svg") and "fb-fence-dr" in svg and "fb-verify-primary" in svg
    assert "![timeline](timeline.svg)" in paths["markdown"].read_text()
