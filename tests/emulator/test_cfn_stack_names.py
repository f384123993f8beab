"""A stack name is unique per region: change sets waiting for review, reruns, CreateStack, DescribeStacks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamflix_dr.template import to_json

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def _template(value: str = "v") -> str:
    name = f"/names/{uuid.uuid4().hex[:8]}"
    return to_json(
        {
            "Resources": {
                "P": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Name": name, "Type": "String", "Value": value},
                }
            }
        }
    )


def _live(cfn: Any, name: str) -> list[dict[str, Any]]:
    summaries = cfn.list_stacks()["StackSummaries"]
    return [s for s in summaries if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]


def test_rerun_while_a_change_set_waits_keeps_one_stack(stacks: Stacks) -> None:
    """Issue 8: a deploy interrupted while its CREATE change set waits, then reruns: once three stacks."""
    cfn = stacks.cfn()
    name = f"names-{uuid.uuid4().hex[:8]}"
    stacks.created.append((REGION, name))
    first = cfn.create_change_set(
        StackName=name, ChangeSetName="deploy-1", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    # The deploy is interrupted here; the rerun creates its own CREATE change set, and so does a third run.
    second = cfn.create_change_set(
        StackName=name, ChangeSetName="deploy-2", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    third = cfn.create_change_set(
        StackName=name, ChangeSetName="deploy-3", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    assert first["StackId"] == second["StackId"] == third["StackId"]
    assert [s["StackStatus"] for s in _live(cfn, name)] == ["REVIEW_IN_PROGRESS"]
    described = cfn.describe_stacks(StackName=name)["Stacks"]
    assert [(s["StackId"], s["StackStatus"]) for s in described] == [(first["StackId"], "REVIEW_IN_PROGRESS")]

    cfn.execute_change_set(ChangeSetName=third["Id"])
    stack = stacks.describe(name)
    stacks.assert_status(stack)
    assert stack["StackId"] == first["StackId"]
    assert len(_live(cfn, name)) == 1


def test_create_change_set_for_a_created_stack_is_refused(stacks: Stacks) -> None:
    stack = stacks.create(
        {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x"}}}}
    )
    name = stack["StackName"]
    with pytest.raises(ClientError) as err:
        stacks.cfn().create_change_set(
            StackName=name, ChangeSetName="again", TemplateBody=_template(), ChangeSetType="CREATE"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == (
        f"Stack [{name}] already exists and cannot be created again with the changeSet [again]."
    )
    assert len(_live(stacks.cfn(), name)) == 1


def test_create_stack_over_a_stack_waiting_for_review_is_refused(stacks: Stacks) -> None:
    cfn = stacks.cfn()
    name = f"names-{uuid.uuid4().hex[:8]}"
    stacks.created.append((REGION, name))
    cfn.create_change_set(
        StackName=name, ChangeSetName="waiting", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=_template())
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    with pytest.raises(ClientError) as err:
        cfn.create_change_set(
            StackName=name, ChangeSetName="upd", TemplateBody=_template(), ChangeSetType="UPDATE"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "is in REVIEW_IN_PROGRESS state and can not be updated" in err.value.response["Error"]["Message"]
    assert len(_live(cfn, name)) == 1


def test_a_deleted_name_can_be_used_again(stacks: Stacks) -> None:
    cfn = stacks.cfn()
    name = f"names-{uuid.uuid4().hex[:8]}"
    stacks.created.append((REGION, name))
    cfn.create_change_set(
        StackName=name, ChangeSetName="one", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    cfn.delete_stack(StackName=name)
    again = cfn.create_change_set(
        StackName=name, ChangeSetName="two", TemplateBody=_template(), ChangeSetType="CREATE"
    )
    assert [s["StackId"] for s in _live(cfn, name)] == [again["StackId"]]


def test_update_of_a_rolled_back_stack_is_refused(stacks: Stacks) -> None:
    bad = {"Resources": {"Odd": {"Type": "AWS::Made::Up", "Properties": {}}}}
    stack = stacks.create(bad)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    with pytest.raises(ClientError) as err:
        stacks.cfn().update_stack(StackName=stack["StackName"], TemplateBody=_template())
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in err.value.response["Error"]["Message"]
