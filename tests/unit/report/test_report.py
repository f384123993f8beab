"""Reports from a run with a fake clock: RTO figures, RPO per store, Markdown, SVG, history."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from streamflix_dr.constants import StepId
from streamflix_dr.report.model import build_report, summary
from streamflix_dr.report.render import append_history, read_history, to_markdown, write_report
from streamflix_dr.report.svg import timeline_svg
from streamflix_dr.runbook.journal import OperationStatus, StepRecord, StepStatus
from streamflix_dr.runbook.runner import Plan, PlannedStep, RunResult

T0 = 1_800_000_000.0
SCALE = 1 / 60
OWN = 0.1  # real seconds each step spends on its own work (API calls, journal)
GAP = 0.01  # real seconds the runner spends between stages
# (step, stage, parallel, modelled AWS seconds)
STEPS = [
    ("fence-primary", "fence", False, 40),
    ("promote-db", "data", True, 300),
    ("failover-efs", "data", True, 180),
    ("failover-redis", "data", True, 0),
    ("stop-secret-replication", "data", True, 5),
    ("scale-ecs", "data", True, 150),
    ("switch-dns", "dns", False, 150),
    ("verify-serving", "verify", False, 10),
]


def _rows() -> list[tuple[str, str, bool, float, float, float]]:
    """(step, stage, parallel, real start, real end, modelled) with stages one after the other."""
    rows = []
    cursor, stage, stage_start = 0.0, "", 0.0
    for step, st, par, m in STEPS:
        if st != stage:
            stage, stage_start = st, (cursor + GAP if rows else 0.0)
        end = stage_start + m * SCALE + OWN
        rows.append((step, st, par, stage_start, end, m))
        cursor = max(cursor, end)
    return rows


ROWS = _rows()


def _result(status: OperationStatus = OperationStatus.SUCCEEDED) -> RunResult:
    plan = Plan(
        "eu-west-2->us-east-1", tuple(PlannedStep(s, st, par, f"do {s}", m) for s, st, par, _, _, m in ROWS)
    )
    steps = []
    for s, _, _, a, b, m in ROWS:
        rec = StepRecord(
            step=s,
            status=StepStatus.DONE,
            started_at=T0 + a,
            ended_at=T0 + b,
            runs=1,
            attempts=1,
            modelled_seconds=m,
            message="ok",
        )
        if s == StepId.PROMOTE_DB:
            rec.metrics = {"rpo_seconds": 2.5}
        if s == StepId.FAILOVER_EFS:
            rec.metrics = {"rpo_seconds": 41.0}
        if s == StepId.FAILOVER_REDIS:
            rec.status = StepStatus.SKIPPED
            rec.metrics = {"rpo_seconds": None}
        steps.append(rec)
    return RunResult(
        "failover-x",
        plan.direction,
        status,
        plan,
        T0,
        T0 + 8.7,
        steps,
        time_scale=SCALE,
        warnings=["failover-redis: cache starts empty"],
    )


def test_rto_counts_aws_waits_at_their_duration_and_own_work_as_it_ran() -> None:
    doc = build_report(_result(), kind="drill", rto_target_seconds=900)
    # fence + the longest data step + dns + verify, each with its own work, plus the three stage gaps
    expected = (40 + OWN) + (300 + OWN) + (150 + OWN) + (10 + OWN) + 3 * GAP
    assert doc["rto_modelled_seconds"] == round(expected, 3)
    assert doc["rto_seconds"] == round(ROWS[-1][4], 3)
    assert doc["rto_scaled_back_seconds"] == round(ROWS[-1][4] / SCALE, 3)
    assert doc["rto_serial_seconds"] == round(sum(m for *_, m in STEPS) + len(STEPS) * OWN, 3)
    assert doc["critical_path_seconds"] == 500
    assert doc["overhead_fraction"] == round(1 - 500 / expected, 4)
    assert doc["overhead_fraction"] < 0.05
    assert doc["rpo_seconds"] == {"rds": 2.5, "efs": 41.0, "redis": None}
    assert doc["serving"] is True and doc["result"] == "succeeded"
    promote = next(s for s in doc["steps"] if s["step"] == "promote-db")
    assert promote["start_modelled"] == round(40 + OWN + GAP, 3)
    assert promote["end_modelled"] == round(40 + OWN + GAP + 300 + OWN, 3) and promote["parallel"]


def test_without_latency_model_the_figures_are_the_wall_clock() -> None:
    res = _result()
    res.time_scale = 1.0
    doc = build_report(res)
    assert doc["rto_modelled_seconds"] == doc["rto_seconds"] == round(ROWS[-1][4], 3)


def test_summary_has_the_drill_json_fields() -> None:
    s = summary(build_report(_result(), kind="drill"))
    for key in (
        "result",
        "rto_seconds",
        "rto_modelled_seconds",
        "rto_serial_seconds",
        "overhead_fraction",
        "rpo_seconds",
        "steps",
    ):
        assert key in s
    assert s["steps"][0] == {
        "step": "fence-primary",
        "status": "done",
        "start": 0.0,
        "end": round(40 * SCALE + OWN, 3),
        "start_modelled": 0.0,
        "end_modelled": 40.1,
    }


def test_failed_run_report_says_so() -> None:
    res = _result(OperationStatus.FAILED)
    res.steps[-1].status = StepStatus.PENDING
    res.steps[-1].ended_at = None
    res.error = "promote-db: promotion refused"
    doc = build_report(res)
    assert doc["result"] == "failed" and doc["serving"] is False
    md = to_markdown(doc)
    assert "**failed**" in md and "promotion refused" in md


def test_svg_is_well_formed_with_one_bar_per_step_and_the_rto_line() -> None:
    svg = timeline_svg(build_report(_result(), rto_target_seconds=900))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(bars) == len(ROWS)
    assert any("RTO 500 s" in (t.text or "") for t in root.iter(f"{ns}text"))


def test_write_report_and_history(tmp_path: Path) -> None:
    doc = build_report(_result(), kind="drill", rto_target_seconds=900)
    paths = write_report(doc, tmp_path / "failover-x")
    assert json.loads(paths["json"].read_text())["operation_id"] == "failover-x"
    md = paths["markdown"].read_text()
    assert "![timeline](timeline.svg)" in md and "within target" in md and "| efs | 41.0 |" in md
    hist = tmp_path / "history.jsonl"
    append_history(doc, hist)
    append_history(doc, hist)
    lines = read_history(hist)
    assert len(lines) == 2 and lines[0]["rto_modelled_seconds"] == 500.43


def test_read_and_write_rto_on_the_modelled_axis() -> None:
    doc = build_report(_result(), kind="drill", rto_target_seconds=900)
    # read: scale-ecs and switch-dns ended; write: plus promote-db and failover-efs (stages in sequence here)
    dns_end = next(s["end_modelled"] for s in doc["steps"] if s["step"] == "switch-dns")
    promote_end = next(s["end_modelled"] for s in doc["steps"] if s["step"] == "promote-db")
    assert doc["rto_read_modelled_seconds"] == dns_end
    assert doc["rto_write_modelled_seconds"] == max(dns_end, promote_end)
    assert doc["rto_met"] is True
    s = summary(doc)
    assert s["rto_read_modelled_seconds"] == dns_end and s["rto_met"] is True
    assert "Read RTO" in to_markdown(doc) and "Write RTO" in to_markdown(doc)


def test_a_run_that_does_not_serve_does_not_meet_its_rto() -> None:
    res = _result(OperationStatus.FAILED)
    verify = res.step("verify-serving")
    assert verify is not None
    verify.status = StepStatus.FAILED
    verify.metrics = {"serving": 0.0}
    doc = build_report(res, kind="drill", rto_target_seconds=900)
    assert doc["serving"] is False and doc["rto_met"] is False
    assert res.not_serving
    assert "not serving: RTO not met" in to_markdown(doc)


def test_a_step_that_waits_for_another_starts_after_it_on_the_modelled_axis() -> None:
    # switch-dns in the same parallel stage as the promotion, after the fence
    steps = [
        ("fence-primary", 40, 0.0, (), 40),
        ("promote-db", 300, 0.0, (), 300),
        ("switch-dns", 150, 40 * SCALE + OWN, ("fence-primary",), 150),
    ]
    plan = Plan(
        "eu-west-2->us-east-1",
        tuple(PlannedStep(s, "failover", True, s, m, after) for s, m, _, after, _ in steps),
    )
    recs = [
        StepRecord(
            step=s,
            status=StepStatus.DONE,
            started_at=T0 + start,
            ended_at=T0 + start + m * SCALE + OWN,
            runs=1,
            attempts=1,
            modelled_seconds=m,
        )
        for s, m, start, _, _ in steps
    ]
    res = RunResult("op", plan.direction, OperationStatus.SUCCEEDED, plan, T0, T0 + 6, recs, time_scale=SCALE)
    doc = build_report(res)
    dns = next(s for s in doc["steps"] if s["step"] == "switch-dns")
    assert dns["start_modelled"] == round(40 + OWN, 3)
    assert dns["end_modelled"] == round(40 + OWN + 150 + OWN, 3)
    assert doc["critical_path_seconds"] == 300  # max(promotion, fence + dns)
