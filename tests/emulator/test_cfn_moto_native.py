"""The types emulator-notes.md says moto creates on its own: one tiny stack each, checked via the service."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest

ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
    },
}


def _case(kind: str, suffix: str) -> tuple[dict[str, Any], Any]:
    if kind == "dynamodb":
        name = f"journal-{suffix}"
        resource = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        }
        return {
            "R": resource
        }, lambda f: f.client("dynamodb", REGION).describe_table(TableName=name)["Table"]["TableName"] == name
    if kind == "stepfunctions":
        name = f"failover-{suffix}"
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
        resource = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": name,
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "DefinitionString": json.dumps(definition),
            },
        }
        return {"Role": ROLE, "R": resource}, lambda f: any(
            m["name"] == name
            for m in f.client("stepfunctions", REGION).list_state_machines()["stateMachines"]
        )
    if kind == "events":
        name = f"health-{suffix}"
        resource = {
            "Type": "AWS::Events::Rule",
            "Properties": {"Name": name, "ScheduleExpression": "rate(1 minute)", "State": "ENABLED"},
        }
        return {
            "R": resource
        }, lambda f: f.client("events", REGION).describe_rule(Name=name)["State"] == "ENABLED"
    if kind == "lambda":
        name = f"fn-{suffix}"
        resource = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(e, c):\n    return 1\n"},
            },
        }
        return (
            {"Role": ROLE, "R": resource},
            lambda f: (
                f.client("lambda", REGION).get_function(FunctionName=name)["Configuration"]["Runtime"]
                == "python3.12"
            ),
        )
    if kind == "logs":
        name = f"/streamflix/{suffix}"
        resource = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": name, "RetentionInDays": 30},
        }
        return (
            {"R": resource},
            lambda f: (
                f.client("logs", REGION).describe_log_groups(logGroupNamePrefix=name)["logGroups"][0][
                    "retentionInDays"
                ]
                == 30
            ),
        )
    if kind == "ssm":
        name = f"/streamflix/{suffix}"
        resource = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": name, "Type": "String", "Value": "x"},
        }
        return {
            "R": resource
        }, lambda f: f.client("ssm", REGION).get_parameter(Name=name)["Parameter"]["Value"] == "x"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dynamodb", "stepfunctions", "events", "lambda", "logs", "ssm"])
def test_moto_creates_the_type(stacks: Stacks, kind: str) -> None:
    resources, seen = _case(kind, uuid.uuid4().hex[:8])
    stack = stacks.create({"Resources": resources})
    stacks.assert_status(stack)
    assert stacks.physical_id(stack["StackName"], "R")
    assert seen(stacks.factory)
