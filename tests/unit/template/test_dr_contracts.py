"""The template's side of the contracts other parts rely on (BRIEF "Contracts") and the issue-7 fixes.

Tags, the DNS pin, the fence, image gating, X-Ray, the Global Datastore secondary, TLS to the tasks, the audit
trail in CloudWatch Logs: each is checked on the resolved properties of the stacks deploy creates.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from streamflix_dr.constants import OUTPUTS_BY_ROLE, PEER_PARAMETERS, Output, Param, Phase, Role
from streamflix_dr.rules.tags import tag_keys, tag_property
from streamflix_dr.template_model import (
    active_outputs,
    active_properties,
    active_resources,
    check_parameter_values,
)

from .conftest import COMBINATIONS, PIN_ALARM, make_params

DNS = {Param.HOSTED_ZONE_ID: "Z0123456789ABC", Param.DOMAIN_NAME: "watch.example.com"}
CERT = {Param.CERTIFICATE_ARN: "arn:aws:acm:eu-west-2:123456789012:certificate/abc-123"}
PEERS = {
    Param.DR_FILE_SYSTEM_ID: "fs-0123456789abcdef0",
    Param.DR_KMS_KEY_ARN: "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
    Param.DR_BACKUP_VAULT_ARN: "arn:aws:backup:us-east-1:123456789012:backup-vault:streamflix-vault-x",
}
REQUIRED_TAGS = ("Environment", "Application", "CostCenter")


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in props.get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[Any]:
    res = statement.get("Resource", [])
    return res if isinstance(res, list) else [res]


def _grants(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if s.get("Effect") == "Allow" and action in _actions(s)]


# ---------------------------------------------------------------- tags (cfn-lint 1.58 schemas)


def _all_stack_params() -> list[tuple[str, dict[str, str]]]:
    """Every role/phase with every option that changes which resources exist."""
    out = []
    for (role, phase), gds, dns, cert, peers, image in itertools.product(
        [(Role.DR, Phase.BASE), (Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL)],
        [False, True],
        [False, True],
        [False, True],
        [False, True],
        [False, True],
    ):
        extra: dict[str, str] = {Param.APP_IMAGE_AVAILABLE: "true" if image else "false"}
        if dns:
            extra.update(DNS)
        if cert:
            extra.update(CERT)
        if peers and role is Role.PRIMARY:
            extra.update(PEERS)
        if role is Role.DR:
            extra[Param.NAT_GATEWAY_COUNT] = "3" if peers else "1"
            extra[Param.FAILOVER_APPROVAL_REQUIRED] = "true" if peers else "false"
        label = f"{role.value}-{phase.value}-gds{gds:d}-dns{dns:d}-cert{cert:d}-peers{peers:d}-image{image:d}"
        out.append((label, make_params(role, phase, gds=gds, **extra)))
    return out


def test_untagged_taggable_resources_are_zero_in_every_stack(template: dict[str, Any]) -> None:
    untagged: list[str] = []
    taggable_types: set[str] = set()
    for label, params in _all_stack_params():
        assert check_parameter_values(template, params) == [], label
        for lid, res in active_resources(template, params).items():
            prop = tag_property(res["Type"])
            if prop is None:
                continue
            taggable_types.add(res["Type"])
            keys = tag_keys(active_properties(template, params, lid).get(prop)) or set()
            missing = [t for t in REQUIRED_TAGS if t not in keys]
            if missing:
                untagged.append(f"{label} {lid} ({res['Type']}): {', '.join(missing)}")
    assert untagged == []
    # The count covers the types cfn-lint 1.58's schemas made taggable (so it cannot pass by skipping them).
    assert {
        "AWS::ElastiCache::GlobalReplicationGroup",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::CloudWatch::Dashboard",
        "AWS::Route53::HealthCheck",
    } <= taggable_types


# ---------------------------------------------------------------- images: no task before the image exists


@pytest.mark.parametrize(("role", "phase"), [COMBINATIONS[1], COMBINATIONS[2]])
def test_no_capacity_until_the_image_is_available(template: dict[str, Any], role: Role, phase: Phase) -> None:
    assert template["Parameters"][Param.APP_IMAGE_AVAILABLE]["Default"] == "false"
    off = make_params(role, phase, AppImageAvailable="false")
    assert active_properties(template, off, "EcsService")["DesiredCount"] == 0
    target = active_properties(template, off, "ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 0)
    on = make_params(role, phase, AppImageAvailable="true", MinCapacity="2", MaxCapacity="6")
    target = active_properties(template, on, "ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == ("2", "6")


# ---------------------------------------------------------------- DNS pin: no inverted check


@pytest.mark.parametrize(("role", "phase"), [COMBINATIONS[0], COMBINATIONS[2]])
def test_failover_pin_alarm_in_every_dr_phase(template: dict[str, Any], role: Role, phase: Phase) -> None:
    alarm = active_properties(template, make_params(role, phase), "FailoverPinAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("StreamFlixDR", "FailoverPin")
    assert alarm["Dimensions"] == [{"Name": "Environment", "Value": "abcdefghij"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["TreatMissingData"] == "ignore"
    assert Output.FAILOVER_PIN_ALARM_NAME in active_outputs(template, make_params(role, phase))
    assert Output.FAILOVER_PIN_ALARM_NAME in OUTPUTS_BY_ROLE[(role, phase)]


def test_primary_has_no_pin_alarm(template: dict[str, Any]) -> None:
    assert "FailoverPinAlarm" not in active_resources(template, make_params(Role.PRIMARY, Phase.FULL))


def test_primary_record_uses_the_calculated_check(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL, **DNS, **CERT)
    pin = active_properties(template, params, "FailoverPinHealthCheck")["HealthCheckConfig"]
    assert pin == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Name": PIN_ALARM, "Region": "us-east-1"},
        "InsufficientDataHealthStatus": "Healthy",
    }
    routing = active_properties(template, params, "PrimaryRoutingHealthCheck")["HealthCheckConfig"]
    assert routing["Type"] == "CALCULATED" and routing["HealthThreshold"] == 2
    assert routing["ChildHealthChecks"] == [{"Ref": "HealthCheck"}, {"Ref": "FailoverPinHealthCheck"}]
    # The ALB check itself is unchanged and never inverted.
    https = active_properties(template, params, "HealthCheck")["HealthCheckConfig"]
    assert https["Type"] == "HTTPS" and "Inverted" not in https
    record = active_properties(template, params, "PrimaryRecord")
    assert record["HealthCheckId"] == {"Ref": "PrimaryRoutingHealthCheck"}


def test_nothing_inverts_a_health_check(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    assert "route53:UpdateHealthCheck" not in text
    assert '"Inverted"' not in text


def test_primary_dns_without_the_pin_alarm_is_refused(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL, **DNS)
    del params[Param.DR_FAILOVER_PIN_ALARM_NAME]
    problems = check_parameter_values(template, params)
    assert any("DrFailoverPinAlarmName" in p and "FailoverPinAlarmName" in p for p in problems), problems


# ---------------------------------------------------------------- approval gate needs a subscriber


def test_approval_without_subscriber_is_refused(template: dict[str, Any]) -> None:
    params = make_params(Role.DR, Phase.FULL, AlarmEmail="", FailoverApprovalRequired="true")
    problems = check_parameter_values(template, params)
    assert any("ApprovalNeedsSubscriber" in p and "AlarmEmail" in p for p in problems), problems
    without_gate = make_params(Role.DR, Phase.FULL, AlarmEmail="", FailoverApprovalRequired="false")
    assert check_parameter_values(template, without_gate) == []


# ---------------------------------------------------------------- fence


def test_fence_security_group_admits_nothing(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL)
    sg = active_properties(template, params, "DbFenceSecurityGroup")
    assert "SecurityGroupIngress" not in sg
    assert [r["CidrIp"] for r in sg["SecurityGroupEgress"]] == ["127.0.0.1/32"]
    ingress = [
        lid
        for lid, res in active_resources(template, params).items()
        if res["Type"] == "AWS::EC2::SecurityGroupIngress"
        and "DbFenceSecurityGroup" in json.dumps(res.get("Properties"))
    ]
    assert ingress == []
    assert Output.DB_FENCE_SECURITY_GROUP_ID in active_outputs(template, params)
    assert "DbFenceSecurityGroup" not in active_resources(template, make_params(Role.DR, Phase.FULL))


def test_failover_role_can_fence_the_primary_region(template: dict[str, Any]) -> None:
    role = active_properties(template, make_params(Role.DR, Phase.FULL), "FailoverFunctionRole")
    st = _statements(role)

    def peer(svc: str) -> str:
        return f"arn:aws:{svc}:eu-west-2:123456789012:"

    def peer_arns(action: str) -> list[str]:
        return [r for s in _grants(st, action) for r in _resources(s) if ":eu-west-2:" in str(r)]

    assert peer("ecs") + "service/streamflix-cluster-abcdefghij/streamflix-svc-abcdefghij" in (
        peer_arns("ecs:UpdateService")
    )
    assert peer("application-autoscaling") + "scalable-target/*" in peer_arns(
        "application-autoscaling:RegisterScalableTarget"
    )
    assert peer("rds") + "pg:streamflix-db-abcdefghij" in peer_arns("rds:ModifyDBParameterGroup")
    assert peer("rds") + "db:streamflix-db-abcdefghij" in peer_arns("rds:ModifyDBInstance")
    # DescribeScalableTargets has no resource-level permissions: '*' is its only scope, in its own statement.
    (describe,) = _grants(st, "application-autoscaling:DescribeScalableTargets")
    assert _resources(describe) == ["*"] and _actions(describe) == [
        "application-autoscaling:DescribeScalableTargets"
    ]


def test_failover_role_switches_dns_through_the_pin_metric(template: dict[str, Any]) -> None:
    st = _statements(active_properties(template, make_params(Role.DR, Phase.FULL), "FailoverFunctionRole"))
    (put,) = _grants(st, "cloudwatch:PutMetricData")
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": "StreamFlixDR"}}
    assert _grants(st, "route53:TestDNSAnswer") and _grants(st, "route53:GetHealthCheckStatus")
    assert not _grants(st, "route53:UpdateHealthCheck")


# ---------------------------------------------------------------- X-Ray


@pytest.mark.parametrize(
    ("function", "role"),
    [("FailoverFunction", "FailoverFunctionRole"), ("ReadinessFunction", "ReadinessFunctionRole")],
)
def test_traced_functions_may_write_traces(template: dict[str, Any], function: str, role: str) -> None:
    params = make_params(Role.DR, Phase.FULL)
    assert active_properties(template, params, function)["TracingConfig"] == {"Mode": "Active"}
    st = _statements(active_properties(template, params, role))
    for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
        grants = _grants(st, action)
        assert grants and all(_resources(s) == ["*"] for s in grants), action


# ---------------------------------------------------------------- TLS to the tasks, access-log exception


def test_alb_talks_tls_to_the_tasks(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL)
    tg = active_properties(template, params, "TargetGroup")
    assert tg["Protocol"] == "HTTPS" and tg["HealthCheckProtocol"] == "HTTPS"
    container = active_properties(template, params, "TaskDefinition")["ContainerDefinitions"][0]
    assert "https://localhost:" in container["HealthCheck"]["Command"][1]


def test_every_lint_suppression_carries_its_reason(template: dict[str, Any]) -> None:
    suppressed = {
        (lid, check)
        for lid, res in template["Resources"].items()
        for check in (((res.get("Metadata") or {}).get("cfn-lint") or {}).get("config") or {}).get(
            "ignore_checks", []
        )
    }
    reasons = {
        (lid, check)
        for lid, res in template["Resources"].items()
        for check, reason in ((res.get("Metadata") or {}).get("StreamflixDR::Exceptions") or {}).items()
        if isinstance(reason, str) and len(reason) > 20
    }
    assert ("AccessLogsBucket", "E9101") in suppressed
    assert sorted(suppressed - reasons) == []
    bucket = template["Resources"]["AccessLogsBucket"]["Properties"]["BucketEncryption"]
    assert bucket["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    # Every other bucket uses the stack's KMS key.
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::S3::Bucket" and lid != "AccessLogsBucket":
            rules = res["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", lid


# ---------------------------------------------------------------- smaller fixes


def test_dashboard_sync_widget_has_the_destination_dimension(template: dict[str, Any]) -> None:
    for role, phase in [(Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL)]:
        params = make_params(role, phase, **(PEERS if role is Role.PRIMARY else {}))
        body = json.loads(active_properties(template, params, "Dashboard")["DashboardBody"])
        (widget,) = [w for w in body["widgets"] if "sync" in w["properties"].get("title", "")]
        assert "DestinationFileSystemId" in json.dumps(widget["properties"]["metrics"]), role
    params = make_params(Role.PRIMARY, Phase.FULL, **PEERS)
    body = json.loads(active_properties(template, params, "Dashboard")["DashboardBody"])
    metrics = next(w for w in body["widgets"] if "sync" in w["properties"].get("title", ""))["properties"][
        "metrics"
    ]
    assert metrics[0][-2:] == ["DestinationFileSystemId", PEERS[Param.DR_FILE_SYSTEM_ID]]


def test_cloudtrail_may_decrypt_through_the_bucket_key(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL)
    bucket = active_properties(template, params, "TrailBucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["BucketKeyEnabled"] is True
    policy = active_properties(template, params, "KmsKey")["KeyPolicy"]["Statement"]
    decrypt = [
        s
        for s in policy
        if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"} and "kms:Decrypt" in _actions(s)
    ]
    assert decrypt and "trail/streamflix-trail-abcdefghij" in json.dumps(decrypt[0]["Condition"])


def test_replica_keeps_backups(template: dict[str, Any]) -> None:
    replica = active_properties(template, make_params(Role.DR, Phase.FULL), "DbReplica")
    assert int(replica["BackupRetentionPeriod"]) > 0 and replica["PreferredBackupWindow"]


def test_log_stream_permissions_name_the_group(template: dict[str, Any]) -> None:
    # GetAtt <LogGroup>.Arn ends in ':*'; '${X.Arn}:log-stream:*' would match no stream.
    assert ".Arn}:log-stream" not in json.dumps(template)


# ---------------------------------------------------------------- audit: trail in CloudWatch Logs


def test_trail_sends_to_an_encrypted_log_group_with_alarms(template: dict[str, Any]) -> None:
    params = make_params(Role.PRIMARY, Phase.FULL)
    trail = active_properties(template, params, "Trail")
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": ["TrailLogGroup", "Arn"]}
    assert trail["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": ["TrailLogsRole", "Arn"]}
    group = active_properties(template, params, "TrailLogGroup")
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}
    role = active_properties(template, params, "TrailLogsRole")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudtrail.amazonaws.com"
    }
    resources = active_resources(template, params)
    filters = {
        lid: active_properties(template, params, lid)
        for lid, res in resources.items()
        if res["Type"] == "AWS::Logs::MetricFilter"
    }
    patterns = " ".join(f["FilterPattern"] for f in filters.values())
    for event in (
        "DisableKey",
        "ScheduleKeyDeletion",
        "DeleteDBInstance",
        "PromoteReadReplica",
        "ModifyDBInstance",
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "PutRolePolicy",
        "AttachRolePolicy",
    ):
        assert f"$.eventName = {event}" in patterns, event
    for f in filters.values():
        assert f["LogGroupName"] == {"Ref": "TrailLogGroup"}
        metric = f["MetricTransformations"][0]
        alarms = [
            active_properties(template, params, lid)
            for lid, res in resources.items()
            if res["Type"] == "AWS::CloudWatch::Alarm"
            and active_properties(template, params, lid).get("MetricName") == metric["MetricName"]
        ]
        assert len(alarms) == 1, metric["MetricName"]
        assert alarms[0]["Namespace"] == metric["MetricNamespace"]
        assert alarms[0]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert len(filters) == 4


# ---------------------------------------------------------------- values passed between stacks


def test_peer_parameters_name_real_outputs_and_parameters(template: dict[str, Any]) -> None:
    for (role, output), param in PEER_PARAMETERS.items():
        assert param in template["Parameters"], param
        assert output in template["Outputs"], output
        produced = any(
            output in active_outputs(template, make_params(role, phase, gds=True, **DNS))
            for phase in (Phase.BASE, Phase.FULL)
            if (role, phase) != (Role.PRIMARY, Phase.BASE)
        )
        assert produced, (role, output)
    assert PEER_PARAMETERS[(Role.DR, Output.FAILOVER_PIN_ALARM_NAME)] == Param.DR_FAILOVER_PIN_ALARM_NAME


def test_automation_knows_the_pin_and_the_fence_group(template: dict[str, Any]) -> None:
    params = make_params(Role.DR, Phase.FULL)
    for function in ("FailoverFunction", "ReadinessFunction"):
        env = active_properties(template, params, function)["Environment"]["Variables"]
        assert env["STREAMFLIX_FAILOVER_PIN_ALARM_NAME"] == {"Ref": "FailoverPinAlarm"}
        fence = active_properties(template, make_params(Role.PRIMARY, Phase.FULL), "DbFenceSecurityGroup")
        assert env["STREAMFLIX_DB_FENCE_SECURITY_GROUP_NAME"] == fence["GroupName"]
    st = _statements(active_properties(template, params, "FailoverFunctionRole"))
    assert _grants(st, "ec2:DescribeSecurityGroups")
