"""Customer rules that hold for every stack: names, tags, destroyability, least privilege."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from streamflix_dr.constants import Phase, Role
from streamflix_dr.template_model import active_resources, resolve_value

from .conftest import COMBINATIONS, LONG_SUFFIX, make_params

# (type, name property) -> AWS limit; aws-notes section 0 for the ones cfn-lint does not check.
NAME_LIMITS: dict[tuple[str, str], int] = {
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): 32,
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"): 32,
    ("AWS::ElastiCache::ReplicationGroup", "ReplicationGroupId"): 40,
    ("AWS::ElastiCache::SubnetGroup", "CacheSubnetGroupName"): 255,
    ("AWS::Backup::BackupVault", "BackupVaultName"): 50,
    ("AWS::RDS::DBInstance", "DBInstanceIdentifier"): 63,
    ("AWS::RDS::DBSubnetGroup", "DBSubnetGroupName"): 255,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::Events::Rule", "Name"): 64,
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): 80,
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::SecretsManager::Secret", "Name"): 512,
    ("AWS::ECR::Repository", "RepositoryName"): 256,
    ("AWS::DynamoDB::Table", "TableName"): 255,
    ("AWS::ECS::Cluster", "ClusterName"): 255,
    ("AWS::ECS::Service", "ServiceName"): 255,
    ("AWS::ECS::TaskDefinition", "Family"): 255,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
    ("AWS::EC2::SecurityGroup", "GroupName"): 255,
    ("AWS::CloudTrail::Trail", "TrailName"): 128,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName"): 256,
}
# Long region names, so a name that fits here fits everywhere this template could go.
LONG_REGIONS = {Role.PRIMARY: "ap-southeast-2", Role.DR: "ap-northeast-3"}
STATEFUL = {
    "AWS::RDS::DBInstance",
    "AWS::EFS::FileSystem",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::GlobalReplicationGroup",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
    "AWS::Backup::BackupVault",
    "AWS::ECR::Repository",
}
REQUIRED_TAGS = {"Environment", "Application", "CostCenter"}


def _all_stacks() -> list[Any]:
    return [
        pytest.param(r, p, g, id=f"{r.value}-{p.value}-{'gds' if g else 'nogds'}")
        for r, p in ((Role.DR, Phase.BASE), (Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL))
        for g in (False, True)
    ]


def _long_params(role: Role, phase: Phase, gds: bool) -> dict[str, str]:
    return make_params(role, phase, gds=gds, **{"AWS::Region": LONG_REGIONS[role]})


@pytest.mark.parametrize(("role", "phase", "gds"), _all_stacks())
def test_names_fit_limits_and_carry_the_suffix(
    template: dict[str, Any], role: Role, phase: Phase, gds: bool
) -> None:
    params = _long_params(role, phase, gds)
    checked = 0
    for lid, res in active_resources(template, params).items():
        key = next(
            (k for k in NAME_LIMITS if k[0] == res["Type"] and k[1] in res.get("Properties", {})), None
        )
        if key is None:
            continue
        name = resolve_value(res["Properties"][key[1]], template, params)
        assert isinstance(name, str) and "${" not in name, f"{lid}: name not resolvable: {name!r}"
        assert LONG_SUFFIX in name, f"{lid}: {name} lacks the suffix"
        assert len(name) <= NAME_LIMITS[key], f"{lid}: {name} is {len(name)} > {NAME_LIMITS[key]}"
        checked += 1
    assert checked > 30


@pytest.mark.parametrize(("role", "phase", "gds"), _all_stacks())
def test_elasticache_and_rds_ids_have_no_double_hyphen(
    template: dict[str, Any], role: Role, phase: Phase, gds: bool
) -> None:
    params = _long_params(role, phase, gds)
    for res in active_resources(template, params).values():
        for prop in ("ReplicationGroupId", "DBInstanceIdentifier"):
            if prop in res.get("Properties", {}):
                name = resolve_value(res["Properties"][prop], template, params)
                assert "--" not in name and not name.endswith("-") and name[0].isalpha()


def _tag_property(rtype: str) -> str | None:
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    except Exception:
        return None
    tagging = schema.get("tagging") or {}
    if not tagging.get("taggable"):
        return None
    prop = tagging.get("tagProperty", "/properties/Tags")
    return str(prop).rsplit("/", 1)[-1]


def _tag_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value)
    return {t["Key"] for t in value if isinstance(t, dict) and "Key" in t}


def test_every_taggable_resource_carries_the_cost_tags(template: dict[str, Any]) -> None:
    untagged = []
    for lid, res in template["Resources"].items():
        prop = _tag_property(res["Type"])
        if prop is None:
            continue
        keys = _tag_keys(res.get("Properties", {}).get(prop, []))
        if not keys >= REQUIRED_TAGS:
            untagged.append(f"{lid} ({res['Type']}.{prop}): missing {sorted(REQUIRED_TAGS - keys)}")
    assert untagged == []


def test_no_retain_and_stateful_resources_delete(template: dict[str, Any]) -> None:
    for lid, res in template["Resources"].items():
        assert res.get("DeletionPolicy") != "Retain", lid
        assert res.get("UpdateReplacePolicy") != "Retain", lid
        if res["Type"] in STATEFUL:
            assert res.get("DeletionPolicy") == "Delete", f"{lid}: needs DeletionPolicy: Delete"
            assert res.get("UpdateReplacePolicy") == "Delete", f"{lid}: needs UpdateReplacePolicy: Delete"


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            for raw in policy["PolicyDocument"]["Statement"]:
                # A conditional statement is checked in its present form.
                st = raw["Fn::If"][1] if isinstance(raw, dict) and "Fn::If" in raw else raw
                out.append((lid, st))
    return out


def test_iam_policies_have_no_wildcard_actions(template: dict[str, Any]) -> None:
    for lid, st in _statements(template):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        for action in actions:
            assert "*" not in action, f"{lid}: wildcard action {action}"


def test_arns_are_partition_aware(template: dict[str, Any]) -> None:
    text = json.dumps(template["Resources"])
    assert re.search(r"arn:aws:(?!states:::)", text) is None


def test_security_groups_open_to_the_internet_only_on_the_alb(template: dict[str, Any]) -> None:
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::EC2::SecurityGroup":
            continue
        for rule in res["Properties"].get("SecurityGroupIngress", []):
            if "CidrIp" in rule:
                assert lid == "AlbSecurityGroup" and rule["FromPort"] in (80, 443), lid
            else:
                assert "SourceSecurityGroupId" in rule, lid


@pytest.mark.parametrize(("role", "phase"), COMBINATIONS)
def test_data_stores_are_encrypted_with_the_cmk(template: dict[str, Any], role: Role, phase: Phase) -> None:
    params = make_params(role, phase)
    cmk = {"Fn::GetAtt": ["KmsKey", "Arn"]}
    for lid, res in active_resources(template, params).items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Logs::LogGroup":
            assert props["KmsKeyId"] == cmk, lid
        if res["Type"] in ("AWS::SecretsManager::Secret",):
            assert props["KmsKeyId"] == cmk, lid
        if res["Type"] == "AWS::SNS::Topic":
            assert props["KmsMasterKeyId"] == cmk, lid
        if res["Type"] == "AWS::Lambda::Function" and "Environment" in props:
            assert props["KmsKeyArn"] == cmk, lid
    key = template["Resources"]["KmsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True and key["PendingWindowInDays"] == 7


def test_key_policy_grants_services_with_conditions(template: dict[str, Any]) -> None:
    statements = template["Resources"]["KmsKey"]["Properties"]["KeyPolicy"]["Statement"]
    for st in statements:
        principal = st["Principal"]
        if "Service" in principal:
            assert "Condition" in st, st["Sid"]
