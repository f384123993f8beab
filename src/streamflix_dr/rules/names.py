"""DR rule E9301: every explicit resource name includes the environment suffix and fits its limit."""

from __future__ import annotations

import re
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.constants import Role, stack_name
from streamflix_dr.rules import _common as c

# (type, path of the name property) -> (maximum length, where the limit is documented).
# cfn-lint's schemas do not carry these limits for ELBv2, ElastiCache and Backup (aws-notes.md §0).
NAME_LIMITS: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = {
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", ("Name",)): (
        32,
        "UG AWS::ElasticLoadBalancingV2::LoadBalancer Name",
    ),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", ("Name",)): (
        32,
        "UG AWS::ElasticLoadBalancingV2::TargetGroup Name",
    ),
    ("AWS::ElastiCache::ReplicationGroup", ("ReplicationGroupId",)): (
        40,
        "UG ReplicationGroup ReplicationGroupId",
    ),
    ("AWS::RDS::DBInstance", ("DBInstanceIdentifier",)): (63, "UG AWS::RDS::DBInstance DBInstanceIdentifier"),
    ("AWS::IAM::Role", ("RoleName",)): (64, "UG AWS::IAM::Role RoleName"),
    ("AWS::IAM::ManagedPolicy", ("ManagedPolicyName",)): (128, "UG AWS::IAM::ManagedPolicy"),
    ("AWS::Lambda::Function", ("FunctionName",)): (64, "UG AWS::Lambda::Function FunctionName"),
    ("AWS::S3::Bucket", ("BucketName",)): (63, "S3 UG bucket naming rules"),
    ("AWS::Backup::BackupVault", ("BackupVaultName",)): (50, "UG AWS::Backup::BackupVault BackupVaultName"),
    ("AWS::Backup::BackupPlan", ("BackupPlan", "BackupPlanName")): (50, "Backup API CreateBackupPlan"),
    ("AWS::Events::Rule", ("Name",)): (64, "UG AWS::Events::Rule Name"),
    ("AWS::StepFunctions::StateMachine", ("StateMachineName",)): (80, "UG StateMachine StateMachineName"),
    ("AWS::DynamoDB::Table", ("TableName",)): (255, "UG AWS::DynamoDB::Table TableName"),
    ("AWS::ECS::Cluster", ("ClusterName",)): (255, "UG AWS::ECS::Cluster ClusterName"),
    ("AWS::ECS::Service", ("ServiceName",)): (255, "UG AWS::ECS::Service ServiceName"),
    ("AWS::ECR::Repository", ("RepositoryName",)): (256, "UG AWS::ECR::Repository RepositoryName"),
    ("AWS::SNS::Topic", ("TopicName",)): (256, "UG AWS::SNS::Topic TopicName"),
    ("AWS::SecretsManager::Secret", ("Name",)): (512, "UG AWS::SecretsManager::Secret Name"),
    ("AWS::Logs::LogGroup", ("LogGroupName",)): (512, "UG AWS::Logs::LogGroup LogGroupName"),
    ("AWS::CloudWatch::Alarm", ("AlarmName",)): (255, "UG AWS::CloudWatch::Alarm AlarmName"),
    ("AWS::CloudWatch::Dashboard", ("DashboardName",)): (255, "UG AWS::CloudWatch::Dashboard DashboardName"),
    ("AWS::CloudTrail::Trail", ("TrailName",)): (128, "UG AWS::CloudTrail::Trail TrailName"),
    ("AWS::KMS::Alias", ("AliasName",)): (256, "UG AWS::KMS::Alias AliasName"),
    ("AWS::ElastiCache::SubnetGroup", ("CacheSubnetGroupName",)): (255, "UG ElastiCache SubnetGroup"),
    ("AWS::RDS::DBSubnetGroup", ("DBSubnetGroupName",)): (255, "UG AWS::RDS::DBSubnetGroup"),
    ("AWS::EC2::SecurityGroup", ("GroupName",)): (255, "UG AWS::EC2::SecurityGroup GroupName"),
}

# Longest rendering of each pseudo parameter (aws-notes.md §0): 14 = ap-southeast-2, 12-digit accounts.
PSEUDO_MAX = {
    "AWS::Region": 14,
    "AWS::AccountId": 12,
    "AWS::Partition": 10,
    "AWS::URLSuffix": 16,
    "AWS::StackName": len(stack_name(Role.PRIMARY, "x" * 10)),
}
SUFFIX_MAX = 10

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class _Rendering:
    """The longest rendering of a name: its length, or None if some part has no known bound."""

    def __init__(self) -> None:
        self.length: int | None = 0
        self.has_suffix = False

    def add(self, n: int | None) -> None:
        self.length = None if self.length is None or n is None else self.length + n


def _param_max(cfn: Any, name: str) -> int | None:
    if name == c.SUFFIX_PARAM:
        param = (cfn.template.get("Parameters", {}) or {}).get(name, {})
        return int(param.get("MaxLength", SUFFIX_MAX)) if isinstance(param, dict) else SUFFIX_MAX
    if name in PSEUDO_MAX:
        return PSEUDO_MAX[name]
    param = (cfn.template.get("Parameters", {}) or {}).get(name)
    if isinstance(param, dict) and "MaxLength" in param:
        return int(param["MaxLength"])
    return None


def _render(cfn: Any, value: Any, out: _Rendering) -> None:
    if isinstance(value, str | int):
        out.add(len(str(value)))
    elif c.is_fn(value, "Ref"):
        if value["Ref"] == c.SUFFIX_PARAM:
            out.has_suffix = True
        out.add(_param_max(cfn, str(value["Ref"])))
    elif c.is_fn(value, "Fn::Sub"):
        arg = value["Fn::Sub"]
        text, variables = (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) else (arg, {})
        if not isinstance(text, str):
            out.add(None)
            return
        pos = 0
        for m in _SUB_VAR.finditer(text):
            out.add(len(text[pos : m.start()]))
            var = m.group(1)
            if isinstance(variables, dict) and var in variables:
                _render(cfn, variables[var], out)
            elif "." in var:
                out.add(None)
            else:
                if var == c.SUFFIX_PARAM:
                    out.has_suffix = True
                out.add(_param_max(cfn, var))
            pos = m.end()
        out.add(len(text[pos:]))
    elif c.is_fn(value, "Fn::Join"):
        sep, items = value["Fn::Join"]
        if not isinstance(items, list) or not isinstance(sep, str):
            out.add(None)
            return
        for i, item in enumerate(items):
            if i:
                out.add(len(sep))
            _render(cfn, item, out)
    else:
        out.add(None)


def _get(p: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = p
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


class DrNames(CloudFormationLintRule):
    """Explicit names include EnvironmentSuffix and fit their service limit."""

    id = "E9301"
    shortdesc = "Resource names include the environment suffix and fit their length limit"
    description = (
        "Every explicit name (ALB/TG 32, ElastiCache replication group 40, RDS 63, IAM role 64, Lambda 64, "
        "S3 63, Backup vault 50, ...) references the EnvironmentSuffix parameter, and its longest rendering "
        "(suffix 10, region 14, account 12 characters) fits the service's limit."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"
    tags = ["resources", "names", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            for (rtype, prop_path), (limit, source) in NAME_LIMITS.items():
                if res["Type"] != rtype:
                    continue
                prop = ".".join(prop_path)

                def check(
                    resolved: dict[str, Any], prop_path: tuple[str, ...] = prop_path, limit: int = limit
                ) -> Any:
                    value = _get(c.props(resolved), prop_path)
                    if value is None:
                        return
                    r = _Rendering()
                    _render(cfn, value, r)
                    if not r.has_suffix:
                        yield "suffix", None
                    if r.length is not None and r.length > limit:
                        yield "length", r.length

                path = ["Resources", name, "Properties", *prop_path]
                for length, when in c.problems_by_scenario(cfn, name, res, check):
                    if length is None:
                        msg = f"{rtype} {name}: {prop} does not include ${{{c.SUFFIX_PARAM}}}{when}"
                        fix = f"write it as !Sub '<name>-${{{c.SUFFIX_PARAM}}}'"
                    else:
                        msg = (
                            f"{rtype} {name}: {prop} can be {length} characters long (suffix {SUFFIX_MAX}, "
                            f"region 14, account 12), over the limit of {limit} [{source}]{when}"
                        )
                        fix = f"shorten the fixed part by {length - limit} characters"
                    matches.append(RuleMatch(path, f"{msg}. Fix: {fix}"))
        return matches
