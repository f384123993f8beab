"""Fixtures: a failed-over environment in the fake AWS, a DynamoDB journal table (moto), a fake clock."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.failback.base import FailbackTopology, Phase, Side
from streamflix_dr.failback.phases import failback_stages
from streamflix_dr.failback.runner import FailbackRunner, failback_latency
from streamflix_dr.runbook.journal import DynamoJournal, LocalJournal, MirroredJournal, RunLock
from streamflix_dr.runbook.latency import Timeouts

sys.path.insert(0, str(Path(__file__).parent))

from fakes import ACCOUNT, DR, PRIMARY, FakeFactory, World

TABLE = "streamflix-dr-journal-test"
DB = "streamflix-db-test"


class FakeClock:
    """Time that moves only when slept or advanced."""

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
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dynamo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
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


def side(region: str, name: str, desired: int, low: int, high: int) -> Side:
    return Side(
        region=region,
        stack=f"streamflix-dr-{name}-test",
        db_id=DB,
        kms_key_arn=f"arn:aws:kms:{region}:{ACCOUNT}:key/k-{name}",
        db_subnet_group=f"dbsg-{region}",
        db_security_groups=(f"sg-db-{region}",),
        db_parameter_group=f"pg-{region}",
        db_instance_class="db.r6g.large",
        db_backup_retention=7,
        fs_id=f"fs-{name}",
        redis_group_id=f"redis-{name}",
        ecs_cluster="cluster",
        ecs_service=f"svc-{name}",
        desired_count=desired,
        min_capacity=low,
        max_capacity=high,
        load_balancer_dns_name=f"{name}-lb.example",
        target_group_arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:targetgroup/tg/1",
    )


@pytest.fixture
def topology() -> FailbackTopology:
    primary = side(PRIMARY, "primary", 4, 2, 8)
    dr = side(DR, "dr", 1, 1, 2)
    return FailbackTopology(
        suffix="test",
        source_region=DR,
        target_region=PRIMARY,
        journal_table=TABLE,
        global_datastore_id="gds-test",
        secret_names=("db-secret",),
        hosted_zone_id="Z1",
        domain_name="app.example.com",
        primary=primary,
        dr=dr,
        account_id=ACCOUNT,
    )


def failed_over_world(clock: FakeClock, t: FailbackTopology) -> World:
    """The state a failover leaves: both DBs standalone, EFS writable in DR with a leftover configuration
    on the primary side, the Global Datastore's primary in DR, a secret rotated in DR, DNS pinned to DR."""
    w = World(clock=clock)
    w.put_db(PRIMARY, DB, VpcSecurityGroups=[{"VpcSecurityGroupId": "sg-fence"}])  # fenced by the failover
    w.params[(PRIMARY, t.primary.db_parameter_group)] = {"default_transaction_read_only": "on"}
    w.put_db(DR, DB)
    w.fs[PRIMARY][t.primary.fs_id] = {"protection": "ENABLED"}
    w.fs[DR][t.dr.fs_id] = {"protection": "ENABLED"}
    w.reps.append(
        {
            "src_region": PRIMARY,
            "src": t.primary.fs_id,
            "dst_region": DR,
            "dst": t.dr.fs_id,
            "status": "ENABLED",
            "last": None,
            "local_only": True,
        }
    )
    w.rgs[PRIMARY][t.primary.redis_group_id] = {}
    w.rgs[DR][t.dr.redis_group_id] = {}
    w.gds["gds-test"] = [
        {"rg": t.dr.redis_group_id, "region": DR, "role": "PRIMARY"},
        {"rg": t.primary.redis_group_id, "region": PRIMARY, "role": "SECONDARY"},
    ]
    w.secrets[PRIMARY]["db-secret"] = {
        "value": "pw-before",
        "primary_region": PRIMARY,
        "replicas": {DR: "InSync"},
    }
    w.secrets[DR]["db-secret"] = {"value": "pw-rotated-in-dr"}
    w.services[PRIMARY][t.primary.ecs_service] = {"desired": 0}
    w.targets[PRIMARY][f"service/cluster/{t.primary.ecs_service}"] = (0, 0)
    w.services[DR][t.dr.ecs_service] = {"desired": 4}
    w.targets[DR][f"service/cluster/{t.dr.ecs_service}"] = (4, 8)
    w.metric(DR, "StreamFlixDR", "FailoverPin", {"Environment": "test"}, 1.0, clock.now())
    return w


@pytest.fixture
def world(clock: FakeClock, topology: FailbackTopology) -> World:
    return failed_over_world(clock, topology)


@pytest.fixture
def factory(world: World, dynamo: ClientFactory) -> FakeFactory:
    return FakeFactory(world, dynamo)


def make_runner(
    factory: Any,
    topology: FailbackTopology,
    clock: FakeClock,
    tmp_path: Path,
    phases: list[Phase],
    *,
    force: bool = False,
    owner: str = "test-owner",
) -> FailbackRunner:
    dynamo = factory.client("dynamodb", DR)
    journal = MirroredJournal(DynamoJournal(dynamo, TABLE, DR), LocalJournal(tmp_path / "journal"))
    return FailbackRunner(
        factory,
        topology,
        journal=journal,
        lock=RunLock(dynamo, TABLE, DR, topology.suffix),
        clock=clock,
        latency=failback_latency(None),
        timeouts=Timeouts(fence_seconds=5, waiter_delay=1, waiter_max_attempts=3),
        stages=failback_stages(phases, force=force),
        owner=owner,
    )
