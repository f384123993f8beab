"""Topology from stack outputs (and the DR stack's peer parameters) and from the Lambda environment."""

from __future__ import annotations

import json

import pytest

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.errors import ConfigError, StackError
from streamflix_dr.runbook.topology import Topology, stack_values

from .conftest import DR


def test_stack_values_adds_peer_parameters_and_outputs_win(aws: ClientFactory) -> None:
    template = {
        "Parameters": {
            "GlobalDatastoreId": {"Type": "String"},
            "PrimaryDbArn": {"Type": "String"},
            "VpcCidr": {"Type": "String"},
        },
        "Resources": {
            "M": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": "x", "Name": "/t/m"},
            }
        },
        "Outputs": {"FileSystemId": {"Value": "fs-1"}, "PrimaryDbArn": {"Value": "from-output"}},
    }
    aws.client("cloudformation", DR).create_stack(
        StackName="streamflix-dr-dr-test",
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "GlobalDatastoreId", "ParameterValue": "g-1"},
            {"ParameterKey": "PrimaryDbArn", "ParameterValue": "from-param"},
            {"ParameterKey": "VpcCidr", "ParameterValue": "10.0.0.0/16"},
        ],
    )
    values = stack_values(aws, DR, "streamflix-dr-dr-test")
    assert values == {"GlobalDatastoreId": "g-1", "PrimaryDbArn": "from-output", "FileSystemId": "fs-1"}
    with pytest.raises(StackError, match="streamflix-dr-dr-missing"):
        stack_values(aws, DR, "streamflix-dr-dr-missing")


def test_from_outputs_without_the_primary() -> None:
    t = Topology.from_outputs(
        suffix="s",
        source_region="eu-west-2",
        target_region=DR,
        source=None,
        target={
            "JournalTableName": "j",
            "DbInstanceIdentifier": "db",
            "EcsClusterName": "c",
            "EcsServiceName": "svc",
            "DbSecretName": "s1",
            "RedisAuthSecretName": "s2",
            "GlobalDatastoreId": "g",
        },
        desired_count=3,
        source_db_arn="arn:aws:rds:eu-west-2:1:db:primary",
    )
    assert t.direction == "eu-west-2->us-east-1" and t.source_db_instance_id == "primary"
    assert t.secret_names == ("s1", "s2") and t.global_datastore_id == "g" and t.desired_count == 3
    assert t.source_ecs_service == ""
    with pytest.raises(StackError, match="JournalTableName"):
        Topology.from_outputs(
            suffix="s", source_region="eu-west-2", target_region=DR, source=None, target={}, desired_count=1
        )


def test_from_environ_names_the_missing_variable() -> None:
    env = {
        "STREAMFLIX_PRIMARY_REGION": "eu-west-2",
        "STREAMFLIX_DR_REGION": DR,
        "STREAMFLIX_SUFFIX": "s",
        "STREAMFLIX_JOURNAL_TABLE": "j",
        "STREAMFLIX_FAILOVER_DESIRED_COUNT": "4",
        "STREAMFLIX_TARGET_GROUP_ARN": "tg",
        "STREAMFLIX_PRIMARY_HEALTH_CHECK_ID": "hc",
    }
    t = Topology.from_environ(env)
    assert t.desired_count == 4 and t.target_group_arn == "tg" and t.source_health_check_id == "hc"
    with pytest.raises(ConfigError, match="STREAMFLIX_FAILOVER_DESIRED_COUNT"):
        Topology.from_environ({**env, "STREAMFLIX_FAILOVER_DESIRED_COUNT": "two"})
    with pytest.raises(ConfigError, match="STREAMFLIX_SUFFIX"):
        Topology.from_environ({k: v for k, v in env.items() if k != "STREAMFLIX_SUFFIX"})
