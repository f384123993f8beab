"""Engines on for a test module: the moto hooks installed, every engine stopped when the module ends.

Engines start once per module (a module-scoped fixture creates the servers its tests share), never
per test, so the suite's time stays within the issue's budget.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamflix_dr_emulator import engines

# api_support lives one folder up (--import-mode=importlib puts no test folder on sys.path).
sys.path.insert(0, str(Path(__file__).parent.parent))


@pytest.fixture(scope="module")
def engines_on(emulator_endpoint: str) -> Iterator[str]:
    """Engines enabled (hooks installed into the session emulator); yields the emulator endpoint."""
    engines.install()
    engines.enable(True)
    try:
        yield emulator_endpoint
    finally:
        engines.enable(False)
        engines.shutdown_all()
