"""A DR region that is ready, built in moto, plus an EFS fake (moto has no EFS replication API)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.readiness.core import ReadinessTarget

PRIMARY = "eu-west-2"
DR = "us-east-1"
NOW = datetime.now(UTC)


class FakeEfs:
    """describe_replication_configurations as the EFS API reference shows it for a destination."""

    def __init__(self, status: str = "ENABLED", sync_age: float | None = 30.0, exists: bool = True) -> None:
        self.status = status
        self.sync_age = sync_age
        self.exists = exists

    def describe_replication_configurations(self, FileSystemId: str) -> dict[str, Any]:
        if not self.exists:
            raise ClientError(
                {"Error": {"Code": "ReplicationNotFound", "Message": "none"}},
                "DescribeReplicationConfigurations",
            )
        dest: dict[str, Any] = {"FileSystemId": FileSystemId, "Status": self.status, "Region": DR}
        if self.sync_age is not None:
            dest["LastReplicatedTimestamp"] = NOW - timedelta(seconds=self.sync_age)
        return {"Replications": [{"SourceFileSystemId": "fs-primary", "Destinations": [dest]}]}


class Factory:
    def __init__(self, real: ClientFactory, efs: FakeEfs) -> None:
        self.real = real
        self.efs = efs

    def client(self, service: str, region: str) -> Any:
        return self.efs if service == "efs" else self.real.client(service, region)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Factory, ReadinessTarget]]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DR,
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        f = ClientFactory()
        rds_p = f.client("rds", PRIMARY)
        arn = rds_p.create_db_instance(
            DBInstanceIdentifier="db",
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="app",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
        )["DBInstance"]["DBInstanceArn"]
        f.client("rds", DR).create_db_instance_read_replica(
            DBInstanceIdentifier="db-replica", SourceDBInstanceIdentifier=arn, SourceRegion=PRIMARY
        )
        f.client("cloudwatch", DR).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Value": 2.0,
                    "Unit": "Seconds",
                    "Timestamp": NOW - timedelta(minutes=1),
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "db-replica"}],
                }
            ],
        )
        sm = f.client("secretsmanager", PRIMARY)
        sm.create_secret(Name="streamflix/test/db", SecretString="{}", AddReplicaRegions=[{"Region": DR}])
        key = f.client("kms", DR).create_key()["KeyMetadata"]["Arn"]
        ecr = f.client("ecr", DR)
        ecr.create_repository(repositoryName="streamflix-test")
        ecr.put_image(
            repositoryName="streamflix-test",
            imageTag="v1",
            imageManifest=json.dumps(
                {
                    "schemaVersion": 2,
                    "layers": [],
                    "config": {"digest": "sha256:1"},
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                }
            ),
        )
        ecs = f.client("ecs", DR)
        ecs.create_cluster(clusterName="c")
        ecs.register_task_definition(
            family="app", containerDefinitions=[{"name": "app", "image": "x", "memory": 512}]
        )
        ecs.create_service(cluster="c", serviceName="app", taskDefinition="app", desiredCount=1)
        # moto reports running tasks only after an update (AWS: once tasks start)
        ecs.update_service(cluster="c", service="app", desiredCount=1)
        cw = f.client("cloudwatch", DR)
        cw.put_metric_alarm(
            AlarmName="primary-health",
            MetricName="HealthCheckStatus",
            Namespace="AWS/Route53",
            Statistic="Minimum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
        )
        iam = f.client("iam", DR)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = f.client("stepfunctions", DR).create_state_machine(
            name="failover", definition="{}", roleArn=role
        )
        f.client("lambda", DR).create_function(
            FunctionName="failover-fn",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )
        f.client("dynamodb", DR).create_table(
            TableName="journal",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        target = ReadinessTarget(
            region=DR,
            primary_region=PRIMARY,
            suffix="test",
            db_instance_id="db-replica",
            file_system_id="fs-dr",
            secret_names=("streamflix/test/db",),
            kms_key_arn=key,
            ecr_repository="streamflix-test",
            image_tag="v1",
            ecs_cluster="c",
            ecs_service="app",
            warm_count=1,
            alarm_names=("primary-health",),
            state_machine_arn=sfn["stateMachineArn"],
            function_names=("failover-fn",),
            journal_table="journal",
        )
        yield Factory(f, FakeEfs()), target
