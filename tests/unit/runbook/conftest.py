"""Fixtures: moto in-process, the journal table, a fake clock, fake steps that count their actions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import StepId
from streamflix_dr.errors import FailoverError
from streamflix_dr.runbook.journal import DynamoJournal, LocalJournal, MirroredJournal, RunLock
from streamflix_dr.runbook.latency import Latency, Timeouts
from streamflix_dr.runbook.runner import Runner
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome
from streamflix_dr.runbook.topology import Topology

PRIMARY = "eu-west-2"
DR = "us-east-1"
TABLE = "streamflix-dr-journal-test"


class FakeClock:
    """Wall time that only moves when told (sleep advances it); monotonic follows it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DR,
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        factory = ClientFactory()
        factory.client("dynamodb", DR).create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield factory


@pytest.fixture
def topology() -> Topology:
    return Topology(suffix="test", source_region=PRIMARY, target_region=DR, journal_table=TABLE)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class FakeStep(Step):
    """A step whose action is a counter; it can fail on chosen attempts or report itself done."""

    step_id: StepId = StepId.PROMOTE_DB
    seconds: float = 10.0
    fail_times: int = 0
    done_in_aws: bool = False
    ran: int = 0
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.id = self.step_id
        self.actions = ()

    def __hash__(self) -> int:
        return id(self)

    def expected_seconds(self, latency: Latency) -> float:
        return self.seconds

    def describe(self, topology: Topology) -> str:
        return f"fake {self.step_id}"

    def check_done(self, ctx: StepContext) -> bool:
        self.calls.append("check_done")
        return self.done_in_aws

    def run(self, ctx: StepContext) -> StepOutcome:
        self.calls.append("run")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise FailoverError(f"{self.step_id} exploded", fix="try again")
        self.ran += 1
        ctx.clock.sleep(self.seconds)
        return StepOutcome(message="ok", metrics={"rpo_seconds": 1.5})

    def verify(self, ctx: StepContext) -> None:
        self.calls.append("verify")


def fake_stages() -> list[tuple[str, list[Step], bool]]:
    return [
        ("fence", [FakeStep(StepId.FENCE_PRIMARY, 30)], False),
        (
            "data",
            [
                FakeStep(StepId.PROMOTE_DB, 300),
                FakeStep(StepId.FAILOVER_EFS, 180),
                FakeStep(StepId.FAILOVER_REDIS, 120),
                FakeStep(StepId.STOP_SECRET_REPLICATION, 5),
                FakeStep(StepId.SCALE_ECS, 150),
            ],
            True,
        ),
        ("dns", [FakeStep(StepId.SWITCH_DNS, 150)], False),
        ("verify", [FakeStep(StepId.VERIFY_SERVING, 10)], False),
    ]


def make_runner(factory: Any, topology: Topology, clock: Any, tmp_path: Path, **kwargs: Any) -> Runner:
    dynamo = factory.client("dynamodb", DR)
    journal = MirroredJournal(DynamoJournal(dynamo, TABLE, DR), LocalJournal(tmp_path / "journal"))
    kwargs.setdefault("stages", fake_stages())
    kwargs.setdefault("timeouts", Timeouts(fence_seconds=5, waiter_delay=1, waiter_max_attempts=3))
    return Runner(
        factory,
        topology,
        journal=journal,
        lock=RunLock(dynamo, TABLE, DR, topology.suffix),
        clock=clock,
        **kwargs,
    )


def fake_steps(runner: Runner) -> dict[str, FakeStep]:
    return {s.id.value: s for _, group, _ in runner.stages for s in group}  # type: ignore[misc]


@pytest.fixture
def dynamo_client(aws: ClientFactory) -> Any:
    return boto3.client("dynamodb", region_name=DR)
