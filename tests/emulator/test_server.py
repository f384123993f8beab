"""The emulator server: start time, ports, the serve loop, the CLI command, throttling injection."""

from __future__ import annotations

import socket
import threading
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.cli.main import cli
from streamflix_dr.errors import EmulatorError
from streamflix_dr_emulator import server

REGION = "us-east-1"


def client(endpoint: str, service: str, attempts: int = 1) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def test_endpoint_answers(emulator_endpoint: str) -> None:
    assert emulator_endpoint.startswith("http://127.0.0.1:")
    assert client(emulator_endpoint, "sts").get_caller_identity()["Account"] == "123456789012"


def test_second_server_on_an_explicit_port_answers_and_releases_it(emulator_endpoint: str) -> None:
    port = server._free_port()
    with server.running(port) as endpoint:
        assert endpoint == f"http://127.0.0.1:{port}"
        client(endpoint, "cloudformation").describe_stacks()
    with socket.socket() as s:  # the port is released on exit
        s.bind(("127.0.0.1", port))


def test_busy_port_is_an_emulator_error(emulator_endpoint: str) -> None:
    port = int(emulator_endpoint.rsplit(":", 1)[1])
    with pytest.raises(EmulatorError) as err, server.running(port):
        pass
    assert str(port) in str(err.value)


def test_serve_runs_until_stopped(emulator_endpoint: str) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def ready(endpoint: str) -> None:
        seen.append(endpoint)
        client(endpoint, "s3").list_buckets()
        stop.set()

    thread = threading.Thread(target=server.serve, kwargs={"ready": ready, "stop": stop})
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(seen) == 1


def test_cli_command_prints_endpoint_and_example(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_serve(port: int, *, ready: Any) -> None:
        ready(f"http://127.0.0.1:{port or 4566}")

    monkeypatch.setattr(server, "serve", fake_serve)
    result = CliRunner().invoke(cli, ["emulator", "--port", "4599"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:4599" in result.output
    assert (
        "aws --endpoint-url http://127.0.0.1:4599 cloudformation describe-stacks --region us-east-1"
        in result.output
    )


def test_query_protocol_throttling_shape(emulator_endpoint: str) -> None:
    server.inject_throttling("cloudformation", "DescribeStacks", 1)
    cf = client(emulator_endpoint, "cloudformation")
    with pytest.raises(ClientError) as err:
        cf.describe_stacks()
    assert err.value.response["Error"]["Code"] == "Throttling"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert server.pending_throttling("cloudformation", "DescribeStacks") == 0
    cf.describe_stacks()  # only the injected count is throttled


def test_json_protocol_throttling_shape(emulator_endpoint: str) -> None:
    server.inject_throttling("secretsmanager", "ListSecrets", 1)
    with pytest.raises(ClientError) as err:
        client(emulator_endpoint, "secretsmanager").list_secrets()
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_client_factory_retries_through_throttling(emulator_endpoint: str) -> None:
    factory = ClientFactory(
        target=Target(endpoint_url=emulator_endpoint, access_key_id="testing", secret_access_key="testing"),
        max_attempts=4,
    )
    server.inject_throttling("ecs", "ListClusters", 2)
    resp = factory.client("ecs", REGION).list_clusters()
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    assert server.pending_throttling("ecs", "ListClusters") == 0


def test_throttling_is_per_action(emulator_endpoint: str) -> None:
    server.inject_throttling("cloudformation", "ListStacks", 1)
    client(emulator_endpoint, "cloudformation").describe_stacks()
    assert server.pending_throttling("cloudformation", "ListStacks") == 1
    server.inject_throttling("cloudformation", "ListStacks", 0)
    assert server.pending_throttling("cloudformation", "ListStacks") == 0
    with pytest.raises(ValueError, match="count=-1"):
        server.inject_throttling("cloudformation", "ListStacks", -1)
