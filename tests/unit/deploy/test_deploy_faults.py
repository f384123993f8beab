"""Throttling is retried with backoff by the client factory; bad input is refused before any AWS call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.cli.main import cli
from streamflix_dr.deploy.stacks import Stack

THROTTLE = b"""<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"""
DESCRIBED = b"""<DescribeStacksResponse><DescribeStacksResult><Stacks><member>
<StackName>s</StackName><StackId>arn:aws:cloudformation:eu-west-2:1:stack/s/1</StackId>
<StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-25T12:00:00Z</CreationTime>
<Outputs><member><OutputKey>VpcId</OutputKey><OutputValue>vpc-1</OutputValue></member></Outputs>
</member></Stacks></DescribeStacksResult></DescribeStacksResponse>"""


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def test_throttling_is_retried_with_backoff(monkeypatch):
    factory = ClientFactory(
        Target(endpoint_url="https://cfn.invalid", access_key_id="a", secret_access_key="b")
    )
    cfn = factory.client("cloudformation", "eu-west-2")
    sent: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        if len(sent) <= 3:
            return AWSResponse(request.url, 400, {}, _Raw(THROTTLE))
        return AWSResponse(request.url, 200, {}, _Raw(DESCRIBED))

    cfn.meta.events.register("before-send.cloudformation.DescribeStacks", answer)
    slept: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    assert Stack(cfn, "eu-west-2", "s").outputs() == {"VpcId": "vpc-1"}
    assert len(sent) == 4  # three throttled attempts, then success
    assert len(slept) == 3 and all(s >= 0 for s in slept)  # backoff between attempts


def test_throttling_beyond_the_retry_budget_is_an_error(monkeypatch):
    factory = ClientFactory(
        Target(endpoint_url="https://cfn.invalid", access_key_id="a", secret_access_key="b"), max_attempts=2
    )
    cfn = factory.client("cloudformation", "eu-west-2")
    cfn.meta.events.register(
        "before-send.cloudformation.DescribeStacks",
        lambda request, **_: AWSResponse(request.url, 400, {}, _Raw(THROTTLE)),
    )
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda s: None)
    with pytest.raises(Exception, match="Throttling"):
        Stack(cfn, "eu-west-2", "s").outputs()


@pytest.fixture
def no_aws(monkeypatch) -> list[tuple[str, str]]:
    """Fail the test if any AWS client is created."""
    made: list[tuple[str, str]] = []

    def client(self: ClientFactory, service: str, region: str) -> Any:
        made.append((service, region))
        raise AssertionError(f"an AWS client was created: {service} {region}")

    monkeypatch.setattr(ClientFactory, "client", client)
    return made


def _env_file(tmp_path: Path, **changes: Any) -> Path:
    doc = yaml.safe_load((Path(__file__).parents[3] / "environments" / "dev.yaml").read_text())
    for dotted, value in changes.items():
        node = doc
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


@pytest.mark.parametrize("command", ["deploy", "destroy", "status"])
def test_unknown_environment_is_refused(command, no_aws):
    result = CliRunner().invoke(
        cli,
        [command, "--env", "nosuchenv", "--yes"] if command != "status" else [command, "--env", "nosuchenv"],
    )
    assert result.exit_code != 0
    assert "nosuchenv" in str(result.exception) and "not a known environment" in str(result.exception)
    assert no_aws == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"regions__dr__region": "eu-west-2"}, "regions.dr.region"),
        ({"regions__dr__region": "cn-north-1"}, "regions.dr.region"),
        ({"domain_name": "watch.streamflix.example", "hosted_zone_id": "Z123ABC"}, "certificate_arn"),
    ],
    ids=["same-region-pair", "cross-partition-pair", "domain-without-certificate"],
)
def test_bad_environment_is_refused_before_any_aws_call(tmp_path, changes, field, no_aws):
    path = _env_file(tmp_path, **changes)
    result = CliRunner().invoke(cli, ["deploy", "--env", str(path), "--yes"])
    assert result.exit_code != 0
    assert field in str(result.exception)
    assert "Fix:" in str(result.exception)
    assert no_aws == []
