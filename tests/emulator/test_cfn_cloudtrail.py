"""AWS::CloudTrail::Trail through CloudFormation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def template(name: str, logging: bool = True, validation: bool = True) -> dict[str, Any]:
    return {
        "Resources": {
            "Logs": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Trail": {
                "Type": "AWS::CloudTrail::Trail",
                "Properties": {
                    "TrailName": name,
                    "S3BucketName": {"Ref": "Logs"},
                    "IsLogging": logging,
                    "IsMultiRegionTrail": True,
                    "IncludeGlobalServiceEvents": True,
                    "EnableLogFileValidation": validation,
                    "Tags": [{"Key": "audit", "Value": "yes"}],
                },
            },
        },
        "Outputs": {"Name": {"Value": {"Ref": "Trail"}}, "Arn": {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}},
    }


def test_trail_lifecycle(stacks: Stacks) -> None:
    ct = stacks.factory.client("cloudtrail", REGION)
    name = f"org-trail-{uuid.uuid4().hex[:6]}"
    stack = stacks.create(template(name))
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert out["Name"] == name

    trail = ct.describe_trails(trailNameList=[name])["trailList"][0]
    assert trail["TrailARN"] == out["Arn"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert ct.get_trail_status(Name=name)["IsLogging"] is True
    tags = stacks.tag_map(ct.list_tags(ResourceIdList=[out["Arn"]])["ResourceTagList"][0]["TagsList"])
    assert tags["audit"] == "yes"

    stacks.assert_status(
        stacks.update(stack["StackName"], template(name, logging=False, validation=False)), "UPDATE_COMPLETE"
    )
    assert ct.get_trail_status(Name=name)["IsLogging"] is False
    assert ct.describe_trails(trailNameList=[name])["trailList"][0]["LogFileValidationEnabled"] is False

    stacks.delete(stack["StackName"])
    assert ct.describe_trails(trailNameList=[name])["trailList"] == []
    with pytest.raises(ClientError):
        ct.get_trail_status(Name=name)
