"""Render and write a report: report.json, report.md (with timeline.svg), and the drill history."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from streamflix_dr.report.model import summary
from streamflix_dr.report.svg import timeline_svg

log = logging.getLogger(__name__)


def _s(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def to_markdown(doc: dict[str, Any], svg_name: str = "timeline.svg") -> str:
    """A page a person reads: outcome, RTO/RPO against the targets, the timeline, each step."""
    scale = doc.get("time_scale", 1.0)
    lines = [
        f"# {doc.get('kind', 'failover').capitalize()} {doc.get('operation_id', '')}",
        "",
        f"- Result: **{doc.get('result')}**" + (f" ({doc['error']})" if doc.get("error") else ""),
        f"- Direction: {doc.get('direction')}" + (" (resumed run)" if doc.get("resumed") else ""),
        f"- Environment: {doc.get('environment') or '-'}",
    ]
    if scale != 1.0:
        lines.append(
            f"- Latency model on: AWS durations scaled by {scale:.4g} (figures below are scaled back)"
        )
    target = doc.get("rto_target_seconds")
    rto = doc.get("rto_modelled_seconds")
    verdict = ""
    if target and rto is not None:
        verdict = " - within target" if rto <= target else " - **over target**"
    if not doc.get("serving"):
        verdict = " - **DR not serving: RTO not met**"
    lines += [
        "",
        "## Recovery time",
        "",
        "| Figure | Seconds |",
        "|---|---|",
        f"| RTO (start to DR serving){' - modelled' if scale != 1.0 else ''} | {_s(rto)}{verdict} |",
        f"| Read RTO (DR answers reads: scaled, DNS at DR; read-only until promoted) | "
        f"{_s(doc.get('rto_read_modelled_seconds'))} |",
        f"| Write RTO (DR accepts writes: promotion and EFS done, plus the read conditions) | "
        f"{_s(doc.get('rto_write_modelled_seconds'))} |",
        f"| RTO met (serving verified, write RTO within target) | "
        f"{'yes' if doc.get('rto_met') else '**no**'} |",
        f"| Wall-clock of this run | {_s(doc.get('rto_seconds'))} |",
        *(
            [
                f"| Wall-clock scaled back whole (counts our own work x{1 / scale:.0f}) | "
                f"{_s(doc.get('rto_scaled_back_seconds'))} |"
            ]
            if scale != 1.0
            else []
        ),
        f"| Serial sum of the steps | {_s(doc.get('rto_serial_seconds'))} |",
        f"| Critical path of AWS work | {_s(doc.get('critical_path_seconds'))} |",
        f"| Orchestration overhead | {doc.get('overhead_fraction', 0) * 100:.1f} % |",
        f"| Plan's expectation (latency model) | {_s(doc.get('plan_expected_seconds'))} |",
        f"| Plan's read / write RTO (latency model) | {_s(doc.get('plan_expected_read_seconds'))} / "
        f"{_s(doc.get('plan_expected_write_seconds'))} |",
        f"| RTO target | {_s(target)} |",
        "",
        "## Data loss (RPO) per store",
        "",
        "| Store | RPO seconds | Measured from |",
        "|---|---|---|",
    ]
    sources = {
        "rds": "ReplicaLag at promotion",
        "efs": "LastReplicatedTimestamp (or TimeSinceLastSync)",
        "redis": "GlobalDatastoreReplicationLag (none: cache starts empty)",
    }
    for store, value in (doc.get("rpo_seconds") or {}).items():
        lines.append(f"| {store} | {_s(value)} | {sources.get(store, '')} |")
    data = doc.get("data")
    if data:
        lines += [
            "",
            "## Data written before the failure and read after it",
            "",
            "| Store | Written | Survived |",
            "|---|---|---|",
        ]
        for store, d in data.items():
            lines.append(f"| {store} | {d.get('written')} | {d.get('survived')} |")
    load = doc.get("load")
    if load:
        lines += [
            "",
            "## Measured under load (real engines), beside the modelled RTO",
            "",
            "Writes through the primary's load balancer from before the failure until after the failover "
            "(then through the DR load balancer), read back through the DR load balancer.",
            "",
            "| Store | Acknowledged | Found | Lost | RPO measured (s) | RPO modelled (s) |",
            "|---|---|---|---|---|---|",
        ]
        modelled = doc.get("rpo_seconds") or {}
        for store, d in load.items():
            lines.append(
                f"| {store} | {d.get('acknowledged')} | {d.get('found')} | {d.get('lost')} "
                f"| {_s(d.get('rpo_seconds'))} | {_s(modelled.get(store))} |"
            )
        unavailable = doc.get("unavailable_seconds") or {}
        lines += [
            "",
            "| Unavailable, as the client saw it | Measured (s, real) | Modelled RTO (s, AWS) |",
            "|---|---|---|",
            f"| read | {_s(unavailable.get('read'))} | {_s(doc.get('rto_read_modelled_seconds'))} |",
            f"| write | {_s(unavailable.get('write'))} | {_s(doc.get('rto_write_modelled_seconds'))} |",
            "",
            f"Measured times are this machine's seconds at time scale {_s(doc.get('time_scale'))}; the "
            "modelled RTO is in AWS seconds.",
        ]
        fence = doc.get("fence") or {}
        if fence:
            lines += ["", f"Fence: {fence.get('note')}."]
    lines += _cycle_lines(doc)
    engines = doc.get("engines") or {}
    if engines:
        lines += ["", "## Engines", "", "| Store | Engine | Version |", "|---|---|---|"]
        for store in ("rds", "redis", "efs"):
            e = engines.get(store) or {}
            lines.append(f"| {store} | {e.get('engine')} | {e.get('version') or '-'} |")
        for svc in (engines.get("ecs") or {}).get("services") or []:
            lines.append(
                f"| ecs {svc.get('region')} {svc.get('service')} | app processes: {svc.get('real')} real of "
                f"{svc.get('desired')} desired (bound {svc.get('max_real')}) | - |"
            )
    lines += [
        "",
        "## Timeline",
        "",
        f"![timeline]({svg_name})",
        "",
        "## Steps",
        "",
        "| Step | Status | Start (s) | End (s) | Runs | Message |",
        "|---|---|---|---|---|---|",
    ]
    for s in doc.get("steps", []):
        lines.append(
            f"| {s['step']} | {s['status']} | {_s(s.get('start_modelled'))} | {_s(s.get('end_modelled'))} "
            f"| {s.get('runs')} | {s.get('message', '').replace('|', '/')} |"
        )
    if doc.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in doc["warnings"]]
    readiness = doc.get("readiness")
    if readiness:
        lines += [
            "",
            "## Readiness before the run",
            "",
            f"Ready: {readiness.get('ready')} ({readiness.get('counts')})",
        ]
    return "\n".join(lines) + "\n"


def _cycle_lines(doc: dict[str, Any]) -> list[str]:
    """The rest of a drill's cycle: the failback (its phases, window, losses) and the second failover."""
    fb = doc.get("failback")
    if not fb:
        return []
    lines = ["", "## Failback (re-protect, cut back under load, re-protect the original direction)", ""]
    if fb.get("result") == "not run":
        return [*lines, f"Not run: {fb.get('why')}."]
    lines += [
        f"Result: **{fb.get('result')}**" + (f" ({fb.get('error')})" if fb.get("error") else ""),
        "",
        "| Phase | Modelled (s, AWS) | As run (s) |",
        "|---|---|---|",
    ]
    for name, p in (fb.get("phases") or {}).items():
        lines.append(f"| {name} | {_s(p.get('modelled_seconds'))} | {_s(p.get('wall_seconds'))} |")
    lines += [
        "",
        f"Write-unavailability window (fence to verified): {_s(fb.get('write_unavailable_seconds'))} s "
        f"modelled; the client saw {_s(fb.get('write_unavailable_client_seconds'))} s of failed writes.",
        "",
        "| Store | Acknowledged | Found after the cut-back | Lost |",
        "|---|---|---|---|",
    ]
    for store, d in (fb.get("load") or {}).items():
        lines.append(f"| {store} | {d.get('acknowledged')} | {d.get('found')} | {d.get('lost')} |")
    second = doc.get("second_failover") or {}
    if second:
        lines += [
            "",
            "## Second failover (proves the re-protection)",
            "",
            f"Result: **{second.get('result')}**",
        ]
        if second.get("rto_modelled_seconds") is not None:
            lines[-1] += f", RTO {_s(second.get('rto_modelled_seconds'))} s modelled"
        for store, d in (second.get("load") or {}).items():
            lines.append(f"- {store}: {d.get('found')}/{d.get('acknowledged')} found, {d.get('lost')} lost")
    return lines


def write_report(doc: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write report.json, report.md and timeline.svg into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "markdown": folder / "report.md", "svg": folder / "timeline.svg"}
    paths["json"].write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    paths["svg"].write_text(timeline_svg(doc), encoding="utf-8")
    paths["markdown"].write_text(to_markdown(doc, paths["svg"].name), encoding="utf-8")
    log.info("report written to %s", folder)
    return paths


def append_history(doc: dict[str, Any], path: Path) -> None:
    """Append the run's summary as one JSON line (drills: reports/history.jsonl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(summary(doc), sort_keys=True, default=str) + "\n")


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
