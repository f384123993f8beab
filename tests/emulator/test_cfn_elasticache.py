"""ElastiCache subnet group, replication group and global replication group through CloudFormation."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
PEER_REGION = "eu-west-2"
Stacks = Any  # the ``stacks`` fixture from conftest


def network(region: str) -> dict[str, Any]:
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.40.0.0/16"}},
        "SubA": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": "10.40.1.0/24",
                "AvailabilityZone": f"{region}a",
            },
        },
        "SubB": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": "10.40.2.0/24",
                "AvailabilityZone": f"{region}b",
            },
        },
        "CacheSubnets": {
            "Type": "AWS::ElastiCache::SubnetGroup",
            "Properties": {
                "Description": "cache subnets",
                "SubnetIds": [{"Ref": "SubA"}, {"Ref": "SubB"}],
                "Tags": [{"Key": "team", "Value": "sre"}],
            },
        },
    }


def redis(**extra: Any) -> dict[str, Any]:
    props = {
        "ReplicationGroupDescription": "session cache",
        "Engine": "redis",
        "CacheNodeType": "cache.r6g.large",
        "NumCacheClusters": 2,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "CacheSubnetGroupName": {"Ref": "CacheSubnets"},
        "Tags": [{"Key": "app", "Value": "streamflix"}],
    }
    props.update(extra)
    return {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": props}


def secondary_redis(global_id: Any, **extra: Any) -> dict[str, Any]:
    """A Global Datastore secondary: what it inherits from the primary is not set."""
    props = {
        "ReplicationGroupDescription": "session cache replica",
        "GlobalReplicationGroupId": global_id,
        "NumCacheClusters": 2,
        "CacheSubnetGroupName": {"Ref": "CacheSubnets"},
        "Tags": [{"Key": "app", "Value": "streamflix"}],
    }
    props.update(extra)
    return {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": props}


def primary_template() -> dict[str, Any]:
    return {
        "Resources": {**network(REGION), "Redis": redis()},
        "Outputs": {
            "RedisId": {"Value": {"Ref": "Redis"}},
            "SubnetGroup": {"Value": {"Ref": "CacheSubnets"}},
            "PrimaryAddress": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}},
            "PrimaryPort": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Port"]}},
            "ReaderAddress": {"Value": {"Fn::GetAtt": ["Redis", "ReaderEndPoint.Address"]}},
        },
    }


def test_replication_group_and_subnet_group_lifecycle(stacks: Stacks) -> None:
    ec = stacks.factory.client("elasticache", REGION)
    stack = stacks.create(primary_template(), tags={"env": "test"})
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])

    group = ec.describe_replication_groups(ReplicationGroupId=out["RedisId"])["ReplicationGroups"][0]
    assert group["Description"] == "session cache"
    assert group["CacheNodeType"] == "cache.r6g.large"
    assert group["AutomaticFailover"] == "enabled"
    assert group["MultiAZ"] == "enabled"
    assert len(group["MemberClusters"]) == 2
    assert out["PrimaryAddress"] == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    assert out["PrimaryPort"] == "6379"
    # moto's DescribeReplicationGroups omits ReaderEndpoint; the attribute is its reader name.
    assert out["ReaderAddress"] == out["PrimaryAddress"].replace("master.", "replica.", 1)
    assert stacks.physical_id(stack["StackName"], "Redis") == out["RedisId"]

    tags = stacks.tag_map(ec.list_tags_for_resource(ResourceName=group["ARN"])["TagList"])
    assert tags["app"] == "streamflix"
    assert tags["env"] == "test"  # stack tags propagate, as in CloudFormation
    assert tags["aws:cloudformation:logical-id"] == "Redis"

    subnet_group = ec.describe_cache_subnet_groups(CacheSubnetGroupName=out["SubnetGroup"])[
        "CacheSubnetGroups"
    ][0]
    assert subnet_group["CacheSubnetGroupDescription"] == "cache subnets"
    assert len(subnet_group["Subnets"]) == 2
    sg_tags = stacks.tag_map(ec.list_tags_for_resource(ResourceName=subnet_group["ARN"])["TagList"])
    assert sg_tags["team"] == "sre"

    updated = primary_template()
    updated["Resources"]["Redis"]["Properties"]["ReplicationGroupDescription"] = "session cache v2"
    updated["Resources"]["Redis"]["Properties"]["CacheNodeType"] = "cache.r6g.xlarge"
    stacks.assert_status(stacks.update(stack["StackName"], updated), "UPDATE_COMPLETE")
    group = ec.describe_replication_groups(ReplicationGroupId=out["RedisId"])["ReplicationGroups"][0]
    assert group["Description"] == "session cache v2"
    assert group["CacheNodeType"] == "cache.r6g.xlarge"

    stacks.delete(stack["StackName"])
    with pytest.raises(ClientError) as err:
        ec.describe_replication_groups(ReplicationGroupId=out["RedisId"])
    assert err.value.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
    with pytest.raises(ClientError) as err:
        ec.describe_cache_subnet_groups(CacheSubnetGroupName=out["SubnetGroup"])
    assert err.value.response["Error"]["Code"] == "CacheSubnetGroupNotFoundFault"


def test_getatt_of_unknown_attribute_fails_the_stack(stacks: Stacks) -> None:
    template = primary_template()
    template["Outputs"] = {"Bad": {"Value": {"Fn::GetAtt": ["Redis", "NoSuchAttribute"]}}}
    with pytest.raises(ClientError) as err:
        stacks.create(template)
    assert "NoSuchAttribute" in str(err.value)


def test_global_replication_group_spans_two_stacks(stacks: Stacks) -> None:
    suffix = uuid.uuid4().hex[:6]
    primary = primary_template()
    primary["Resources"]["Global"] = {
        "Type": "AWS::ElastiCache::GlobalReplicationGroup",
        "Properties": {
            "GlobalReplicationGroupIdSuffix": f"streamflix-{suffix}",
            "GlobalReplicationGroupDescription": "sessions everywhere",
            "Members": [
                {"ReplicationGroupId": {"Ref": "Redis"}, "ReplicationGroupRegion": REGION, "Role": "PRIMARY"}
            ],
        },
    }
    primary["Outputs"]["GlobalId"] = {"Value": {"Ref": "Global"}}
    primary["Outputs"]["GlobalStatus"] = {"Value": {"Fn::GetAtt": ["Global", "Status"]}}
    p_stack = stacks.create(primary)
    stacks.assert_status(p_stack)
    p_out = stacks.outputs(p_stack["StackName"])
    global_id = p_out["GlobalId"]
    assert global_id.endswith(f"-streamflix-{suffix}")
    assert p_out["GlobalStatus"] == "available"

    secondary = {
        "Parameters": {"GlobalId": {"Type": "String"}},
        "Resources": {
            **network(PEER_REGION),
            "Redis": secondary_redis({"Ref": "GlobalId"}),
        },
        "Outputs": {"RedisId": {"Value": {"Ref": "Redis"}}},
    }
    s_stack = stacks.create(secondary, region=PEER_REGION, parameters={"GlobalId": global_id})
    stacks.assert_status(s_stack)
    s_out = stacks.outputs(s_stack["StackName"], region=PEER_REGION)

    ec = stacks.factory.client("elasticache", REGION)
    described = ec.describe_global_replication_groups(GlobalReplicationGroupId=global_id, ShowMemberInfo=True)
    members = {
        (m["ReplicationGroupRegion"], m["Role"]) for m in described["GlobalReplicationGroups"][0]["Members"]
    }
    assert members == {(REGION, "PRIMARY"), (PEER_REGION, "SECONDARY")}
    peer = stacks.factory.client("elasticache", PEER_REGION)
    info = peer.describe_replication_groups(ReplicationGroupId=s_out["RedisId"])["ReplicationGroups"][0]
    assert info["GlobalReplicationGroupInfo"]["GlobalReplicationGroupMemberRole"] == "SECONDARY"

    # Teardown in the order destroy uses: the DR stack first, then the primary.
    stacks.delete(s_stack["StackName"], region=PEER_REGION)
    described = ec.describe_global_replication_groups(GlobalReplicationGroupId=global_id, ShowMemberInfo=True)
    assert [m["Role"] for m in described["GlobalReplicationGroups"][0]["Members"]] == ["PRIMARY"]
    stacks.delete(p_stack["StackName"])
    assert stacks.describe(p_stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        ec.describe_global_replication_groups(GlobalReplicationGroupId=global_id)
    assert err.value.response["Error"]["Code"] == "GlobalReplicationGroupNotFoundFault"


def test_secondary_with_unknown_global_id_fails_with_reason(stacks: Stacks) -> None:
    template = {"Resources": {**network(PEER_REGION), "Redis": secondary_redis("ldgnf-nope")}}
    stack = stacks.create(copy.deepcopy(template), region=PEER_REGION)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "Redis" in stack["StackStatusReason"]
    assert "ldgnf-nope" in stack["StackStatusReason"]


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("AtRestEncryptionEnabled", True),
        ("TransitEncryptionEnabled", True),
        ("TransitEncryptionMode", "required"),
        ("Engine", "redis"),
        ("EngineVersion", "7.1"),
        ("CacheNodeType", "cache.r6g.large"),
        ("CacheParameterGroupName", "default.redis7"),
        ("MultiAZEnabled", True),
        ("AutomaticFailoverEnabled", True),
    ],
)
def test_secondary_refuses_what_it_inherits_from_the_global_datastore(
    stacks: Stacks, prop: str, value: Any
) -> None:
    template = {"Resources": {**network(PEER_REGION), "Redis": secondary_redis("ldgnf-any", **{prop: value})}}
    stack = stacks.create(template, region=PEER_REGION)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert (
        "Cannot use the given parameters when creating new replication group in an existing global "
        "replication group." in stack["StackStatusReason"]
    )
    assert prop in stack["StackStatusReason"]


@pytest.mark.parametrize(
    "rg_id",
    ["x" * 41, "1starts-with-digit", "double--hyphen", "ends-with-hyphen-", "under_score"],
)
def test_replication_group_id_outside_the_api_rules_is_refused_not_cut(stacks: Stacks, rg_id: str) -> None:
    template = {"Resources": {**network(REGION), "Redis": redis(ReplicationGroupId=rg_id)}}
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "Invalid replication group id" in stack["StackStatusReason"]


def test_replication_group_id_of_40_characters_is_kept_whole(stacks: Stacks) -> None:
    rg_id = f"sessions-{uuid.uuid4().hex[:8]}".ljust(40, "x")
    stack = stacks.create({"Resources": {**network(REGION), "Redis": redis(ReplicationGroupId=rg_id)}})
    stacks.assert_status(stack)
    assert stacks.physical_id(stack["StackName"], "Redis") == rg_id
