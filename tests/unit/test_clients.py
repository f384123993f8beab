"""The client factory: explicit regions, per-instance caching, endpoint and retry configuration."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from streamflix_dr.aws.clients import DEFAULT_MAX_ATTEMPTS, ClientFactory, Target


class RecordingSession:
    """Stands in for boto3.Session and records what clients were asked for."""

    instances: list[RecordingSession] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[str, str, str | None, Any]] = []
        RecordingSession.instances.append(self)

    def client(self, service: str, *, region_name: str, endpoint_url: str | None, config: Any) -> object:
        self.calls.append((service, region_name, endpoint_url, config))
        return object()


@pytest.fixture(autouse=True)
def _reset() -> None:
    RecordingSession.instances.clear()


def test_clients_are_cached_per_region_and_service() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    a = factory.client("rds", "eu-west-2")
    assert factory.client("rds", "eu-west-2") is a
    assert factory.client("rds", "us-east-1") is not a
    assert factory.client("efs", "eu-west-2") is not a
    (session,) = RecordingSession.instances
    assert [(c[0], c[1]) for c in session.calls] == [
        ("rds", "eu-west-2"),
        ("rds", "us-east-1"),
        ("efs", "eu-west-2"),
    ]


def test_cache_is_per_instance_not_per_class() -> None:
    one = ClientFactory(session_class=RecordingSession)
    two = ClientFactory(session_class=RecordingSession)
    assert one.client("s3", "eu-west-2") is not two.client("s3", "eu-west-2")


def test_endpoint_profile_and_credentials_reach_the_session_and_clients() -> None:
    target = Target(
        profile="ops", endpoint_url="http://127.0.0.1:5000", access_key_id="AK", secret_access_key="SK"
    )
    factory = ClientFactory(target=target, session_class=RecordingSession)
    factory.client("cloudformation", "us-east-1")
    (session,) = RecordingSession.instances
    assert session.kwargs["profile_name"] == "ops"
    assert session.kwargs["aws_access_key_id"] == "AK"
    service, region, endpoint, config = session.calls[0]
    assert (service, region, endpoint) == ("cloudformation", "us-east-1", "http://127.0.0.1:5000")
    # Throttling is retried by botocore's standard mode: jittered exponential backoff.
    assert config.retries == {"mode": "standard", "max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert config.region_name == "us-east-1"


def test_region_view_binds_the_region() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    dr = factory.region("us-east-1")
    assert dr.client("rds") is factory.client("rds", "us-east-1")
    assert dr.application_autoscaling is factory.client("application-autoscaling", "us-east-1")


def test_concurrent_callers_share_one_client() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    seen: list[object] = []

    def grab() -> None:
        seen.append(factory.client("ecs", "us-east-1"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1


def test_target_describe_names_where_calls_go() -> None:
    assert Target(endpoint_url="http://127.0.0.1:1").describe() == "endpoint http://127.0.0.1:1"
    assert Target(profile="prod").describe() == "AWS profile prod"
    assert "default credential chain" in Target().describe()
