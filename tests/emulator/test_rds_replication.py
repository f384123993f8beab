"""RDS PromoteReadReplica link clearing and ReplicaLag on the emulator, through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import rds_replication
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


@pytest.fixture
def phases() -> Iterator[dict[str, float]]:
    """Promotion phases long enough that no test races the real clock; restored afterwards."""
    before = rds_replication.promotion_config()
    yield rds_replication.configure_promotion(modifying_seconds=30, rebooting_seconds=30, backup_seconds=600)
    rds_replication.configure_promotion(**before)


def advance(endpoint: str, seconds: float) -> None:
    DataPlaneClient(endpoint).advance_clock(seconds)


def test_a_new_read_replica_has_no_automated_backups(endpoint: str) -> None:
    replica = make_replica(endpoint, make_db(endpoint))
    assert describe(endpoint, DR, replica)["BackupRetentionPeriod"] == 0


def test_promotion_without_backups_passes_through_backing_up(endpoint: str, phases: dict[str, float]) -> None:
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
    # Replication stopped, the instance is being modified and then rebooted; it still names its source.
    assert promoted["DBInstance"]["DBInstanceStatus"] == "modifying"
    assert describe(endpoint, DR, replica)["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]
    advance(endpoint, phases["modifying_seconds"])
    assert describe(endpoint, DR, replica)["DBInstanceStatus"] == "rebooting"
    advance(endpoint, phases["rebooting_seconds"])
    # After the reboot: standalone, and the first backup runs because backups were off on the replica.
    now = describe(endpoint, DR, replica)
    assert (now["DBInstanceStatus"], now.get("ReadReplicaSourceDBInstanceIdentifier")) == ("backing-up", None)
    assert (
        describe(endpoint, PRIMARY, source["DBInstanceIdentifier"]).get(
            "ReadReplicaDBInstanceIdentifiers", []
        )
        == []
    )
    advance(endpoint, phases["backup_seconds"])
    done = describe(endpoint, DR, replica)
    assert (done["DBInstanceStatus"], done["BackupRetentionPeriod"]) == ("available", 7)


def test_promotion_of_a_replica_with_backups_takes_no_backup(endpoint: str, phases: dict[str, float]) -> None:
    replica = make_replica(endpoint, make_db(endpoint))
    rds = aws(endpoint, "rds", DR)
    # What the CloudFormation handler does after creating a replica with BackupRetentionPeriod.
    rds.modify_db_instance(DBInstanceIdentifier=replica, BackupRetentionPeriod=7, ApplyImmediately=True)
    rds.promote_read_replica(DBInstanceIdentifier=replica, BackupRetentionPeriod=7)
    advance(endpoint, phases["modifying_seconds"] + phases["rebooting_seconds"])
    done = describe(endpoint, DR, replica)
    assert (done["DBInstanceStatus"], done.get("ReadReplicaSourceDBInstanceIdentifier")) == (
        "available",
        None,
    )


def test_a_replica_from_cloudformation_gets_its_backup_retention(
    endpoint: str, stacks: Any, phases: dict[str, float]
) -> None:
    source = make_db(endpoint)
    template = {
        "Resources": {
            "Replica": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "SourceDBInstanceIdentifier": source["DBInstanceArn"],
                    "SourceRegion": PRIMARY,
                    "DBInstanceClass": "db.r6g.large",
                    "BackupRetentionPeriod": 7,
                    "PreferredBackupWindow": "03:00-04:00",
                },
            }
        }
    }
    stack = stacks.create(template, region=DR)
    stacks.assert_status(stack)
    replica = stacks.physical_id(stack["StackName"], "Replica", region=DR)
    assert describe(endpoint, DR, replica)["BackupRetentionPeriod"] == 7
    aws(endpoint, "rds", DR).promote_read_replica(DBInstanceIdentifier=replica, BackupRetentionPeriod=7)
    advance(endpoint, phases["modifying_seconds"] + phases["rebooting_seconds"])
    assert describe(endpoint, DR, replica)["DBInstanceStatus"] == "available"


def test_same_region_promotion_clears_the_link(endpoint: str, phases: dict[str, float]) -> None:
    source = make_db(endpoint)
    kept, promoted = make_replica(endpoint, source, PRIMARY), make_replica(endpoint, source, PRIMARY)
    aws(endpoint, "rds", PRIMARY).promote_read_replica(DBInstanceIdentifier=promoted)
    advance(endpoint, phases["modifying_seconds"] + phases["rebooting_seconds"])
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


def test_modify_swaps_the_security_groups(endpoint: str) -> None:
    db = make_db(endpoint)
    ec2 = aws(endpoint, "ec2", PRIMARY)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    fence = ec2.create_security_group(GroupName=uid("fence"), Description="fence", VpcId=vpc)["GroupId"]
    rds = aws(endpoint, "rds", PRIMARY)
    rds.modify_db_instance(
        DBInstanceIdentifier=db["DBInstanceIdentifier"], VpcSecurityGroupIds=[fence], ApplyImmediately=True
    )
    groups = describe(endpoint, PRIMARY, db["DBInstanceIdentifier"])["VpcSecurityGroups"]
    assert [g["VpcSecurityGroupId"] for g in groups] == [fence]
    with pytest.raises(ClientError) as e:
        rds.modify_db_instance(
            DBInstanceIdentifier=db["DBInstanceIdentifier"], VpcSecurityGroupIds=["sg-0000000000000dead"]
        )
    assert error_of(e) == ("InvalidParameterValue", 400)
    assert "Invalid security group" in str(e.value)


def test_modify_backup_retention_limits(endpoint: str) -> None:
    source = make_db(endpoint)
    replica = make_replica(endpoint, source)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "rds", DR).modify_db_instance(DBInstanceIdentifier=replica, BackupRetentionPeriod=36)
    assert error_of(e) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "rds", PRIMARY).modify_db_instance(
            DBInstanceIdentifier=source["DBInstanceIdentifier"], BackupRetentionPeriod=0
        )
    assert error_of(e) == ("InvalidParameterCombination", 400)


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


def test_patch_moto_gives_plain_moto_the_same_promotion(monkeypatch: pytest.MonkeyPatch) -> None:
    """What unit tests on ``mock_aws`` use instead of a weaker copy of the promotion fix."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from streamflix_dr_emulator import regional_state  # noqa: PLC0415

    rds_replication.patch_moto(monkeypatch)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    phases = rds_replication.promotion_config()
    with mock_aws():
        source = boto3.client("rds", PRIMARY).create_db_instance(
            DBInstanceIdentifier="db1",
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="app",
            MasterUserPassword="password-123",
            AllocatedStorage=20,
        )["DBInstance"]
        rds = boto3.client("rds", DR)
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier="rep1",
            SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion=PRIMARY,
        )
        rds.promote_read_replica(DBInstanceIdentifier="rep1", BackupRetentionPeriod=7)
        regional_state.advance(phases["modifying_seconds"] + phases["rebooting_seconds"])
        db = rds.describe_db_instances(DBInstanceIdentifier="rep1")["DBInstances"][0]
        assert (db["DBInstanceStatus"], db.get("ReadReplicaSourceDBInstanceIdentifier")) == (
            "backing-up",
            None,
        )
        regional_state.advance(phases["backup_seconds"])
        assert (
            rds.describe_db_instances(DBInstanceIdentifier="rep1")["DBInstances"][0]["DBInstanceStatus"]
            == "available"
        )
