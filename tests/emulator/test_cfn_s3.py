"""AWS::S3::BucketPolicy through CloudFormation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def template(effect: str = "Deny") -> dict[str, Any]:
    return {
        "Resources": {
            "Media": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "MediaPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Media"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TlsOnly",
                                "Effect": effect,
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [
                                    {"Fn::GetAtt": ["Media", "Arn"]},
                                    {"Fn::Join": ["", [{"Fn::GetAtt": ["Media", "Arn"]}, "/*"]]},
                                ],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    },
                },
            },
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Media"}}},
    }


def test_bucket_policy_lifecycle(stacks: Stacks) -> None:
    s3 = stacks.factory.client("s3", REGION)
    stack = stacks.create(template())
    stacks.assert_status(stack)
    bucket = stacks.outputs(stack["StackName"])["Bucket"]
    assert stacks.physical_id(stack["StackName"], "MediaPolicy") == bucket

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    statement = policy["Statement"][0]
    assert statement["Sid"] == "TlsOnly"
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]

    stacks.assert_status(stacks.update(stack["StackName"], template(effect="Allow")), "UPDATE_COMPLETE")
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Effect"] == "Allow"

    # Removing only the policy resource deletes the policy and keeps the bucket.
    without = template()
    del without["Resources"]["MediaPolicy"]
    stacks.assert_status(stacks.update(stack["StackName"], without), "UPDATE_COMPLETE")
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    s3.head_bucket(Bucket=bucket)
