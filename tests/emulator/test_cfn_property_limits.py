"""Resource properties outside AWS's documented limits fail the resource (schema and API name rules)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from streamflix_dr_emulator.fixes.property_limits import violations

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (
            "AWS::IAM::Role",
            {"RoleName": "r" * 65, "AssumeRolePolicyDocument": TRUST},
            "#/RoleName: expected maxLength: 64, actual: 65",
        ),
        (
            "AWS::S3::Bucket",
            {"BucketName": "Upper-Case-Bucket"},
            "#/BucketName: failed validation constraint for keyword [pattern]",
        ),
        ("AWS::S3::Bucket", {"BucketName": "b" * 64}, "#/BucketName: expected maxLength: 63, actual: 64"),
        (
            "AWS::Lambda::Function",
            {"FunctionName": "f" * 65, "Role": "arn:aws:iam::123456789012:role/x", "Code": {}},
            "#/FunctionName: expected maxLength: 64",
        ),
        (
            "AWS::Backup::BackupVault",
            {"BackupVaultName": "v"},
            "#/BackupVaultName: failed validation constraint for keyword [pattern]",
        ),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Name": "l" * 33}, "#/Name: "),
        (
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            {"Name": "internal-app"},
            "must not begin with 'internal-'",
        ),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", {"Name": "t" * 33}, "at most 32 characters"),
        (
            "AWS::Logs::LogGroup",
            {"LogGroupName": "/ok", "Retention": 7},
            "#: extraneous key [Retention] is not permitted",
        ),
        (
            "AWS::Logs::LogGroup",
            {"LogGroupName": "/ok", "RetentionInDays": 8},
            "#/RetentionInDays: failed validation constraint for keyword [enum]",
        ),
        (
            "AWS::Logs::LogGroup",
            {"LogGroupName": "/ok", "RetentionInDays": "8"},
            "#/RetentionInDays: failed validation constraint for keyword [enum]",
        ),
    ],
    ids=[
        "role-64",
        "bucket-lowercase",
        "bucket-63",
        "lambda-64",
        "vault-2",
        "alb-32",
        "alb-internal",
        "tg-32",
        "unknown-property",
        "retention-enum",
        "retention-enum-from-a-parameter",
    ],
)
def test_limits_aws_documents_are_refused(resource_type: str, props: dict[str, Any], expected: str) -> None:
    found = violations(REGION, resource_type, props)
    assert any(expected in m for m in found), found


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        ("AWS::IAM::Role", {"RoleName": "r" * 64, "AssumeRolePolicyDocument": TRUST}),
        ("AWS::S3::Bucket", {"BucketName": "streamflix-artifacts-dev-123456789012"}),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", {"Name": "streamflix-tg-dev", "Port": "443"}),
        ("AWS::Logs::LogGroup", {"LogGroupName": "/ok", "RetentionInDays": "30"}),
    ],
    ids=["role-64", "bucket", "tg", "retention-as-string"],
)
def test_values_within_the_limits_pass(resource_type: str, props: dict[str, Any]) -> None:
    assert violations(REGION, resource_type, props) == []


def test_a_stack_with_a_name_too_long_fails_with_cloudformations_message(stacks: Stacks) -> None:
    name = f"streamflix-{uuid.uuid4().hex}-role-name-that-is-far-too-long-for-iam"
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": name, "AssumeRolePolicyDocument": TRUST},
            }
        }
    }
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert (
        "Properties validation failed for resource Role with message: #/RoleName: expected maxLength: 64"
        in (stack["StackStatusReason"])
    )
    assert stacks.factory.client("iam", REGION).list_roles()["Roles"] == [] or all(
        r["RoleName"] != name for r in stacks.factory.client("iam", REGION).list_roles()["Roles"]
    )


def test_an_update_to_a_name_too_long_fails_the_update(stacks: Stacks) -> None:
    def template(name: str) -> dict[str, Any]:
        return {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name}}}}

    stack = stacks.create(template(f"/limits/{uuid.uuid4().hex[:8]}"))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], template("/limits/" + "x" * 520))
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert "#/LogGroupName: expected maxLength: 512" in stack["StackStatusReason"]
