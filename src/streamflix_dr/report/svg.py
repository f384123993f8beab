"""A Gantt chart of the steps as SVG, written by hand (no plotting dependency)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

COLOURS = {
    "done": "#2e7d32",
    "skipped": "#9e9e9e",
    "failed": "#c62828",
    "running": "#f9a825",
    "pending": "#bdbdbd",
}
ROW, LEFT, RIGHT, TOP, WIDTH = 26, 190, 90, 46, 900


def timeline_svg(doc: dict[str, Any]) -> str:
    """One bar per step on the modelled time axis (real AWS: the real one), with the RTO marked."""
    steps = [s for s in doc.get("steps", []) if s.get("start_modelled") is not None]
    horizon = max(
        [s.get("end_modelled") or s["start_modelled"] for s in steps]
        + [doc.get("rto_modelled_seconds") or 0.0, 1.0]
    )
    plot = WIDTH - LEFT - RIGHT
    height = TOP + ROW * len(steps) + 50

    def x(t: float) -> float:
        return LEFT + plot * t / horizon

    title = (
        f"{escape(str(doc.get('kind', 'failover')))} {escape(str(doc.get('operation_id', '')))}: "
        f"{escape(str(doc.get('result', '')))}, RTO {doc.get('rto_modelled_seconds', 0):.0f} s"
        + (" (modelled)" if doc.get("time_scale", 1) != 1 else "")
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>',
    ]
    # grid every minute (or every tenth of the horizon when short)
    tick = 60.0 if horizon >= 180 else max(1.0, round(horizon / 10))
    t = 0.0
    while t <= horizon + 1e-9:
        parts.append(
            f'<line x1="{x(t):.1f}" y1="{TOP - 8}" x2="{x(t):.1f}" y2="{TOP + ROW * len(steps)}" '
            'stroke="#e0e0e0"/>'
        )
        label = f"{t / 60:.0f} min" if tick >= 60 else f"{t:.0f} s"
        parts.append(
            f'<text x="{x(t):.1f}" y="{TOP + ROW * len(steps) + 16}" text-anchor="middle" '
            f'fill="#616161">{label}</text>'
        )
        t += tick
    for i, s in enumerate(steps):
        y = TOP + i * ROW
        start, end = s["start_modelled"], s.get("end_modelled") or s["start_modelled"]
        colour = COLOURS.get(s.get("status", ""), "#bdbdbd")
        w = max(2.0, x(end) - x(start))
        parts.append(f'<text x="{LEFT - 8}" y="{y + 16}" text-anchor="end">{escape(s["step"])}</text>')
        parts.append(
            f'<rect x="{x(start):.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" rx="3" '
            f'fill="{colour}"><title>{escape(s["step"])}: {escape(s.get("status", ""))}, '
            f"{start:.0f}-{end:.0f} s</title></rect>"
        )
        parts.append(
            f'<text x="{x(start) + w + 4:.1f}" y="{y + 16}" fill="#424242">{end - start:.0f} s</text>'
        )
    rto = doc.get("rto_modelled_seconds")
    if rto:
        parts.append(
            f'<line x1="{x(rto):.1f}" y1="{TOP - 12}" x2="{x(rto):.1f}" y2="{TOP + ROW * len(steps)}" '
            'stroke="#1565c0" stroke-width="2" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x(rto):.1f}" y="{TOP - 14}" text-anchor="middle" fill="#1565c0">'
            f"RTO {rto:.0f} s</text>"
        )
    target = doc.get("rto_target_seconds")
    if target and target <= horizon:
        parts.append(
            f'<line x1="{x(target):.1f}" y1="{TOP - 12}" x2="{x(target):.1f}" '
            f'y2="{TOP + ROW * len(steps)}" stroke="#c62828" stroke-dasharray="2 2"/>'
        )
    legend_y = height - 12
    for j, (status, colour) in enumerate(c for c in COLOURS.items() if c[0] != "pending"):
        parts.append(f'<rect x="{10 + j * 100}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{26 + j * 100}" y="{legend_y}">{status}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
