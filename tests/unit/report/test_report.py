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
# (step, stage, parallel, start, end, modelled AWS seconds) in real (scaled) seconds
ROWS = [
    ("fence-primary", "fence", False, 0.0, 0.7, 40),
    ("promote-db", "data", True, 0.7, 5.8, 300),
    ("failover-efs", "data", True, 0.7, 3.8, 180),
    ("failover-redis", "data", True, 0.7, 0.72, 0),
    ("stop-secret-replication", "data", True, 0.7, 0.8, 5),
    ("scale-ecs", "data", True, 0.7, 3.3, 150),
    ("switch-dns", "dns", False, 5.8, 8.4, 150),
    ("verify-serving", "verify", False, 8.4, 8.6, 10),
]


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


def test_rto_figures_are_scaled_back_and_overhead_is_what_is_not_aws_time() -> None:
    doc = build_report(_result(), kind="drill", rto_target_seconds=900)
    assert doc["rto_seconds"] == 8.6
    assert doc["rto_modelled_seconds"] == 516.0
    # serial: the sum of every step's duration, scaled back
    assert doc["rto_serial_seconds"] == round(sum(b - a for _, _, _, a, b, _ in ROWS) / SCALE, 3)
    # critical path of AWS work: 40 + max(300, 180, 0, 5, 150) + 150 + 10
    assert doc["critical_path_seconds"] == 500
    assert doc["overhead_fraction"] == round(1 - 500 / 516, 4)
    assert doc["rpo_seconds"] == {"rds": 2.5, "efs": 41.0, "redis": None}
    assert doc["serving"] is True and doc["result"] == "succeeded"
    promote = next(s for s in doc["steps"] if s["step"] == "promote-db")
    assert promote["start_modelled"] == 42.0 and promote["end_modelled"] == 348.0 and promote["parallel"]


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
        "end": 0.7,
        "start_modelled": 0.0,
        "end_modelled": 42.0,
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
    assert any("RTO 516 s" in (t.text or "") for t in root.iter(f"{ns}text"))


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
    assert len(lines) == 2 and lines[0]["rto_modelled_seconds"] == 516.0
