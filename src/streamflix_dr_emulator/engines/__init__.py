"""Real data engines behind the emulated control plane (issue 10): switch, registry, region outage.

The engines (a PostgreSQL server per RDS DB instance, Valkey per ElastiCache node group, a
directory per EFS file system) are OFF by default this session, so the control-plane suite stays
fast. ``enable(True)`` or the environment variable ``STREAMFLIX_EMULATOR_ENGINES=1`` switches them
on; the hooks installed by :func:`install` check :func:`enabled` on every call, so the switch can
be flipped before or after the emulator starts (an instance created while it was off has no
engine).

Every running engine registers itself with :func:`register` under the region it lives in, so
that :func:`fail_region` can stop a whole region answering at one instant: every TLS front of the
region refuses and drops its connections, every link that touches the region is cut, and what had
not crossed a link by then is lost, as in a real regional outage.

An engine is any object with ``fail()``, ``restore()`` and ``stop()``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

ENV_VAR = "STREAMFLIX_EMULATOR_ENGINES"

_lock = threading.RLock()
_enabled: bool | None = None  # None: follow the environment variable
_registry: dict[str, list[Engine]] = {}
_failed: set[str] = set()
_run_dir: Path | None = None


class Engine(Protocol):
    """What the registry needs from an engine (a server, a TLS front, a link)."""

    def fail(self) -> None:
        """Stop answering at once: refuse new connections and drop the open ones."""

    def restore(self) -> None:
        """Answer again after :meth:`fail`."""

    def stop(self) -> None:
        """Stop for good and release every resource (process, port, thread)."""


def enable(on: bool) -> None:
    """Switch the engines on or off for this process (overrides ``STREAMFLIX_EMULATOR_ENGINES``)."""
    global _enabled  # noqa: PLW0603 - process-wide switch, like moto's backends
    with _lock:
        _enabled = bool(on)
    log.info("emulator engines %s", "enabled" if on else "disabled")


def enabled() -> bool:
    """True when real engines back the emulated data stores."""
    with _lock:
        if _enabled is not None:
            return _enabled
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def run_dir() -> Path:
    """The directory of this emulator run (CA, certificates, data directories); created once."""
    global _run_dir  # noqa: PLW0603
    with _lock:
        if _run_dir is None or not _run_dir.exists():
            _run_dir = Path(tempfile.mkdtemp(prefix="streamflix-engines-"))
            # The PostgreSQL server runs as an unprivileged user when we are root: it must reach
            # its data directory under here. Nothing secret is kept at this level.
            _run_dir.chmod(0o755)
        return _run_dir


def register(region: str, engine: Engine) -> None:
    """Record ``engine`` as living in ``region`` (one engine may be registered in two regions)."""
    with _lock:
        _registry.setdefault(region, []).append(engine)
        down = region in _failed
    if down:
        engine.fail()


def unregister(engine: Engine) -> None:
    """Forget ``engine`` in every region (after it stopped)."""
    with _lock:
        for engines in _registry.values():
            while engine in engines:
                engines.remove(engine)


def registered(region: str) -> list[Engine]:
    """The engines of ``region``, in registration order."""
    with _lock:
        return list(_registry.get(region, []))


def locked() -> threading.RLock:
    """The registry's lock (reentrant): hold it to make a wider switch (``outage``) one instant."""
    return _lock


def fail_region(region: str) -> None:
    """Stop every engine of ``region`` answering, at one instant (under one lock)."""
    with _lock:
        _failed.add(region)
        engines = list(_registry.get(region, []))
        for engine in engines:
            engine.fail()
    log.warning("engines: region %s failed (%d engines stopped answering)", region, len(engines))


def restore_region(region: str) -> None:
    """Let the engines of ``region`` answer again (links that touch a still-failed region stay cut)."""
    with _lock:
        _failed.discard(region)
        for engine in list(_registry.get(region, [])):
            other = getattr(engine, "regions", (region,))
            if any(r in _failed for r in other if r != region):
                continue
            engine.restore()
    log.warning("engines: region %s restored", region)


def is_failed(region: str) -> bool:
    """True while ``region``'s engines are failed by :func:`fail_region`."""
    with _lock:
        return region in _failed


def shutdown_all() -> None:
    """Stop every registered engine, forget them, and remove the run directory."""
    global _run_dir  # noqa: PLW0603
    with _lock:
        engines: list[Engine] = []
        for region_engines in _registry.values():
            for engine in region_engines:
                if engine not in engines:
                    engines.append(engine)
        _registry.clear()
        _failed.clear()
        run = _run_dir
        _run_dir = None
    for engine in reversed(engines):
        try:
            engine.stop()
        except Exception:
            log.exception("engines: stopping %r failed", engine)
    # Each hook module may keep references to the engines it started: let it drop them.
    for name in HOOK_MODULES:
        module = sys.modules.get(f"{__name__}.{name}")
        forget = getattr(module, "forget_all", None)
        if callable(forget):
            forget()
    if run is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(run)


# The moto hook modules of the engines, in install order. Each defines ``install() -> None`` and
# does nothing while the engines are off. The pg and valkey helpers write them in parallel, so a
# module that is not in this tree yet is skipped (after the merge all are present).
HOOK_MODULES: tuple[str, ...] = ("rds_hooks", "elasticache_hooks", "efs_hooks", "ecs_tasks", "alb")


_versions: dict[str, dict[str, str | None]] = {}


def versions() -> dict[str, dict[str, str | None]]:
    """Per store (``rds``, ``redis``, ``efs``): the engine behind it and its version (asked once)."""
    with _lock:
        if _versions:
            return {k: dict(v) for k, v in _versions.items()}
    found: dict[str, dict[str, str | None]] = {"efs": {"engine": "directories", "version": None}}
    for store, engine, module in (("rds", "PostgreSQL", "postgres"), ("redis", "Valkey", "valkey")):
        try:
            version: str | None = str(importlib.import_module(f"{__name__}.{module}").server_version())
        except Exception as exc:  # the wheel missing or broken: say so, do not guess a version
            log.warning("engines: %s version unknown: %s", engine, exc)
            version = None
        found[store] = {"engine": engine, "version": version}
    with _lock:
        _versions.update(found)
    return {k: dict(v) for k, v in found.items()}


def http_handler(
    method: str, path: str, body: dict[str, object], account_id: str
) -> tuple[int, dict[str, object]]:
    """``GET /_streamflix/engines``: whether engines are on, and per store the engine and its version."""
    del path, body, account_id
    if method != "GET":
        return 405, {"error": "MethodNotAllowed", "message": f"{method}: only GET"}
    on = enabled()
    return 200, {"enabled": on, "stores": versions() if on else {}}


def install() -> None:
    """Install the moto hooks of every engine (each hook does nothing while engines are off), and serve
    ``/_streamflix/engines``."""
    if importlib.util.find_spec("streamflix_dr_emulator.extension_http") is not None:
        importlib.import_module("streamflix_dr_emulator.extension_http").register(
            "/_streamflix/engines", http_handler
        )
    for name in HOOK_MODULES:
        module = f"{__name__}.{name}"
        if importlib.util.find_spec(module) is None:
            log.debug("engines: %s is not in this tree; skipped", module)
            continue
        importlib.import_module(module).install()
