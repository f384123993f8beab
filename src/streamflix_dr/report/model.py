"""Turn a run's result into the report document (plain data: JSON-ready dicts).

Time figures:
  rto_seconds              wall-clock from the operation's start to the end of verify-serving
  rto_modelled_seconds     the run with the latency model's waits counted at their AWS durations and
                           everything else (API calls, journal, threads) as it ran (equal on real AWS)
  rto_scaled_back_seconds  the wall-clock simply divided by the scale (overstates our own work)
  rto_serial_seconds       the steps' modelled durations added up, as if nothing ran in parallel
  critical_path_seconds    the AWS time on the DAG's critical path (model waits; measured on AWS)
  rto_read_modelled_seconds   when DR answers reads: DR service scaled and DNS at DR (the replica is
                              readable throughout); reads before the promotion ends are read-only
  rto_write_modelled_seconds  when DR accepts writes: the read conditions plus promotion and EFS done
  rto_met                  DR verified serving and the write RTO within the target
  overhead_fraction        1 - critical_path / rto_modelled: what the orchestration itself costs
"""

from __future__ import annotations

from typing import Any

from streamflix_dr.constants import StepId
from streamflix_dr.runbook.journal import StepRecord
from streamflix_dr.runbook.runner import READ_STEPS, WRITE_STEPS, RunResult

SCHEMA_VERSION = 1
# Which step measures which data store's RPO.
RPO_SOURCES = {
    "rds": StepId.PROMOTE_DB.value,
    "efs": StepId.FAILOVER_EFS.value,
    "redis": StepId.FAILOVER_REDIS.value,
}


def _duration(rec: StepRecord) -> float:
    if rec.started_at is None or rec.ended_at is None:
        return 0.0
    return max(0.0, rec.ended_at - rec.started_at)


def _modelled_timeline(result: RunResult, scale: float) -> dict[str, tuple[float, float]]:
    """Step -> (start, end) on the modelled time axis.

    A step's time is the latency model's waits (slept scaled, counted at their AWS duration) plus
    everything else it did (API calls, journal writes, threads), counted as it ran: those take about
    as long on AWS as against the emulator, so scaling them up would invent overhead. Gaps between
    stages, and between a step and the steps it waits for (``after``), are the runner's own time and
    count as they ran.
    """
    t0 = result.started_at
    by_step = {r.step: r for r in result.steps}
    out: dict[str, tuple[float, float]] = {}
    real_end: dict[str, float] = {}
    cursor = 0.0
    prev_real_end = 0.0
    for _stage, _parallel, planned in result.plan.stages:
        recs = [
            (p, by_step[p.step])
            for p in planned
            if p.step in by_step and by_step[p.step].started_at is not None
        ]
        if not recs:
            continue
        stage_real_start = min(r.started_at for _, r in recs if r.started_at is not None) - t0
        stage_start = cursor + max(0.0, stage_real_start - prev_real_end)
        stage_end = stage_start
        stage_real_end = stage_real_start
        for p, r in recs:
            assert r.started_at is not None
            real_start = r.started_at - t0
            deps = [d for d in p.after if d in out]
            if deps:
                base = max(out[d][1] for d in deps)
                start = base + max(0.0, real_start - max(real_end[d] for d in deps))
            else:
                start = stage_start + max(0.0, real_start - stage_real_start)
            own = max(0.0, _duration(r) - r.modelled_seconds * scale)
            stop = start + own + r.modelled_seconds
            out[r.step] = (start, stop)
            real_end[r.step] = (r.ended_at - t0) if r.ended_at is not None else real_start
            stage_end = max(stage_end, stop)
            stage_real_end = max(stage_real_end, real_end[r.step])
        cursor = stage_end
        prev_real_end = stage_real_end
    return out


def _critical_path(result: RunResult, work: dict[str, float]) -> float:
    """The AWS work on the critical path: stages in sequence, ``after`` chains inside a stage."""
    total = 0.0
    for _stage, parallel, planned in result.plan.stages:
        finish: dict[str, float] = {}
        prev = 0.0
        for p in planned:
            if p.step not in work:
                continue
            deps = max((finish[d] for d in p.after if d in finish), default=0.0)
            start = deps if parallel else prev
            finish[p.step] = start + work[p.step]
            prev = finish[p.step]
        total += max(finish.values(), default=0.0)
    return total


def _ready(
    result: RunResult, timeline: dict[str, tuple[float, float]], steps: tuple[str, ...]
) -> float | None:
    """When every step of ``steps`` had finished (done or skipped) on ``timeline``; None if one did not."""
    ends = []
    for step in steps:
        rec = result.step(step)
        if rec is None or not rec.status.finished or step not in timeline:
            return None
        ends.append(timeline[step][1])
    return max(ends, default=None)


def build_report(
    result: RunResult,
    *,
    kind: str = "failover",
    environment: str = "",
    rto_target_seconds: float | None = None,
    readiness: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document for a run (failover or drill)."""
    scale = result.time_scale or 1.0
    modelled = scale != 1.0
    t0 = result.started_at
    verify = result.step(StepId.VERIFY_SERVING.value)
    serving = bool(verify and verify.status.finished and verify.ended_at)
    end = verify.ended_at if serving and verify and verify.ended_at else result.ended_at
    rto = max(0.0, end - t0)
    timeline = _modelled_timeline(result, scale)
    rto_modelled = max((e for _, e in timeline.values()), default=0.0) if modelled else rto
    if modelled and serving:
        rto_modelled = timeline[StepId.VERIFY_SERVING.value][1]
    serial = sum(e - s for s, e in timeline.values()) if modelled else sum(_duration(r) for r in result.steps)
    by_step = {r.step: r for r in result.steps}
    critical = _critical_path(
        result, {r.step: (r.modelled_seconds if modelled else _duration(r)) for r in result.steps}
    )
    axis = timeline if modelled else _real_timeline(result)
    rto_read = _ready(result, axis, READ_STEPS)
    rto_write = _ready(result, axis, WRITE_STEPS)
    # "Met" needs the DR region verified serving and the write RTO within the target: a run that does
    # not serve never meets its RTO, whatever the clock says.
    rto_met = bool(
        serving and rto_write is not None and (rto_target_seconds is None or rto_write <= rto_target_seconds)
    )
    overhead = max(0.0, 1.0 - critical / rto_modelled) if rto_modelled > 0 else 0.0
    steps = []
    planned_by_step = {p.step: p for p in result.plan.steps}
    for rec in result.steps:
        p = planned_by_step.get(rec.step)
        start = (rec.started_at - t0) if rec.started_at is not None else None
        stop = (rec.ended_at - t0) if rec.ended_at is not None else None
        m_start, m_end = timeline.get(rec.step, (start, stop)) if modelled else (start, stop)
        steps.append(
            {
                "step": rec.step,
                "stage": p.stage if p else "",
                "parallel": bool(p and p.parallel),
                "status": rec.status.value,
                "start": _r(start),
                "end": _r(stop),
                "start_modelled": _r(m_start),
                "end_modelled": _r(m_end),
                "duration_seconds": _r(_duration(rec)),
                "modelled_seconds": _r(rec.modelled_seconds),
                "expected_seconds": p.expected_seconds if p else None,
                "runs": rec.runs,
                "attempts": rec.attempts,
                "message": rec.message,
                "warnings": list(rec.warnings),
            }
        )
    rpo: dict[str, float | None] = {}
    for store, step in RPO_SOURCES.items():
        found = by_step.get(step)
        value = found.metrics.get("rpo_seconds") if found else None
        rpo[store] = _r(value) if value is not None else None
    doc: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "kind": kind,
        "environment": environment,
        "operation_id": result.operation_id,
        "direction": result.direction,
        "result": "succeeded" if result.succeeded else "failed",
        "error": result.error,
        "serving": serving,
        "resumed": result.resumed,
        "started_at": t0,
        "ended_at": result.ended_at,
        "time_scale": scale,
        "rto_seconds": _r(rto),
        "rto_modelled_seconds": _r(rto_modelled),
        "rto_scaled_back_seconds": _r(rto / scale),
        "rto_serial_seconds": _r(serial),
        "critical_path_seconds": _r(critical),
        "overhead_fraction": round(overhead, 4),
        "rto_read_modelled_seconds": _r(rto_read),
        "rto_write_modelled_seconds": _r(rto_write),
        "rto_met": rto_met,
        "plan_expected_seconds": result.plan.expected_seconds,
        "plan_expected_read_seconds": result.plan.expected_read_seconds,
        "plan_expected_write_seconds": result.plan.expected_write_seconds,
        "plan_serial_seconds": result.plan.serial_seconds,
        "rto_target_seconds": rto_target_seconds,
        "rpo_seconds": rpo,
        "steps": steps,
        "warnings": list(result.warnings),
    }
    if readiness is not None:
        doc["readiness"] = readiness
    if extra:
        doc.update(extra)
    return doc


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The one-object summary (``drill --json``, history lines)."""
    keys = (
        "kind",
        "operation_id",
        "result",
        "rto_seconds",
        "rto_modelled_seconds",
        "rto_read_modelled_seconds",
        "rto_write_modelled_seconds",
        "rto_met",
        "serving",
        "rto_serial_seconds",
        "overhead_fraction",
        "rpo_seconds",
        "time_scale",
        "started_at",
        "error",
    )
    out = {k: doc.get(k) for k in keys}
    out["steps"] = [
        {k: s[k] for k in ("step", "status", "start", "end", "start_modelled", "end_modelled")}
        for s in doc.get("steps", [])
    ]
    for extra in (
        "data",
        "report_path",
        "not_serving",
        "load",
        "unavailable_seconds",
        "unavailable_seconds_by_store",
        "fence",
        "engines",
        "failback",
        "second_failover",
    ):
        if extra in doc:
            out[extra] = doc[extra]
    return out


def _real_timeline(result: RunResult) -> dict[str, tuple[float, float]]:
    t0 = result.started_at
    return {
        r.step: (r.started_at - t0, r.ended_at - t0)
        for r in result.steps
        if r.started_at is not None and r.ended_at is not None
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)
