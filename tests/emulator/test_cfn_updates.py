"""Resource types without an update handler fail loudly on a property change instead of reporting success."""

from __future__ import annotations

import uuid
from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def _template(name: str, retention: int, *, unused_default: str = "a") -> dict[str, Any]:
    return {
        "Parameters": {"Unused": {"Type": "String", "Default": unused_default}},
        "Conditions": {"Never": {"Fn::Equals": [{"Ref": "Unused"}, "never"]}},
        "Resources": {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": name,
                    "RetentionInDays": retention,
                    # Refers to the parameter, but its value does not change with it.
                    "Tags": [{"Key": "k", "Value": {"Fn::If": ["Never", {"Ref": "Unused"}, "fixed"]}}],
                },
            }
        },
    }


def test_changed_property_of_a_type_moto_cannot_update_fails_the_update(stacks: Stacks) -> None:
    name = f"/upd/{uuid.uuid4().hex[:8]}"
    stack = stacks.create(_template(name, 7))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _template(name, 30))
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    reason = stack["StackStatusReason"]
    assert "[Logs]" in reason
    assert "cannot update AWS::Logs::LogGroup" in reason
    assert "RetentionInDays update(s) in place on AWS" in reason
    failed = [e for e in stacks.events(stack["StackName"]) if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Logs"]


def test_create_only_property_is_named_as_a_replacement(stacks: Stacks) -> None:
    name = f"/upd/{uuid.uuid4().hex[:8]}"
    stack = stacks.create(_template(name, 7))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _template(name + "-b", 7))
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert "LogGroupName require(s) replacement on AWS" in stack["StackStatusReason"]


def test_a_parameter_change_that_leaves_the_resolved_properties_alone_is_no_change(stacks: Stacks) -> None:
    name = f"/upd/{uuid.uuid4().hex[:8]}"
    stack = stacks.create(_template(name, 7))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _template(name, 7), parameters={"Unused": "b"})
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    groups = stacks.factory.client("logs", REGION).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [7]


def _redis_template(**extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ReplicationGroupDescription": "d",
        "Engine": "redis",
        "CacheNodeType": "cache.t4g.small",
        "NumCacheClusters": 1,
        "Port": 6379,
    }
    props.update(extra)
    return {"Resources": {"Redis": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": props}}}


def test_replication_group_change_the_model_does_not_apply_fails_loudly(stacks: Stacks) -> None:
    stack = stacks.create(_redis_template())
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _redis_template(EngineVersion="7.1"))
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert "EngineVersion update(s) in place on AWS" in stack["StackStatusReason"]


def test_replication_group_create_only_change_replaces_it(stacks: Stacks) -> None:
    stack = stacks.create(_redis_template())
    stacks.assert_status(stack)
    before = stacks.physical_id(stack["StackName"], "Redis")
    stack = stacks.update(stack["StackName"], _redis_template(Port=6380))
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    after = stacks.physical_id(stack["StackName"], "Redis")
    assert after != before
    ec = stacks.factory.client("elasticache", REGION)
    ids = {g["ReplicationGroupId"] for g in ec.describe_replication_groups()["ReplicationGroups"]}
    assert after in ids
    assert before not in ids


def test_replacing_a_custom_named_resource_is_refused(stacks: Stacks) -> None:
    rg_id = f"named-{uuid.uuid4().hex[:8]}"
    stack = stacks.create(_redis_template(ReplicationGroupId=rg_id))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _redis_template(ReplicationGroupId=rg_id, Port=6380))
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert (
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        f"Rename {rg_id} and update the stack again." in stack["StackStatusReason"]
    )
