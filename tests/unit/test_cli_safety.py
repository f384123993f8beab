"""CLI-side safety helpers: resuming an unfinished failover, taking a dead local owner's lock, preflight."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.cli.failover import dead_local_owner, unfinished
from streamflix_dr.cli.preflight import covers, preflight
from streamflix_dr.config import load_environment
from streamflix_dr.errors import ConfigError
from streamflix_dr.runbook.journal import LockState, OperationStatus

NOW = 1_000_000.0
DIRECTION = "eu-west-2->us-east-1"


def held(owner: str, status: OperationStatus = OperationStatus.RUNNING, lease: float = 300) -> LockState:
    return LockState("failover-x", DIRECTION, owner, NOW + lease, status)


def dead_pid() -> int:
    pid = 2**22 - 7
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_unfinished_means_not_succeeded_in_this_direction() -> None:
    assert unfinished(held("h:1"), DIRECTION)
    assert unfinished(held("h:1", OperationStatus.FAILED), DIRECTION)
    assert not unfinished(held("h:1", OperationStatus.SUCCEEDED), DIRECTION)
    assert not unfinished(held("h:1"), "us-east-1->eu-west-2")
    assert not unfinished(None, DIRECTION)


def test_dead_owner_on_this_host_is_taken_at_once() -> None:
    host = socket.gethostname()
    pid = dead_pid()
    assert "no longer runs" in (dead_local_owner(held(f"{host}:{pid}"), NOW) or "")
    # alive (this very test process's parent), another host, an ended lease: not this rule
    assert dead_local_owner(held(f"{host}:{os.getppid()}"), NOW) is None
    assert dead_local_owner(held(f"elsewhere:{pid}"), NOW) is None
    assert dead_local_owner(held(f"{host}:{pid}", lease=-1), NOW) is None


def test_certificate_names_cover_the_domain() -> None:
    assert covers("watch.streamflix.com", "watch.streamflix.com")
    assert covers("*.streamflix.com", "watch.streamflix.com")
    assert not covers("*.streamflix.com", "a.watch.streamflix.com")
    assert not covers("other.streamflix.com", "watch.streamflix.com")


@pytest.fixture
def aws() -> Iterator[ClientFactory]:
    with mock_aws():
        yield ClientFactory(Target(access_key_id="x", secret_access_key="x"))


def _env_with(factory: ClientFactory, *, cert_domain: str, zone_name: str, domain: str) -> Any:
    env = load_environment("dev")
    zone = (
        boto3.client("route53", region_name="us-east-1")
        .create_hosted_zone(Name=zone_name, CallerReference="t")["HostedZone"]["Id"]
        .rsplit("/", 1)[-1]
    )
    certs = {
        region: boto3.client("acm", region_name=region).request_certificate(DomainName=cert_domain)[
            "CertificateArn"
        ]
        for region in (env.primary_region, env.dr_region)
    }
    return dataclasses.replace(
        env,
        domain_name=domain,
        hosted_zone_id=zone,
        primary=dataclasses.replace(env.primary, certificate_arn=certs[env.primary_region]),
        dr=dataclasses.replace(env.dr, certificate_arn=certs[env.dr_region]),
    )


TEMPLATE: dict[str, Any] = {"Parameters": {}}


def test_preflight_passes_a_matching_certificate_and_zone(aws: ClientFactory) -> None:
    env = _env_with(
        aws, cert_domain="*.streamflix.com", zone_name="streamflix.com", domain="watch.streamflix.com"
    )
    lines = preflight(env, aws, TEMPLATE)
    assert any("covers watch.streamflix.com" in line for line in lines)
    assert any("holds watch.streamflix.com" in line for line in lines)


def test_preflight_refuses_a_certificate_for_another_name(aws: ClientFactory) -> None:
    env = _env_with(
        aws, cert_domain="other.example.org", zone_name="streamflix.com", domain="watch.streamflix.com"
    )
    with pytest.raises(ConfigError) as info:
        preflight(env, aws, TEMPLATE)
    assert "does not cover watch.streamflix.com" in info.value.message


def test_preflight_refuses_a_domain_outside_the_zone(aws: ClientFactory) -> None:
    env = _env_with(aws, cert_domain="watch.other.com", zone_name="streamflix.com", domain="watch.other.com")
    with pytest.raises(ConfigError) as info:
        preflight(env, aws, TEMPLATE)
    assert "is not inside hosted zone" in info.value.message


def test_preflight_refuses_a_missing_certificate(aws: ClientFactory) -> None:
    env = _env_with(
        aws, cert_domain="watch.streamflix.com", zone_name="streamflix.com", domain="watch.streamflix.com"
    )
    gone = env.primary.certificate_arn
    boto3.client("acm", region_name=env.primary_region).delete_certificate(CertificateArn=gone)
    with pytest.raises(ConfigError) as info:
        preflight(env, aws, TEMPLATE)
    assert (
        info.value.field == "regions.primary.certificate_arn"
        and "does not exist in eu-west-2" in info.value.message
    )


def test_preflight_says_not_checked_where_the_endpoint_has_no_catalogue(aws: ClientFactory) -> None:
    # moto lists no orderable postgres options at all: that is no answer, never a pass and never a refusal.
    env = _env_with(
        aws, cert_domain="*.streamflix.com", zone_name="streamflix.com", domain="watch.streamflix.com"
    )
    lines = preflight(env, aws, TEMPLATE)
    assert any("not checked" in line and "eu-west-2" in line for line in lines)
    assert not any(line.startswith("postgres") for line in lines)
