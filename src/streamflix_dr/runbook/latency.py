"""Time, and how long AWS actions take: the clock, the sleep and the latency model injected into steps.

On real AWS the model is off (``Latency.off()``): steps wait on real waiters and ``wait`` returns at
once. In a drill against the emulator, which answers at once, ``Latency`` makes every AWS action take
its documented duration scaled down (``scale=1/60``: one minute becomes one second). Figures and their
sources live in ``latency_model.yaml`` next to this module.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamflix_dr.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("latency_model.yaml")


class Clock:
    """Wall clock (epoch seconds) and a monotonic timer; tests pass a fake."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class ActionLatency:
    """One AWS action's documented duration and where the figure comes from."""

    action: str
    seconds: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Timeouts:
    """Upper bounds (real seconds) for waits; also the boto3 waiter configuration."""

    fence_seconds: float = 60.0
    waiter_delay: float = 15.0
    waiter_max_attempts: int = 60
    # How long PromoteDb polls for the standalone instance after PromoteReadReplica; within the
    # Lambda's 900 s with room for the calls before it (the handler passes its own).
    promote_poll_seconds: float = 600.0

    def waiter_config(self) -> dict[str, int]:
        return {"Delay": max(1, int(self.waiter_delay)), "MaxAttempts": self.waiter_max_attempts}


@dataclass
class Latency:
    """The latency model: ``expected(action)`` in real seconds, ``wait(action)`` sleeps it, scaled.

    ``enabled=False`` keeps the figures for plan estimates but never sleeps (real AWS).
    """

    actions: Mapping[str, ActionLatency] = field(default_factory=dict)
    scale: float = 1.0
    enabled: bool = False
    sleep: Callable[[float], None] = time.sleep
    _waited: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def off(cls, actions: Mapping[str, ActionLatency] | None = None) -> Latency:
        return cls(actions=dict(actions or {}), enabled=False)

    def expected(self, *actions: str) -> float:
        """Documented seconds for these actions in sequence (unknown actions count 0)."""
        return sum(self.actions[a].seconds for a in actions if a in self.actions)

    def wait(self, action: str) -> float:
        """Sleep the scaled duration of ``action`` when the model is on; return the modelled seconds."""
        if not self.enabled:
            return 0.0
        if action not in self.actions:
            raise ConfigError(
                "latency action",
                action,
                "is not in the latency model",
                f"add {action} to {MODEL_FILE.name} with its duration and source",
            )
        modelled = self.actions[action].seconds
        self.sleep(modelled * self.scale)
        with self._lock:
            key = threading.get_ident()
            self._waited[key] = self._waited.get(key, 0.0) + modelled
        return modelled

    def take_waited(self, thread_id: int | None = None) -> float:
        """Modelled seconds this thread (or ``thread_id``) has waited since the last call (the runner
        books it per step)."""
        with self._lock:
            return self._waited.pop(threading.get_ident() if thread_id is None else thread_id, 0.0)

    def book(self, seconds: float) -> None:
        """Count ``seconds`` as waited by this thread: a step that waits in worker threads books the
        modelled time of its critical path on the thread the runner reads."""
        if seconds <= 0:
            return
        with self._lock:
            key = threading.get_ident()
            self._waited[key] = self._waited.get(key, 0.0) + seconds


def parse_model(doc: Any, source: str) -> dict[str, ActionLatency]:
    """Validate a parsed latency model document ``{actions: {name: {seconds, source, note}}}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("actions"), dict):
        raise ConfigError(
            "actions",
            doc if not isinstance(doc, dict) else doc.get("actions"),
            "must be a mapping of action name to {seconds, source}",
            "see the shipped latency_model.yaml",
            source=source,
        )
    out: dict[str, ActionLatency] = {}
    for name, item in doc["actions"].items():
        if not isinstance(item, dict):
            raise ConfigError(
                f"actions.{name}", item, "must be a mapping", "give seconds: and source:", source=source
            )
        seconds = item.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ConfigError(
                f"actions.{name}.seconds",
                seconds,
                "must be a number >= 0",
                "write the documented duration in seconds",
                source=source,
            )
        src = item.get("source")
        if not isinstance(src, str) or not src.strip():
            raise ConfigError(
                f"actions.{name}.source",
                src,
                "is required",
                "cite the AWS page, or write 'estimate: <why>'",
                source=source,
            )
        out[str(name)] = ActionLatency(str(name), float(seconds), src.strip(), str(item.get("note") or ""))
    return out


def load_model(path: Path | None = None) -> dict[str, ActionLatency]:
    """Load ``latency_model.yaml`` (YAML, or JSON). PyYAML is imported here, not at module level,
    because this package also ships in the Lambda zip where only boto3 is present."""
    path = path or MODEL_FILE
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        doc = json.loads(text)
    else:
        import yaml  # noqa: PLC0415 - CLI-only dependency

        doc = yaml.safe_load(text)
    return parse_model(doc, str(path))
