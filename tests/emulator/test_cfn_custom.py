"""Lambda-backed custom resources run in-process (inline ZipFile code with ``import cfnresponse``)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest

# The shape of the project's Custom::EmptyBucket: empties the bucket on Delete so the stack can go.
EMPTY_BUCKET = textwrap.dedent(
    """
    import boto3
    import cfnresponse


    def handler(event, context):
        try:
            bucket = event["ResourceProperties"]["BucketName"]
            if event["RequestType"] == "Delete":
                s3 = boto3.resource("s3")
                s3.Bucket(bucket).objects.all().delete()
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Emptied": bucket}, "empty-" + bucket)
        except Exception as e:
            cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason=str(e))
    """
)

ECHO = textwrap.dedent(
    """
    import cfnresponse


    def handler(event, context):
        props = event["ResourceProperties"]
        if props.get("Fail") == "yes":
            cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="told to fail")
            return
        data = {
            "Greeting": "hello " + props["Name"],
            "RequestType": event["RequestType"],
            "Old": event.get("OldResourceProperties", {}).get("Name", ""),
        }
        cfnresponse.send(event, context, cfnresponse.SUCCESS, data, "echo-" + props["Name"])
    """
)


def function(code: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
            "Timeout": 60,
            "Code": {"ZipFile": code},
        },
    }


ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    },
}


def echo_template(name: str, fail: str = "no") -> dict[str, Any]:
    return {
        "Resources": {
            "FnRole": ROLE,
            "EchoFn": function(ECHO),
            "Echo": {
                "Type": "Custom::Echo",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["EchoFn", "Arn"]}, "Name": name, "Fail": fail},
            },
        },
        "Outputs": {
            "Greeting": {"Value": {"Fn::GetAtt": ["Echo", "Greeting"]}},
            "RequestType": {"Value": {"Fn::GetAtt": ["Echo", "RequestType"]}},
            "Old": {"Value": {"Fn::GetAtt": ["Echo", "Old"]}},
            "Physical": {"Value": {"Ref": "Echo"}},
        },
    }


def test_custom_resource_response_data_is_visible(stacks: Stacks) -> None:
    stack = stacks.create(echo_template("world"))
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert out["Greeting"] == "hello world"
    assert out["RequestType"] == "Create"
    assert out["Physical"] == "echo-world"
    assert stacks.physical_id(stack["StackName"], "Echo") == "echo-world"

    stacks.assert_status(stacks.update(stack["StackName"], echo_template("moon")), "UPDATE_COMPLETE")
    out = stacks.outputs(stack["StackName"])
    assert (out["Greeting"], out["RequestType"], out["Old"], out["Physical"]) == (
        "hello moon",
        "Update",
        "world",
        "echo-moon",
    )


def test_failed_response_fails_the_stack_with_the_reason(stacks: Stacks) -> None:
    stack = stacks.create(echo_template("x", fail="yes"))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "Received response status [FAILED] from custom resource" in stack["StackStatusReason"]
    assert "told to fail" in stack["StackStatusReason"]
    failed = [e for e in stacks.events(stack["StackName"]) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Echo"]


def test_empty_bucket_on_delete_lets_the_bucket_go(stacks: Stacks) -> None:
    template = {
        "Resources": {
            "Media": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "FnRole": ROLE,
            "EmptyFn": function(EMPTY_BUCKET),
            "EmptyMedia": {
                "Type": "Custom::EmptyBucket",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["EmptyFn", "Arn"]},
                    "BucketName": {"Ref": "Media"},
                },
            },
        },
        "Outputs": {
            "Bucket": {"Value": {"Ref": "Media"}},
            "Emptied": {"Value": {"Fn::GetAtt": ["EmptyMedia", "Emptied"]}},
        },
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert out["Emptied"] == out["Bucket"]
    s3 = stacks.factory.client("s3", REGION)
    for i in range(3):
        s3.put_object(Bucket=out["Bucket"], Key=f"video/{i}.mp4", Body=b"x")

    stacks.delete(stack["StackName"])
    assert stacks.describe(stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=out["Bucket"])
    assert err.value.response["Error"]["Code"] == "404"


def test_handler_without_response_fails_loudly(stacks: Stacks) -> None:
    silent = "def handler(event, context):\n    return None\n"
    template = {
        "Resources": {
            "FnRole": ROLE,
            "Fn": function(silent),
            "Res": {"Type": "Custom::Silent", "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}}},
        }
    }
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "without sending a response" in stack["StackStatusReason"]


TYPES = textwrap.dedent(
    """
    import json

    import cfnresponse


    def handler(event, context):
        props = event["ResourceProperties"]
        seen = {k: [type(v).__name__, v] for k, v in props.items() if k != "ServiceToken"}
        data = {"Seen": json.dumps(seen, sort_keys=True)}
        cfnresponse.send(event, context, cfnresponse.SUCCESS, data, "types")
    """
)


def test_resource_properties_reach_the_function_as_strings(stacks: Stacks) -> None:
    """CloudFormation stringifies custom resource property values (numbers, booleans), nested ones too."""
    template = {
        "Resources": {
            "FnRole": ROLE,
            "TypesFn": function(TYPES),
            "Types": {
                "Type": "Custom::Types",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["TypesFn", "Arn"]},
                    "Count": 14,
                    "Ratio": 1.5,
                    "Enabled": True,
                    "Off": False,
                    "Name": "n",
                    "Nested": {"Retries": 3, "Items": [1, True]},
                },
            },
        },
        "Outputs": {"Seen": {"Value": {"Fn::GetAtt": ["Types", "Seen"]}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    seen = json.loads(stacks.outputs(stack["StackName"])["Seen"])
    assert seen == {
        "Count": ["str", "14"],
        "Ratio": ["str", "1.5"],
        "Enabled": ["str", "true"],
        "Off": ["str", "false"],
        "Name": ["str", "n"],
        "Nested": ["dict", {"Retries": "3", "Items": ["1", "true"]}],
    }
