"""Process-wide emulator state shared by the replication modules, dataplane and the engines.

Two things live here because several modules read them and none of them owns the other:

* the emulated clock (real time plus an offset that tests and drills can advance, so that
  replication lag and EFS sync intervals are deterministic without sleeping);
* the set of regions that are "down" (the region-outage switch of the data plane);
* hooks run after the clock moves (:func:`on_advance`): what AWS does on its own as time passes
  (Application Auto Scaling's scaling activities, CloudWatch alarm evaluation) happens then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)

# Reentrant: a data-plane request pumps replication, which calls back into the modules that
# also take this lock when their own APIs run.
LOCK = threading.RLock()

_offset_seconds = 0.0
_failed_regions: set[str] = set()
# Called (in registration order, under LOCK) after every advance() with the new emulated time.
_advance_hooks: dict[str, Callable[[float], None]] = {}

# Services AWS runs as global endpoints (signed for us-east-1): a regional outage does not take
# them down, and a drill still needs Route 53 / IAM / STS while the primary region is "failed".
GLOBAL_SERVICES = frozenset({"route53", "iam", "sts", "cloudfront", "organizations", "health"})


def now() -> float:
    """Emulated wall-clock time, epoch seconds."""
    return time.time() + _offset_seconds


def now_datetime() -> datetime:
    """Emulated wall-clock time as an aware UTC datetime."""
    return datetime.fromtimestamp(now(), UTC)


def advance(seconds: float) -> float:
    """Move the emulated clock forward by ``seconds`` (never backwards); return the new time."""
    global _offset_seconds  # noqa: PLW0603 - process-wide clock, like moto's backends
    if seconds < 0:
        raise ValueError(f"seconds={seconds!r}: the emulated clock only moves forward; pass a value >= 0")
    with LOCK:
        _offset_seconds += seconds
        current = now()
        for name, hook in list(_advance_hooks.items()):
            try:
                hook(current)
            except Exception:  # one broken hook must not stop the clock or the others
                log.exception("emulated clock hook %s failed", name)
        return now()


def on_advance(name: str, hook: Callable[[float], None]) -> None:
    """Run ``hook(now)`` after every :func:`advance`; a second registration under ``name`` replaces it."""
    with LOCK:
        _advance_hooks[name] = hook


def fail_region(region: str) -> None:
    """Mark ``region`` as unreachable (its APIs answer 503; engines.fail_region stops its engines)."""
    with LOCK:
        _failed_regions.add(region)
    log.warning("emulated outage: region %s is now unreachable", region)


def restore_region(region: str) -> None:
    """Bring ``region`` back."""
    with LOCK:
        _failed_regions.discard(region)
    log.warning("emulated outage: region %s restored", region)


def is_failed(region: str) -> bool:
    """True while ``region`` is in an emulated outage."""
    return region in _failed_regions


def failed_regions() -> list[str]:
    """Regions currently in an emulated outage, sorted."""
    with LOCK:
        return sorted(_failed_regions)


def reset() -> None:
    """Clear the clock offset and every outage (test isolation)."""
    global _offset_seconds  # noqa: PLW0603
    with LOCK:
        _offset_seconds = 0.0
        _failed_regions.clear()
