"""The unit suite's process: the test speed-ups of tests/speedups.py (no behaviour under test changes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _install_speedups() -> None:
    path = Path(__file__).resolve().parents[1] / "speedups.py"
    spec = importlib.util.spec_from_file_location("streamflix_dr_test_speedups", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


_install_speedups()
