"""Shared by the integration tests: target selection, the deployment record, emulator timeouts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.config import Environment
from streamflix_dr.deploy.orchestrator import Timeouts
from streamflix_dr.deploy.plan import DeployResult
from streamflix_dr.deploy.stacks import StackEvent, Timing

LIVE = os.environ.get("STREAMFLIX_DR_LIVE") == "1"
ENV_NAME = os.environ.get("STREAMFLIX_DR_ENV", "dev")
EMULATOR_ONLY = pytest.mark.skipif(
    LIVE,
    reason="emulator only: it deploys, injects faults or tears down; against real AWS the suite only reads",
)


@dataclass
class Deployment:
    """What the suite checks: where, which environment, and the deploy's own record."""

    env: Environment
    factory: ClientFactory
    template: dict[str, Any]
    outputs_dir: Path
    endpoint: str | None
    result: DeployResult | None = None
    # The first deploy's record (services at 0 tasks until the image is pushed); ``result`` is the last.
    first_result: DeployResult | None = None
    seconds: float = 0.0
    events: list[StackEvent] = field(default_factory=list)


def emulator_timeouts() -> Timeouts:
    # The emulator finishes operations synchronously; a short poll keeps the suite fast.
    return Timeouts(stack_minutes=5, dr_full_minutes=5, delete_minutes=5, timing=Timing(poll_interval=0.2))


def factory_for(endpoint: str | None) -> ClientFactory:
    if endpoint is None:
        return ClientFactory(Target(profile=os.environ.get("AWS_PROFILE")))
    return ClientFactory(Target(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing"))
