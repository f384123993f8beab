"""The environment lock (SSM parameter in the DR region): exclusive, names its holder, takes over the dead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from streamflix_dr.errors import EnvironmentLockedError
from streamflix_dr.locking import EnvironmentLock, LockHolder, lock_name

REGION = "us-east-1"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def lock(ssm: Any, *, host: str = "h1", pid: int = 100, alive: bool = True, clock: Clock | None = None):
    return EnvironmentLock(
        ssm,
        REGION,
        "dev",
        host=host,
        pid=pid,
        alive=lambda _p: alive,
        clock=clock or Clock(),
        lease_seconds=600,
    )


def test_second_taker_is_refused_naming_the_holder(ssm: Any) -> None:
    first = lock(ssm, host="h1", pid=100)
    first.acquire("deploy", argv="streamflix-dr deploy --env dev")
    with pytest.raises(EnvironmentLockedError) as info:
        lock(ssm, host="h2", pid=200).acquire("deploy")
    assert info.value.exit_code == 4
    msg = str(info.value)
    assert "`deploy` by PID 100 on h1" in msg and "lease 600 s more" in msg
    held = first.read()
    assert held is not None and (held.command, held.host, held.pid) == ("deploy", "h1", 100)


def test_dead_process_on_this_host_is_taken_over_at_once(ssm: Any) -> None:
    lock(ssm, host="h1", pid=100).acquire("failover", operation_id="failover-1")
    # Same host, PID 100 is not alive: no waiting for the lease.
    second = lock(ssm, host="h1", pid=101, alive=False)
    second.acquire("failover")
    assert second.took_over is not None and second.took_over.pid == 100
    assert "no longer runs on this host" in second.took_over_reason
    held = second.read()
    assert held is not None and held.pid == 101


def test_live_process_on_this_host_is_respected(ssm: Any) -> None:
    lock(ssm, host="h1", pid=100).acquire("deploy")
    with pytest.raises(EnvironmentLockedError):
        lock(ssm, host="h1", pid=101, alive=True).acquire("destroy")


def test_other_host_is_taken_over_only_after_its_lease(ssm: Any) -> None:
    clock = Clock()
    lock(ssm, host="h1", pid=100, clock=clock).acquire("deploy")
    other = lock(ssm, host="h2", pid=5, alive=False, clock=clock)
    with pytest.raises(EnvironmentLockedError):
        other.acquire("deploy")  # PID liveness says nothing about another host
    clock.now += 601
    other.acquire("deploy")
    assert other.took_over is not None and "lease ran out" in other.took_over_reason


def test_only_one_of_two_takers_replaces_a_stale_holder(ssm: Any) -> None:
    stale = lock(ssm, host="h1", pid=100)
    stale.acquire("deploy")
    holder = stale.read()
    assert holder is not None
    a = lock(ssm, host="h1", pid=101, alive=False)
    a.acquire("deploy")
    # b saw the same stale holder: its takeover marker already exists, and the new holder is alive.
    b = lock(ssm, host="h1", pid=102, alive=False)
    assert not b._create(f"{lock_name('dev')}-takeover/{holder.token}", "x")


def test_release_frees_it_and_removes_takeover_markers(ssm: Any) -> None:
    lock(ssm, host="h1", pid=100).acquire("deploy")
    second = lock(ssm, host="h1", pid=101, alive=False)
    second.acquire("deploy")
    second.release()
    assert second.read() is None
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert names == []


def test_renew_notices_a_takeover(ssm: Any) -> None:
    clock = Clock()
    first = lock(ssm, host="h1", pid=100, clock=clock)
    first.acquire("deploy")
    clock.now += 601
    lock(ssm, host="h2", pid=7, clock=clock).acquire("deploy")
    with pytest.raises(EnvironmentLockedError, match="taken over"):
        first.renew()


def test_holder_round_trips_through_json() -> None:
    h = LockHolder("deploy", "h", 1, 2.0, 3.0, "t", "op", "streamflix-dr deploy")
    import json  # noqa: PLC0415

    assert LockHolder.from_json(json.dumps(h.to_dict())) == h
    assert LockHolder.from_json("not json") is None


def test_force_takes_a_live_holder_and_says_so(ssm: Any) -> None:
    lock(ssm, host="h1", pid=100).acquire("deploy")
    breaker = lock(ssm, host="h2", pid=5, alive=True)
    breaker.acquire("failover", force=True)
    assert breaker.took_over is not None and breaker.took_over.command == "deploy"
    assert breaker.took_over_reason == "taken by force (--break-lock)"
