"""RDS PromoteReadReplica link clearing and ReplicaLag on the emulator, through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator.client import DataPlaneClient

PRIMARY = "eu-west-2"
DR = "us-east-1"


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
