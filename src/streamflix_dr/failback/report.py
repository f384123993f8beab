"""The failback report: each phase's duration, the write-unavailability window, what each store lost.

Times come in two kinds, as in the failover report: ``wall`` (as it ran) and ``modelled`` (each stage
counts its longest step's latency-model waits, i.e. the AWS durations; equal to nothing on real AWS where
the model is off, so ``wall`` is then the figure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamflix_dr.failback.base import FailbackStepId, Phase
from streamflix_dr.failback.phases import phase_of_stage
from streamflix_dr.runbook.journal import StepRecord
from streamflix_dr.runbook.runner import RunResult

DRAIN_STEPS = {
    "rds": FailbackStepId.DRAIN_RDS.value,
    "efs": FailbackStepId.DRAIN_EFS.value,
    "redis": FailbackStepId.DRAIN_REDIS.value,
    "secrets": FailbackStepId.DRAIN_SECRETS.value,
}
# From the fence (writes stop) to the primary verified serving (writes accepted again).
WINDOW_FIRST_STAGE = "cutback:fence"
WINDOW_LAST_STAGE = "cutback:verify"


def _span(recs: list[StepRecord]) -> float:
    starts = [r.started_at for r in recs if r.started_at is not None]
    ends = [r.ended_at for r in recs if r.ended_at is not None]
    return max(0.0, max(ends) - min(starts)) if starts and ends else 0.0


def build_failback_report(result: RunResult, *, environment: str) -> dict[str, Any]:
    """Plain data, JSON-ready."""
    by_step = {r.step: r for r in result.steps}
    stages = result.plan.stages
    phases: dict[str, dict[str, float]] = {}
    window_wall: list[StepRecord] = []
    window_modelled = 0.0
    in_window = False
    for stage, _parallel, planned in stages:
        recs = [by_step[p.step] for p in planned if p.step in by_step]
        phase = phases.setdefault(phase_of_stage(stage), {"wall_seconds": 0.0, "modelled_seconds": 0.0})
        modelled = max((r.modelled_seconds for r in recs), default=0.0)
        phase["modelled_seconds"] += modelled
        if stage == WINDOW_FIRST_STAGE:
            in_window = True
        if in_window:
            window_wall.extend(recs)
            window_modelled += modelled
        if stage == WINDOW_LAST_STAGE:
            in_window = False
    for name, figures in phases.items():
        recs = [
            by_step[p.step]
            for st, _, planned in stages
            if phase_of_stage(st) == name
            for p in planned
            if p.step in by_step
        ]
        figures["wall_seconds"] = _span(recs)
    lost: dict[str, float | None] = {}
    for store, sid in DRAIN_STEPS.items():
        rec = by_step.get(sid)
        if rec is not None and rec.status.finished:
            lost[store] = rec.metrics.get("lost_seconds")
    cut = phases.get(Phase.CUTBACK.value, {})
    reprotect = phases.get(Phase.REPROTECT.value, {})
    # The failover report's step timeline (modelled start and end of each step), for the same Gantt chart.
    from streamflix_dr.report.model import build_report  # noqa: PLC0415 - shared with the failover report

    timeline = [
        {k: s.get(k) for k in ("step", "status", "start", "end", "start_modelled", "end_modelled")}
        for s in build_report(result, kind="failback", environment=environment)["steps"]
    ]
    return {
        "kind": "failback",
        "environment": environment,
        "time_scale": result.time_scale,
        "timeline": timeline,
        "operation_id": result.operation_id,
        "result": "succeeded" if result.succeeded else "failed",
        "error": result.error,
        "resumed": result.resumed,
        "phases": phases,
        "rto_modelled_seconds": cut.get("modelled_seconds"),
        "write_unavailable_seconds": round(window_modelled, 3) if window_wall else None,
        "write_unavailable_wall_seconds": round(_span(window_wall), 3) if window_wall else None,
        # Seconds of writes each store had not passed on when it was promoted: 0 = nothing lost,
        # None = not measured (store absent, or a lag nobody publishes).
        "lost": lost,
        "reprotect_seconds": reprotect.get("modelled_seconds"),
        "warnings": list(result.warnings),
        "steps": [
            {
                "step": r.step,
                "status": str(r.status),
                "message": r.message,
                "wall_seconds": (r.ended_at - r.started_at) if r.started_at and r.ended_at else None,
                "modelled_seconds": r.modelled_seconds,
                "runs": r.runs,
                "metrics": dict(r.metrics),
            }
            for r in result.steps
        ],
    }


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"# Failback {doc['operation_id']} ({doc['environment']}): {doc['result']}",
        "",
        "![timeline](timeline.svg)",
        "",
        "| phase | modelled s | wall s |",
        "|---|---|---|",
    ]
    for name, p in doc["phases"].items():
        lines.append(f"| {name} | {p['modelled_seconds']:.0f} | {p['wall_seconds']:.1f} |")
    lines += [
        "",
        f"Write-unavailability window: {doc['write_unavailable_seconds']} s modelled "
        f"({doc['write_unavailable_wall_seconds']} s as run)",
        "",
        "Lost per store (seconds of writes not passed on; 0 = none): "
        + ", ".join(f"{k} {v}" for k, v in doc["lost"].items()),
        "",
        "| step | status | message |",
        "|---|---|---|",
    ]
    lines += [f"| {s['step']} | {s['status']} | {s['message']} |" for s in doc["steps"]]
    if doc["warnings"]:
        lines += ["", "Warnings:", *[f"- {w}" for w in doc["warnings"]]]
    return "\n".join(lines) + "\n"


def write_failback_report(doc: dict[str, Any], directory: Path) -> dict[str, Path]:
    """report.json, report.md and timeline.svg (the failover report's Gantt chart of the steps)."""
    from streamflix_dr.report.svg import timeline_svg  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "report.json",
        "markdown": directory / "report.md",
        "svg": directory / "timeline.svg",
    }
    paths["json"].write_text(json.dumps(doc, indent=2, default=str) + "\n")
    paths["markdown"].write_text(render_markdown(doc))
    paths["svg"].write_text(
        timeline_svg(
            {
                "kind": "failback",
                "operation_id": doc.get("operation_id"),
                "result": doc.get("result"),
                "rto_modelled_seconds": doc.get("rto_modelled_seconds") or 0.0,
                "time_scale": doc.get("time_scale") or 1.0,
                "steps": doc.get("timeline") or [],
            }
        )
    )
    return paths
