"""AWS::CloudFormation::WaitConditionHandle is created and listed; a WaitCondition fails loudly."""

from __future__ import annotations

from typing import Any

Stacks = Any  # the ``stacks`` fixture from conftest

HANDLE = {
    "Resources": {"Ready": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    "Outputs": {"Url": {"Value": {"Ref": "Ready"}}},
}


def test_handle_is_a_listed_resource_with_a_presigned_url(stacks: Stacks) -> None:
    stack = stacks.create(HANDLE)
    stacks.assert_status(stack)
    url = stacks.outputs(stack["StackName"])["Url"]
    assert url.startswith("https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/")
    assert stacks.physical_id(stack["StackName"], "Ready") == url
    stacks.delete(stack["StackName"])
    # A deleted stack is described by its id, as on AWS.
    assert stacks.describe(stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_wait_condition_is_refused_not_skipped(stacks: Stacks) -> None:
    template = {
        "Resources": {
            "Ready": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Wait": {
                "Type": "AWS::CloudFormation::WaitCondition",
                "Properties": {"Handle": {"Ref": "Ready"}, "Timeout": "60"},
            },
        }
    }
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "AWS::CloudFormation::WaitCondition" in str(stack.get("StackStatusReason"))
