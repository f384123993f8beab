"""RDS PromoteReadReplica link clearing and ReplicaLag on the emulator, through boto3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from streamflix_dr_emulator import (
    dataplane,
    efs_replication,
    elasticache_global,
    rds_replication,
    secrets_replication,
)
from streamflix_dr_emulator.client import DataPlaneClient

PRIMARY = "eu-west-2"
DR = "us-east-1"


# Falls back to a private server when E1's session fixture `emulator_endpoint` is not there.
@pytest.fixture(scope="module")
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    try:
        yield request.getfixturevalue("emulator_endpoint")
        return
    except pytest.FixtureLookupError:
        pass
    for module in (efs_replication, elasticache_global, secrets_replication, rds_replication, dataplane):
        module.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def make_db(endpoint: str, region: str = PRIMARY) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).create_db_instance(
            DBInstanceIdentifier=uid("db"),
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="app",
            MasterUserPassword="password-123",
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
        )["DBInstance"]
    )


def make_replica(endpoint: str, source: dict[str, Any], region: str = DR) -> str:
    replica = uid("replica")
    cross = region != source["DBInstanceArn"].split(":")[3]
    kwargs: dict[str, Any] = {
        "DBInstanceIdentifier": replica,
        "SourceDBInstanceIdentifier": source["DBInstanceArn"] if cross else source["DBInstanceIdentifier"],
    }
    if cross:
        kwargs["SourceRegion"] = PRIMARY
    aws(endpoint, "rds", region).create_db_instance_read_replica(**kwargs)
    return replica


def describe(endpoint: str, region: str, db_id: str) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    )


def test_cross_region_promotion_clears_the_link_on_both_sides(endpoint: str) -> None:
    source = make_db(endpoint)
    replica = make_replica(endpoint, source)
    replica_arn = describe(endpoint, DR, replica)["DBInstanceArn"]
    assert describe(endpoint, PRIMARY, source["DBInstanceIdentifier"])[
        "ReadReplicaDBInstanceIdentifiers"
    ] == [replica_arn]
    assert describe(endpoint, DR, replica)["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]

    promoted = aws(endpoint, "rds", DR).promote_read_replica(
        DBInstanceIdentifier=replica, BackupRetentionPeriod=7
    )
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted["DBInstance"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in describe(endpoint, DR, replica)
    assert (
        describe(endpoint, PRIMARY, source["DBInstanceIdentifier"]).get(
            "ReadReplicaDBInstanceIdentifiers", []
        )
        == []
    )


def test_same_region_promotion_clears_the_link(endpoint: str) -> None:
    source = make_db(endpoint)
    kept, promoted = make_replica(endpoint, source, PRIMARY), make_replica(endpoint, source, PRIMARY)
    aws(endpoint, "rds", PRIMARY).promote_read_replica(DBInstanceIdentifier=promoted)
    assert describe(endpoint, PRIMARY, source["DBInstanceIdentifier"])[
        "ReadReplicaDBInstanceIdentifiers"
    ] == [kept]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in describe(endpoint, PRIMARY, promoted)
    assert (
        describe(endpoint, PRIMARY, kept)["ReadReplicaSourceDBInstanceIdentifier"]
        == source["DBInstanceIdentifier"]
    )


def test_promotion_is_one_way(endpoint: str) -> None:
    replica = make_replica(endpoint, make_db(endpoint))
    rds = aws(endpoint, "rds", DR)
    rds.promote_read_replica(DBInstanceIdentifier=replica)
    with pytest.raises(ClientError) as e:
        rds.promote_read_replica(DBInstanceIdentifier=replica)
    assert error_of(e) == ("InvalidDBInstanceState", 400)


def test_promoting_a_primary_is_refused(endpoint: str) -> None:
    source = make_db(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "rds", PRIMARY).promote_read_replica(
            DBInstanceIdentifier=source["DBInstanceIdentifier"]
        )
    assert error_of(e) == ("InvalidDBInstanceState", 400)
    assert "not a read replica" in str(e.value)


def test_promoting_an_unknown_instance(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "rds", DR).promote_read_replica(DBInstanceIdentifier="no-such-db")
    assert error_of(e) == ("DBInstanceNotFound", 404)


def test_replica_lag_metric_is_published_for_replicas(endpoint: str) -> None:
    replica = make_replica(endpoint, make_db(endpoint))
    DataPlaneClient(endpoint).sync()
    cloudwatch = aws(endpoint, "cloudwatch", DR)
    metrics = cloudwatch.list_metrics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
    )["Metrics"]
    assert len(metrics) == 1
    elsewhere = aws(endpoint, "cloudwatch", PRIMARY).list_metrics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
    )["Metrics"]
    assert elsewhere == []
