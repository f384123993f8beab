from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the fakes are shared by these tests.
sys.path.insert(0, str(Path(__file__).parent))

from deploy_fakes import FakeClock, FakeFactory

from streamflix_dr.config import Environment, load_environment
from streamflix_dr.deploy.orchestrator import Timeouts
from streamflix_dr.deploy.stacks import Timing


@pytest.fixture
def env() -> Environment:
    return load_environment("dev")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timeouts(clock: FakeClock) -> Timeouts:
    return Timeouts(timing=Timing(poll_interval=5.0, clock=clock, sleep=clock.sleep))


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "cfn-outputs"
