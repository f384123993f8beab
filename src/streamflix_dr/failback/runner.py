"""The failover runner, run in the ``failback`` direction.

The runner (runbook/runner.py) already takes any stage list and reads the direction from the topology
(``FailbackTopology.direction == "failback"``). Two things differ, handled here without touching it:
operation ids read ``failback-<stamp>-<hex>`` (the runner names every operation ``failover-...``), and the
latency model adds the failback's own actions (failback/latency_model.yaml).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from streamflix_dr.failback.base import DIRECTION
from streamflix_dr.runbook.latency import Latency, load_model
from streamflix_dr.runbook.runner import Runner

MODEL_FILE = Path(__file__).with_name("latency_model.yaml")


def new_failback_id(now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{DIRECTION}-{stamp}-{uuid.uuid4().hex[:6]}"


class FailbackRunner(Runner):
    """``Runner`` whose new operations are named ``failback-...``; everything else is the runner's."""

    def resolve_operation(self, operation_id: str | None) -> tuple[str, bool]:
        op_id, resuming = super().resolve_operation(operation_id)
        if not resuming and operation_id is None:
            op_id = new_failback_id(self.clock.now())
        return op_id, resuming


def failback_latency(latency: Latency | None) -> Latency:
    """The given model plus the failback's actions (the given model's figures win where both have one)."""
    mine = load_model(MODEL_FILE)
    if latency is None:
        return Latency.off(mine)
    merged = {**mine, **dict(latency.actions)}
    return Latency(actions=merged, scale=latency.scale, enabled=latency.enabled, sleep=latency.sleep)
