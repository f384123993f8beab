"""Shared fixtures: the decoded main template and parameter sets per role and phase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamflix_dr.constants import DR_REGION, PRIMARY_REGION, Param, Phase, Role
from streamflix_dr.template import load_template

# The longest suffix the template accepts: every name-length check runs against it.
LONG_SUFFIX = "abcdefghij"
ACCOUNT = "123456789012"
PRIMARY_DB_ARN = f"arn:aws:rds:{PRIMARY_REGION}:{ACCOUNT}:db:streamflix-db-{LONG_SUFFIX}"
HEALTH_CHECK_ID = "abcdef01-2345-6789-abcd-ef0123456789"
GDS_ID = f"ldgnf-streamflix-{LONG_SUFFIX}"
PIN_ALARM = f"streamflix-failover-pin-{LONG_SUFFIX}"

NETWORK = {
    Role.PRIMARY: (
        "10.10.0.0/16",
        "10.10.0.0/24,10.10.1.0/24,10.10.2.0/24",
        "10.10.16.0/20,10.10.32.0/20,10.10.48.0/20",
        "10.10.64.0/24,10.10.65.0/24,10.10.66.0/24",
    ),
    Role.DR: (
        "10.20.0.0/16",
        "10.20.0.0/24,10.20.1.0/24,10.20.2.0/24",
        "10.20.16.0/20,10.20.32.0/20,10.20.48.0/20",
        "10.20.64.0/24,10.20.65.0/24,10.20.66.0/24",
    ),
}

# (role, phase) combinations that are deployed, with readable ids for parametrize.
COMBINATIONS = [
    pytest.param(Role.DR, Phase.BASE, id="dr-base"),
    pytest.param(Role.PRIMARY, Phase.FULL, id="primary-full"),
    pytest.param(Role.DR, Phase.FULL, id="dr-full"),
]

ParamsFactory = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


def make_params(role: Role, phase: Phase, *, gds: bool = False, **overrides: str) -> dict[str, str]:
    """What the deployer passes for one stack, plus the values the previous phases produced."""
    vpc, public, private, isolated = NETWORK[role]
    params = {
        Param.ENVIRONMENT_SUFFIX: LONG_SUFFIX,
        Param.ROLE: role.value,
        Param.PHASE: phase.value,
        Param.PEER_REGION: DR_REGION if role is Role.PRIMARY else PRIMARY_REGION,
        Param.VPC_CIDR: vpc,
        Param.PUBLIC_SUBNET_CIDRS: public,
        Param.PRIVATE_SUBNET_CIDRS: private,
        Param.ISOLATED_SUBNET_CIDRS: isolated,
        Param.ENABLE_GLOBAL_DATASTORE: "true" if gds else "false",
        # Deploy passes 'true' once the image is in both regions' repositories.
        Param.APP_IMAGE_AVAILABLE: "true",
        "AWS::Region": PRIMARY_REGION if role is Role.PRIMARY else DR_REGION,
        "AWS::AccountId": ACCOUNT,
    }
    if role is Role.PRIMARY:
        params[Param.DR_FAILOVER_PIN_ALARM_NAME] = PIN_ALARM
    if role is Role.DR and phase is Phase.FULL:
        # The approval gate (FailoverApprovalRequired defaults to 'true') needs a subscriber.
        params[Param.ALARM_EMAIL] = "sre@example.com"
        params[Param.PRIMARY_DB_ARN] = PRIMARY_DB_ARN
        params[Param.PRIMARY_HEALTH_CHECK_ID] = HEALTH_CHECK_ID
        if gds:
            params[Param.GLOBAL_DATASTORE_ID] = GDS_ID
    params.update(overrides)
    return params


@pytest.fixture
def params() -> ParamsFactory:
    return make_params
