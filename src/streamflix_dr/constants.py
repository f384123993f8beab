"""Names that code relies on: template parameters, outputs, stack names, regions.

Every output and parameter name the package reads or passes lives here, and
``tests/unit/test_constants_template.py`` checks them against the template, so a
rename in one place without the other fails the tests.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

APPLICATION: Final = "streamflix"
PRIMARY_REGION: Final = "eu-west-2"
DR_REGION: Final = "us-east-1"
MAIN_TEMPLATE: Final = "streamflix-dr.yaml"

# CloudFormation accepts at most 51,200 bytes as TemplateBody; larger bodies go through S3 (TemplateURL).
TEMPLATE_BODY_LIMIT: Final = 51_200


class Role(StrEnum):
    """The part a region plays."""

    PRIMARY = "primary"
    DR = "dr"


class Phase(StrEnum):
    """Deploy phase: ``base`` for the DR region before the primary exists, ``full`` otherwise."""

    BASE = "base"
    FULL = "full"


def stack_name(role: Role | str, suffix: str) -> str:
    """The stack name of a role for an environment suffix (``streamflix-dr-primary-<suffix>``)."""
    return f"{APPLICATION}-dr-{Role(role).value}-{suffix}"


class Param:
    """Template parameter names."""

    ENVIRONMENT_SUFFIX: Final = "EnvironmentSuffix"
    ENVIRONMENT: Final = "Environment"
    APPLICATION: Final = "Application"
    COST_CENTER: Final = "CostCenter"
    ROLE: Final = "Role"
    PHASE: Final = "Phase"
    PEER_REGION: Final = "PeerRegion"
    VPC_CIDR: Final = "VpcCidr"
    PUBLIC_SUBNET_CIDRS: Final = "PublicSubnetCidrs"
    PRIVATE_SUBNET_CIDRS: Final = "PrivateSubnetCidrs"
    ISOLATED_SUBNET_CIDRS: Final = "IsolatedSubnetCidrs"
    NAT_GATEWAY_COUNT: Final = "NatGatewayCount"
    DB_INSTANCE_CLASS: Final = "DbInstanceClass"
    DB_ALLOCATED_STORAGE: Final = "DbAllocatedStorage"
    DB_ENGINE_VERSION: Final = "DbEngineVersion"
    DB_BACKUP_RETENTION_DAYS: Final = "DbBackupRetentionDays"
    DB_DELETION_PROTECTION: Final = "DbDeletionProtection"
    DB_MASTER_USERNAME: Final = "DbMasterUsername"
    DB_MONITORING_INTERVAL: Final = "DbMonitoringInterval"
    PRIMARY_DB_ARN: Final = "PrimaryDbArn"
    DR_FILE_SYSTEM_ID: Final = "DrFileSystemId"
    DR_KMS_KEY_ARN: Final = "DrKmsKeyArn"
    DR_BACKUP_VAULT_ARN: Final = "DrBackupVaultArn"
    # Primary only, required with DNS: the DR stack's FailoverPinAlarmName output (the DNS pin's alarm).
    DR_FAILOVER_PIN_ALARM_NAME: Final = "DrFailoverPinAlarmName"
    EFS_REPLICATION_OVERWRITE_PROTECTION: Final = "EfsReplicationOverwriteProtection"
    REDIS_NODE_TYPE: Final = "RedisNodeType"
    REDIS_ENGINE_VERSION: Final = "RedisEngineVersion"
    REDIS_SNAPSHOT_RETENTION_DAYS: Final = "RedisSnapshotRetentionDays"
    ENABLE_GLOBAL_DATASTORE: Final = "EnableGlobalDatastore"
    GLOBAL_DATASTORE_ID: Final = "GlobalDatastoreId"
    IMAGE_TAG: Final = "ImageTag"
    # 'true' only when ImageTag is in BOTH regions' repositories (deploy checks ecr:DescribeImages); while
    # 'false' the service has DesiredCount 0 and its scalable target Min=Max=0.
    APP_IMAGE_AVAILABLE: Final = "AppImageAvailable"
    CONTAINER_PORT: Final = "ContainerPort"
    TASK_CPU: Final = "TaskCpu"
    TASK_MEMORY: Final = "TaskMemory"
    DESIRED_COUNT: Final = "DesiredCount"
    MIN_CAPACITY: Final = "MinCapacity"
    MAX_CAPACITY: Final = "MaxCapacity"
    FAILOVER_DESIRED_COUNT: Final = "FailoverDesiredCount"
    CERTIFICATE_ARN: Final = "CertificateArn"
    HOSTED_ZONE_ID: Final = "HostedZoneId"
    DOMAIN_NAME: Final = "DomainName"
    PRIMARY_HEALTH_CHECK_ID: Final = "PrimaryHealthCheckId"
    ALARM_EMAIL: Final = "AlarmEmail"
    LOG_RETENTION_DAYS: Final = "LogRetentionDays"
    BACKUP_RETENTION_DAYS: Final = "BackupRetentionDays"
    FAILOVER_APPROVAL_REQUIRED: Final = "FailoverApprovalRequired"
    ARTIFACT_BUCKET: Final = "ArtifactBucket"
    AUTOMATION_CODE_KEY: Final = "AutomationCodeKey"


class Output:
    """Stack output names that the CLI reads. Which role exports which is in ``OUTPUTS_BY_ROLE``."""

    VPC_ID: Final = "VpcId"
    KMS_KEY_ARN: Final = "KmsKeyArn"
    DB_INSTANCE_IDENTIFIER: Final = "DbInstanceIdentifier"
    DB_INSTANCE_ARN: Final = "DbInstanceArn"
    DB_ENDPOINT_ADDRESS: Final = "DbEndpointAddress"
    DB_SECRET_NAME: Final = "DbSecretName"
    REDIS_AUTH_SECRET_NAME: Final = "RedisAuthSecretName"
    FILE_SYSTEM_ID: Final = "FileSystemId"
    ACCESS_POINT_ID: Final = "AccessPointId"
    REDIS_REPLICATION_GROUP_ID: Final = "RedisReplicationGroupId"
    REDIS_PRIMARY_ENDPOINT: Final = "RedisPrimaryEndpoint"
    GLOBAL_DATASTORE_ID: Final = "GlobalDatastoreId"
    ECS_CLUSTER_NAME: Final = "EcsClusterName"
    ECS_SERVICE_NAME: Final = "EcsServiceName"
    LOAD_BALANCER_DNS_NAME: Final = "LoadBalancerDnsName"
    TARGET_GROUP_ARN: Final = "TargetGroupArn"
    ECR_REPOSITORY_NAME: Final = "EcrRepositoryName"
    BACKUP_VAULT_NAME: Final = "BackupVaultName"
    BACKUP_VAULT_ARN: Final = "BackupVaultArn"
    ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
    CLOUDTRAIL_BUCKET_NAME: Final = "CloudTrailBucketName"
    ACCESS_LOGS_BUCKET_NAME: Final = "AccessLogsBucketName"
    HEALTH_CHECK_ID: Final = "HealthCheckId"
    DASHBOARD_NAME: Final = "DashboardName"
    FAILOVER_STATE_MACHINE_ARN: Final = "FailoverStateMachineArn"
    APP_URL: Final = "AppUrl"
    JOURNAL_TABLE_NAME: Final = "JournalTableName"
    FAILOVER_FUNCTION_NAME: Final = "FailoverFunctionName"
    READINESS_FUNCTION_NAME: Final = "ReadinessFunctionName"
    PRIMARY_HEALTH_ALARM_NAME: Final = "PrimaryHealthAlarmName"
    # DR stack, every phase: the alarm on StreamFlixDR/FailoverPin (Environment=<suffix>) in the DR region.
    # Failing over puts 1 (the primary's failover record turns unhealthy), failing back puts 0.
    FAILOVER_PIN_ALARM_NAME: Final = "FailoverPinAlarmName"
    # Primary: the no-ingress security group the fence swaps onto the old primary DB.
    DB_FENCE_SECURITY_GROUP_ID: Final = "DbFenceSecurityGroupId"
    # Primary with DNS: the CALCULATED check (HealthCheck AND the pin) that the PRIMARY record uses.
    PRIMARY_ROUTING_HEALTH_CHECK_ID: Final = "PrimaryRoutingHealthCheckId"


# Which stack output feeds which parameter of the next stack operation (deploy passes them; the orchestrator
# reads this table). (source role, output) -> parameter of the other role's stack.
PEER_PARAMETERS: Final[dict[tuple[Role, str], str]] = {
    (Role.DR, Output.FILE_SYSTEM_ID): Param.DR_FILE_SYSTEM_ID,
    (Role.DR, Output.KMS_KEY_ARN): Param.DR_KMS_KEY_ARN,
    (Role.DR, Output.BACKUP_VAULT_ARN): Param.DR_BACKUP_VAULT_ARN,
    (Role.DR, Output.FAILOVER_PIN_ALARM_NAME): Param.DR_FAILOVER_PIN_ALARM_NAME,
    (Role.PRIMARY, Output.DB_INSTANCE_ARN): Param.PRIMARY_DB_ARN,
    (Role.PRIMARY, Output.HEALTH_CHECK_ID): Param.PRIMARY_HEALTH_CHECK_ID,
    (Role.PRIMARY, Output.GLOBAL_DATASTORE_ID): Param.GLOBAL_DATASTORE_ID,
}


_COMMON_OUTPUTS: Final = (
    Output.VPC_ID,
    Output.KMS_KEY_ARN,
    Output.FILE_SYSTEM_ID,
    Output.ACCESS_POINT_ID,
    Output.REDIS_REPLICATION_GROUP_ID,
    Output.ECS_CLUSTER_NAME,
    Output.ECS_SERVICE_NAME,
    Output.LOAD_BALANCER_DNS_NAME,
    Output.TARGET_GROUP_ARN,
    Output.ECR_REPOSITORY_NAME,
    Output.BACKUP_VAULT_NAME,
    Output.BACKUP_VAULT_ARN,
    Output.ALARM_TOPIC_ARN,
    Output.ACCESS_LOGS_BUCKET_NAME,
    Output.DASHBOARD_NAME,
    Output.APP_URL,
    Output.DB_SECRET_NAME,
    Output.REDIS_AUTH_SECRET_NAME,
    Output.JOURNAL_TABLE_NAME,
)

# (role, phase) -> the outputs that must exist unconditionally in that stack.
# Conditional ones (GlobalDatastoreId, HealthCheckId) are checked by the code that needs them.
OUTPUTS_BY_ROLE: Final[dict[tuple[Role, Phase], tuple[str, ...]]] = {
    (Role.DR, Phase.BASE): (*_COMMON_OUTPUTS, Output.FAILOVER_PIN_ALARM_NAME),
    (Role.PRIMARY, Phase.FULL): (
        *_COMMON_OUTPUTS,
        Output.DB_FENCE_SECURITY_GROUP_ID,
        Output.DB_INSTANCE_IDENTIFIER,
        Output.DB_INSTANCE_ARN,
        Output.DB_ENDPOINT_ADDRESS,
        Output.REDIS_PRIMARY_ENDPOINT,
        Output.CLOUDTRAIL_BUCKET_NAME,
        Output.HEALTH_CHECK_ID,
    ),
    (Role.DR, Phase.FULL): (
        *_COMMON_OUTPUTS,
        Output.DB_INSTANCE_IDENTIFIER,
        Output.DB_INSTANCE_ARN,
        Output.DB_ENDPOINT_ADDRESS,
        Output.REDIS_PRIMARY_ENDPOINT,
        Output.FAILOVER_STATE_MACHINE_ARN,
        Output.FAILOVER_FUNCTION_NAME,
        Output.READINESS_FUNCTION_NAME,
        Output.PRIMARY_HEALTH_ALARM_NAME,
        Output.FAILOVER_PIN_ALARM_NAME,
    ),
}


class StepId(StrEnum):
    """Failover runbook steps. The CLI runner and the in-cloud state machine use the same ids."""

    FENCE_PRIMARY = "fence-primary"
    PROMOTE_DB = "promote-db"
    FAILOVER_EFS = "failover-efs"
    FAILOVER_REDIS = "failover-redis"
    STOP_SECRET_REPLICATION = "stop-secret-replication"
    SCALE_ECS = "scale-ecs"
    SWITCH_DNS = "switch-dns"
    VERIFY_SERVING = "verify-serving"
