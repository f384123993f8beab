"""Which resources and outputs each (role, phase) stack has, and the properties DR depends on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamflix_dr.config import load_environment
from streamflix_dr.constants import OUTPUTS_BY_ROLE, Output, Param, Phase, Role, StepId
from streamflix_dr.runbook import topology
from streamflix_dr.template_model import (
    active_outputs,
    active_properties,
    active_resources,
    check_parameter_values,
)

from .conftest import COMBINATIONS, GDS_ID, HEALTH_CHECK_ID, PIN_ALARM, PRIMARY_DB_ARN, make_params


def _params_names() -> list[str]:
    return [v for k, v in vars(Param).items() if k.isupper()]


def test_every_param_constant_is_a_template_parameter(template: dict[str, Any]) -> None:
    missing = sorted(set(_params_names()) - set(template["Parameters"]))
    assert missing == []


def test_every_template_parameter_is_a_param_constant(template: dict[str, Any]) -> None:
    assert sorted(set(template["Parameters"]) - set(_params_names())) == []


def test_environment_suffix_constraint(template: dict[str, Any]) -> None:
    spec = template["Parameters"][Param.ENVIRONMENT_SUFFIX]
    assert spec["AllowedPattern"] == "^[a-z0-9]{1,10}$"
    assert spec["MaxLength"] == 10


@pytest.mark.parametrize(("role", "phase"), COMBINATIONS)
@pytest.mark.parametrize("gds", [False, True], ids=["gds-off", "gds-on"])
def test_required_outputs_exist(template: dict[str, Any], role: Role, phase: Phase, gds: bool) -> None:
    outputs = active_outputs(template, make_params(role, phase, gds=gds))
    missing = sorted(set(OUTPUTS_BY_ROLE[(role, phase)]) - set(outputs))
    assert missing == []


@pytest.mark.parametrize(("role", "phase"), COMBINATIONS)
def test_deployer_parameters_pass_constraints(template: dict[str, Any], role: Role, phase: Phase) -> None:
    assert check_parameter_values(template, make_params(role, phase)) == []


def test_only_minimal_parameters_are_needed_for_dr_base(template: dict[str, Any]) -> None:
    minimal = {k: v for k, v in make_params(Role.DR, Phase.BASE).items() if k != Param.PEER_REGION}
    assert check_parameter_values(template, minimal) == []


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        pytest.param(Param.PRIMARY_DB_ARN, ["PrimaryDbArn", "DbInstanceArn"], id="no-primary-db-arn"),
        pytest.param(
            Param.PRIMARY_HEALTH_CHECK_ID, ["PrimaryHealthCheckId", "HealthCheckId"], id="no-health-check"
        ),
    ],
)
def test_dr_full_refuses_missing_primary_values(
    template: dict[str, Any], missing: str, words: list[str]
) -> None:
    params = make_params(Role.DR, Phase.FULL)
    del params[missing]
    problems = check_parameter_values(template, params)
    assert any(all(w in p for w in words) for p in problems), problems


def test_primary_with_phase_base_is_refused(template: dict[str, Any]) -> None:
    problems = check_parameter_values(template, make_params(Role.PRIMARY, Phase.BASE))
    assert any("Phase=full" in p for p in problems), problems


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        pytest.param(
            {Param.ENVIRONMENT_SUFFIX: "dev-01"}, ["EnvironmentSuffix", "'dev-01'"], id="suffix-hyphen"
        ),
        pytest.param(
            {Param.PUBLIC_SUBNET_CIDRS: "10.10.0.0/24,10.10.1.0/24"},
            ["PublicSubnetCidrs", "exactly 3"],
            id="two-public-subnets",
        ),
        pytest.param(
            {Param.VPC_CIDR: "10.10.0.0/8"}, ["VpcCidr", "'10.10.0.0/8'", "/16 to /24"], id="vpc-too-big"
        ),
        pytest.param({Param.NAT_GATEWAY_COUNT: "2"}, ["NatGatewayCount", "'2'"], id="two-nats"),
    ],
)
def test_template_refuses_bad_parameter_values(
    template: dict[str, Any], bad: dict[str, str], words: list[str]
) -> None:
    problems = check_parameter_values(template, make_params(Role.DR, Phase.BASE, **bad))
    assert any(all(w in p for w in words) for p in problems), problems


# ----------------------------------------------------------------------------- presence per role and phase

PRESENCE = [
    # logical id, dr-base, primary-full, dr-full
    ("DbInstance", False, True, False),
    ("DbReplica", False, False, True),
    ("DbSecret", False, True, False),
    ("RedisAuthSecret", False, True, False),
    ("RedisLocalAuthSecret", True, False, True),
    ("RedisReplicationGroup", True, True, True),
    ("RedisSecondaryReplicationGroup", False, False, False),
    ("GlobalDatastore", False, False, False),
    ("Trail", False, True, False),
    ("TrailBucket", False, True, False),
    ("EcrReplication", False, True, False),
    ("BackupPlan", False, True, False),
    ("HealthCheck", False, True, False),
    ("FailoverStateMachine", False, False, True),
    ("FailoverFunction", False, False, True),
    ("ReadinessFunction", False, False, True),
    ("PrimaryHealthAlarm", False, False, True),
    ("FailoverTriggerRule", False, False, True),
    ("DbReplicaLagAlarm", False, False, True),
    ("ScalableTarget", False, True, True),
    ("NatGateway2", False, True, False),
    ("FileSystem", True, True, True),
    ("BackupVault", True, True, True),
    ("JournalTable", True, True, True),
    ("EcrRepository", True, True, True),
    ("AccessLogsBucketEmptier", True, True, True),
    ("PrimaryRecord", False, False, False),
    ("SecondaryRecord", False, False, False),
]


@pytest.mark.parametrize(
    ("logical_id", "dr_base", "primary", "dr_full"), PRESENCE, ids=[p[0] for p in PRESENCE]
)
def test_resource_presence_with_defaults(
    template: dict[str, Any], logical_id: str, dr_base: bool, primary: bool, dr_full: bool
) -> None:
    assert logical_id in template["Resources"]
    got = tuple(
        logical_id in active_resources(template, make_params(role, phase))
        for role, phase in ((Role.DR, Phase.BASE), (Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL))
    )
    assert got == (dr_base, primary, dr_full)


GDS_PRESENCE = [
    ("GlobalDatastore", False, True, False),
    ("RedisReplicationGroup", False, True, False),
    ("RedisSecondaryReplicationGroup", False, False, True),
    ("RedisLocalAuthSecret", False, False, False),
]


@pytest.mark.parametrize(
    ("logical_id", "dr_base", "primary", "dr_full"), GDS_PRESENCE, ids=[p[0] for p in GDS_PRESENCE]
)
def test_resource_presence_with_global_datastore(
    template: dict[str, Any], logical_id: str, dr_base: bool, primary: bool, dr_full: bool
) -> None:
    got = tuple(
        logical_id in active_resources(template, make_params(role, phase, gds=True))
        for role, phase in ((Role.DR, Phase.BASE), (Role.PRIMARY, Phase.FULL), (Role.DR, Phase.FULL))
    )
    assert got == (dr_base, primary, dr_full)


def test_dns_records_when_zone_and_domain_given(template: dict[str, Any]) -> None:
    dns = {
        Param.HOSTED_ZONE_ID: "Z0123456789ABC",
        Param.DOMAIN_NAME: "watch.example.com",
        Param.CERTIFICATE_ARN: "arn:aws:acm:eu-west-2:123456789012:certificate/abc-123",
    }
    primary = active_properties(template, make_params(Role.PRIMARY, Phase.FULL, **dns), "PrimaryRecord")
    assert primary["Failover"] == "PRIMARY"
    # Never the plain HTTPS check: the CALCULATED one (that check AND the DR failover pin).
    assert primary["HealthCheckId"] == {"Ref": "PrimaryRoutingHealthCheck"}
    assert primary["AliasTarget"]["EvaluateTargetHealth"] is True
    secondary = active_properties(template, make_params(Role.DR, Phase.FULL, **dns), "SecondaryRecord")
    assert secondary["Failover"] == "SECONDARY"
    assert secondary["Name"] == primary["Name"] == "watch.example.com"
    assert "SecondaryRecord" not in active_resources(template, make_params(Role.DR, Phase.BASE, **dns))


def test_nat_gateways_follow_count_in_dr(template: dict[str, Any]) -> None:
    one = active_resources(template, make_params(Role.DR, Phase.FULL))
    three = active_resources(template, make_params(Role.DR, Phase.FULL, NatGatewayCount="3"))
    assert {"NatGateway1"} == {k for k in one if k.startswith("NatGateway")}
    assert {"NatGateway1", "NatGateway2", "NatGateway3"} == {k for k in three if k.startswith("NatGateway")}


# ----------------------------------------------------------------------------- properties


def test_primary_db_is_multi_az_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    p = make_params(Role.PRIMARY, Phase.FULL)
    db = active_properties(template, p, "DbInstance")
    assert db["MultiAZ"] is True
    assert db["StorageEncrypted"] is True
    assert db["KmsKeyId"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}
    assert db["BackupRetentionPeriod"] == "7"
    assert db["DeleteAutomatedBackups"] is True
    assert db["DeletionProtection"] is False
    protected = active_properties(
        template, make_params(Role.PRIMARY, Phase.FULL, DbDeletionProtection="true"), "DbInstance"
    )
    assert protected["DeletionProtection"] is True
    assert db["EnablePerformanceInsights"] is True and "PerformanceInsightsKMSKeyId" in db
    assert set(db["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert db["MasterUserPassword"] == "{{resolve:secretsmanager:${DbSecret}:SecretString:password}}"
    assert "ManageMasterUserPassword" not in db
    group = active_properties(template, p, "DbParameterGroup")
    assert group["Parameters"]["rds.force_ssl"] == "1"
    assert group["Family"] == "postgres16"
    assert template["Parameters"]["DbEngineVersion"]["Default"].startswith("16.")


def test_replica_is_a_cross_region_encrypted_read_replica(template: dict[str, Any]) -> None:
    replica = active_properties(template, make_params(Role.DR, Phase.FULL), "DbReplica")
    assert replica["SourceDBInstanceIdentifier"] == PRIMARY_DB_ARN
    assert replica["SourceRegion"] == "eu-west-2"
    assert replica["KmsKeyId"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}
    assert replica["MultiAZ"] is True
    for own in ("DBSubnetGroupName", "VPCSecurityGroups", "DBParameterGroupName"):
        assert own in replica
    # Backups on the replica (the handler applies them after create), so promotion takes none.
    assert replica["BackupRetentionPeriod"] == "7"
    assert replica["PreferredBackupWindow"] == "02:00-03:00"
    for forbidden in (
        "MasterUsername",
        "MasterUserPassword",
        "StorageEncrypted",
        "Engine",
        "DBName",
        "CharacterSetName",
    ):
        assert forbidden not in replica
    assert template["Resources"]["DbReplica"]["DeletionPolicy"] == "Delete"


def test_db_secrets_replicate_to_the_dr_key_only_when_given(template: dict[str, Any]) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012"
    with_key = make_params(Role.PRIMARY, Phase.FULL, DrKmsKeyArn=key)
    for secret in ("DbSecret", "RedisAuthSecret"):
        props = active_properties(template, with_key, secret)
        assert props["ReplicaRegions"] == [{"Region": "us-east-1", "KmsKeyId": key}]
        assert props["GenerateSecretString"]["ExcludePunctuation"] is True
        assert "ReplicaRegions" not in active_properties(
            template, make_params(Role.PRIMARY, Phase.FULL), secret
        )


def test_efs_replicates_into_the_dr_file_system(template: dict[str, Any]) -> None:
    fs = active_properties(
        template, make_params(Role.PRIMARY, Phase.FULL, DrFileSystemId="fs-0123456789abcdef0"), "FileSystem"
    )
    assert fs["ReplicationConfiguration"] == {
        "Destinations": [{"Region": "us-east-1", "FileSystemId": "fs-0123456789abcdef0"}]
    }
    assert fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "ENABLED"
    assert fs["Encrypted"] is True and fs["ThroughputMode"] == "elastic"
    assert fs["BackupPolicy"] == {"Status": "DISABLED"}
    assert all(len(p) == 1 for p in fs["LifecyclePolicies"])
    deny = fs["FileSystemPolicy"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    no_dr = active_properties(template, make_params(Role.PRIMARY, Phase.FULL), "FileSystem")
    assert "ReplicationConfiguration" not in no_dr


def test_dr_file_system_accepts_replication(template: dict[str, Any]) -> None:
    fs = active_properties(template, make_params(Role.DR, Phase.BASE), "FileSystem")
    assert fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "DISABLED"
    assert "ReplicationConfiguration" not in fs


@pytest.mark.parametrize(("role", "phase"), COMBINATIONS)
def test_redis_is_encrypted_with_auth(template: dict[str, Any], role: Role, phase: Phase) -> None:
    rg = active_properties(template, make_params(role, phase), "RedisReplicationGroup")
    assert rg["AtRestEncryptionEnabled"] is True and "KmsKeyId" in rg
    assert rg["TransitEncryptionEnabled"] is True and rg["TransitEncryptionMode"] == "required"
    assert rg["AuthToken"].startswith("{{resolve:secretsmanager:${Redis")
    assert rg["MultiAZEnabled"] is True and rg["AutomaticFailoverEnabled"] is True
    assert rg["NumCacheClusters"] == 2
    assert int(rg["SnapshotRetentionLimit"]) > 0


def test_global_datastore_secondary(template: dict[str, Any]) -> None:
    gds = active_properties(template, make_params(Role.PRIMARY, Phase.FULL, gds=True), "GlobalDatastore")
    assert gds["Members"][0]["Role"] == "PRIMARY"
    sec = active_properties(
        template, make_params(Role.DR, Phase.FULL, gds=True), "RedisSecondaryReplicationGroup"
    )
    assert sec["GlobalReplicationGroupId"] == GDS_ID
    # Inherited from the Global Datastore; AWS answers InvalidParameterCombination when a secondary sets them.
    inherited = {
        "AtRestEncryptionEnabled",
        "TransitEncryptionEnabled",
        "TransitEncryptionMode",
        "Engine",
        "EngineVersion",
        "CacheNodeType",
        "CacheParameterGroupName",
        "MultiAZEnabled",
        "AutomaticFailoverEnabled",
    }
    assert sorted(inherited & set(sec)) == []
    assert sec["KmsKeyId"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}
    # The global group's primary carries what the secondary inherits.
    primary = active_properties(
        template, make_params(Role.PRIMARY, Phase.FULL, gds=True), "RedisReplicationGroup"
    )
    assert primary["AtRestEncryptionEnabled"] is True and primary["TransitEncryptionMode"] == "required"


@pytest.mark.parametrize(
    ("role", "phase", "expected"),
    [
        pytest.param(Role.DR, Phase.BASE, 0, id="dr-base-no-tasks"),
        pytest.param(Role.PRIMARY, Phase.FULL, "2", id="primary-desired"),
        pytest.param(Role.DR, Phase.FULL, "2", id="dr-full-desired"),
    ],
)
def test_ecs_desired_count(template: dict[str, Any], role: Role, phase: Phase, expected: object) -> None:
    svc = active_properties(template, make_params(role, phase), "EcsService")
    assert svc["DesiredCount"] == expected
    # Without the image in the region's repository no task asks for it.
    no_image = make_params(role, phase, AppImageAvailable="false")
    assert active_properties(template, no_image, "EcsService")["DesiredCount"] == 0
    assert svc["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert set(template["Resources"]["EcsService"]["DependsOn"]) == {"HttpListener", "ListenerReady"}


def test_task_definition_health_check_efs_and_secrets(template: dict[str, Any]) -> None:
    td = active_properties(template, make_params(Role.DR, Phase.FULL), "TaskDefinition")
    container = td["ContainerDefinitions"][0]
    assert "/health" in container["HealthCheck"]["Command"][1]
    efs = td["Volumes"][0]["EFSVolumeConfiguration"]
    assert efs["TransitEncryption"] == "ENABLED" and efs["AuthorizationConfig"]["IAM"] == "ENABLED"
    secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    # In the DR region the DB secret is the primary's replica, referenced by name.
    assert secrets["DB_SECRET"] == "streamflix-db-abcdefghij"
    assert ":${ImageTag}" in container["Image"] or container["Image"].endswith(":1.0.0")


def test_target_group_and_health_check(template: dict[str, Any]) -> None:
    tg = active_properties(template, make_params(Role.PRIMARY, Phase.FULL), "TargetGroup")
    assert tg["HealthCheckPath"] == "/health"
    hc = active_properties(template, make_params(Role.PRIMARY, Phase.FULL), "HealthCheck")
    assert hc["HealthCheckConfig"]["Type"] == "HTTP" and hc["HealthCheckConfig"]["ResourcePath"] == "/health"
    cert = "arn:aws:acm:eu-west-2:123456789012:certificate/abc-123"
    hcs = active_properties(
        template, make_params(Role.PRIMARY, Phase.FULL, CertificateArn=cert), "HealthCheck"
    )
    assert hcs["HealthCheckConfig"]["Type"] == "HTTPS" and hcs["HealthCheckConfig"]["EnableSNI"] is True


def test_https_listener_and_redirect_with_certificate(template: dict[str, Any]) -> None:
    cert = "arn:aws:acm:eu-west-2:123456789012:certificate/abc-123"
    p = make_params(Role.PRIMARY, Phase.FULL, CertificateArn=cert)
    https = active_properties(template, p, "HttpsListener")
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    http = active_properties(template, p, "HttpListener")
    assert http["DefaultActions"][0]["Type"] == "redirect"
    assert "HttpsListener" not in active_resources(template, make_params(Role.PRIMARY, Phase.FULL))


def test_backup_plan_copies_to_dr_vault(template: dict[str, Any]) -> None:
    vault = "arn:aws:backup:us-east-1:123456789012:backup-vault:streamflix-vault-abcdefghij"
    plan = active_properties(
        template, make_params(Role.PRIMARY, Phase.FULL, DrBackupVaultArn=vault), "BackupPlan"
    )
    rule = plan["BackupPlan"]["BackupPlanRule"][0]
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"] == vault
    sel = active_properties(template, make_params(Role.PRIMARY, Phase.FULL), "BackupSelection")
    assert any(":db:${DbInstance}" in r for r in sel["BackupSelection"]["Resources"] if isinstance(r, str))


def test_journal_table(template: dict[str, Any]) -> None:
    t = active_properties(template, make_params(Role.DR, Phase.BASE), "JournalTable")
    assert t["TableName"] == "streamflix-dr-journal-abcdefghij"
    assert t["BillingMode"] == "PAY_PER_REQUEST"
    assert t["SSESpecification"]["SSEType"] == "KMS"
    assert t["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert t["DeletionProtectionEnabled"] is False


def test_failover_automation_wiring(template: dict[str, Any]) -> None:
    p = make_params(Role.DR, Phase.FULL)
    fn = active_properties(template, p, "FailoverFunction")
    assert fn["Handler"] == "streamflix_dr.automation.handler.failover_step"
    assert fn["Runtime"] == "python3.12" and fn["Timeout"] == 900
    env = fn["Environment"]["Variables"]
    for name in (
        "STREAMFLIX_PRIMARY_REGION",
        "STREAMFLIX_DR_REGION",
        "STREAMFLIX_SUFFIX",
        "STREAMFLIX_JOURNAL_TABLE",
        "STREAMFLIX_DB_INSTANCE_ID",
        "STREAMFLIX_PRIMARY_DB_ARN",
        "STREAMFLIX_FILE_SYSTEM_ID",
        "STREAMFLIX_GLOBAL_DATASTORE_ID",
        "STREAMFLIX_REDIS_GROUP_ID",
        "STREAMFLIX_ECS_CLUSTER",
        "STREAMFLIX_ECS_SERVICE",
        "STREAMFLIX_FAILOVER_DESIRED_COUNT",
        "STREAMFLIX_DB_SECRET_NAME",
        "STREAMFLIX_REDIS_SECRET_NAME",
        "STREAMFLIX_HOSTED_ZONE_ID",
        "STREAMFLIX_DOMAIN_NAME",
    ):
        assert name in env
    assert (
        env["STREAMFLIX_PRIMARY_REGION"] == "eu-west-2" and env["STREAMFLIX_PRIMARY_DB_ARN"] == PRIMARY_DB_ARN
    )
    readiness = active_properties(template, p, "ReadinessFunction")
    assert readiness["Handler"] == "streamflix_dr.automation.handler.readiness"
    schedule = active_properties(template, p, "ReadinessSchedule")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    alarm = active_properties(template, p, "PrimaryHealthAlarm")
    assert alarm["Namespace"] == "AWS/Route53" and alarm["MetricName"] == "HealthCheckStatus"
    assert alarm["Dimensions"] == [{"Name": "HealthCheckId", "Value": HEALTH_CHECK_ID}]
    rule = active_properties(template, p, "FailoverTriggerRule")
    assert rule["EventPattern"]["detail"]["state"]["value"] == ["ALARM"]
    assert rule["EventPattern"]["detail"]["alarmName"] == [{"Ref": "PrimaryHealthAlarm"}]


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    props = active_properties(template, make_params(Role.DR, Phase.FULL), "FailoverStateMachine")
    text = props["DefinitionString"]
    for placeholder in ("${FailoverFunction.Arn}", "${AlarmTopic}"):
        text = text.replace(placeholder, "arn:placeholder")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_state_machine_runs_every_step_in_order(template: dict[str, Any]) -> None:
    d = _definition(template)
    states = d["States"]
    assert states["Settings"]["Result"]["approvalRequired"] == "true"
    assert states["RequestApproval"]["Resource"].endswith(":states:::sns:publish.waitForTaskToken")
    assert states["FencePrimary"]["Parameters"]["Payload"]["step"] == StepId.FENCE_PRIMARY
    assert states["FencePrimary"]["Next"] == "FailoverData"
    parallel = {
        b["States"][b["StartAt"]]["Parameters"]["Payload"]["step"] for b in states["FailoverData"]["Branches"]
    }
    assert parallel == {
        StepId.PROMOTE_DB,
        StepId.FAILOVER_EFS,
        StepId.FAILOVER_REDIS,
        StepId.STOP_SECRET_REPLICATION,
        StepId.SCALE_ECS,
    }
    assert states["FailoverData"]["Next"] == "SwitchDns"
    assert states["SwitchDns"]["Parameters"]["Payload"]["step"] == StepId.SWITCH_DNS
    assert states["SwitchDns"]["Next"] == "VerifyServing"
    assert states["VerifyServing"]["Parameters"]["Payload"]["step"] == StepId.VERIFY_SERVING
    tasks = [s for s in states.values() if s.get("Resource", "").endswith(":states:::lambda:invoke")]
    tasks += [b["States"][b["StartAt"]] for b in states["FailoverData"]["Branches"]]
    assert len(tasks) == 8
    for task in tasks:
        assert "Lambda.TooManyRequestsException" in task["Retry"][0]["ErrorEquals"]


def test_no_approval_gate_when_not_required(template: dict[str, Any]) -> None:
    props = active_properties(
        template, make_params(Role.DR, Phase.FULL, FailoverApprovalRequired="false"), "FailoverStateMachine"
    )
    assert '"approvalRequired": "false"' in props["DefinitionString"]


def test_outputs_name_the_right_resources(template: dict[str, Any]) -> None:
    outs = active_outputs(template, make_params(Role.PRIMARY, Phase.FULL, gds=True))
    assert outs[Output.GLOBAL_DATASTORE_ID]["Value"] == {"Ref": "GlobalDatastore"}
    assert outs[Output.HEALTH_CHECK_ID]["Value"] == {"Ref": "HealthCheck"}


@pytest.mark.parametrize("env_name", ["dev", "prod"])
@pytest.mark.parametrize(("role", "phase"), COMBINATIONS)
def test_shipped_environments_produce_valid_parameters(
    template: dict[str, Any], env_name: str, role: Role, phase: Phase
) -> None:
    env = load_environment(env_name)
    peer: dict[str, str] = {}
    if role is Role.PRIMARY:
        # The DR base stack's FailoverPinAlarmName output (required with DNS).
        peer = {Param.DR_FAILOVER_PIN_ALARM_NAME: PIN_ALARM}
    if role is Role.DR and phase is Phase.FULL:
        peer = {Param.PRIMARY_DB_ARN: PRIMARY_DB_ARN, Param.PRIMARY_HEALTH_CHECK_ID: HEALTH_CHECK_ID}
        if env.global_datastore:
            peer[Param.GLOBAL_DATASTORE_ID] = GDS_ID
    params = env.template_parameters(role, phase, peer)
    assert check_parameter_values(template, params) == []
    region = env.region_of(role).region
    outputs = active_outputs(template, {**params, "AWS::Region": region})
    assert sorted(set(OUTPUTS_BY_ROLE[(role, phase)]) - set(outputs)) == []


def test_failover_function_sets_every_variable_the_runbook_reads(template: dict[str, Any]) -> None:
    wanted = {v for k, v in vars(topology).items() if k.startswith("ENV_") and isinstance(v, str)}
    env = active_properties(template, make_params(Role.DR, Phase.FULL), "FailoverFunction")["Environment"]
    assert sorted(wanted - set(env["Variables"])) == []
