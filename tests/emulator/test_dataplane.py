"""Data-plane semantics: read-only replicas and destinations, replication lag, EFS RPO, region outages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import (
    dataplane,
)
from streamflix_dr_emulator.client import (
    DataNotFound,
    DataPlaneClient,
    DataPlaneError,
    ReadOnlyError,
    RegionUnavailable,
)

PRIMARY = "eu-west-2"
DR = "us-east-1"


LAG = 30.0
INTERVAL = 600.0


@pytest.fixture
def dp(endpoint: str) -> Iterator[DataPlaneClient]:
    client = DataPlaneClient(endpoint)
    client.configure(
        replication_lag_seconds=LAG, efs_sync_interval_seconds=INTERVAL, cache_replication_lag_seconds=LAG
    )
    yield client
    # Leave the emulator as found: data-plane settings, outages and above all the emulated clock. A clock
    # left ahead of real time puts AWS timestamps in the client's future, which AWS never does.
    client.reset()


def make_db_pair(endpoint: str) -> tuple[str, str]:
    db = uid("db")
    created = aws(endpoint, "rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier=db,
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        MasterUsername="app",
        MasterUserPassword="password-123",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )["DBInstance"]
    replica = uid("replica")
    aws(endpoint, "rds", DR).create_db_instance_read_replica(
        DBInstanceIdentifier=replica,
        SourceDBInstanceIdentifier=created["DBInstanceArn"],
        SourceRegion=PRIMARY,
    )
    return db, replica


def make_fs_pair(endpoint: str) -> tuple[str, str]:
    source = aws(endpoint, "efs", PRIMARY).create_file_system(CreationToken=uid("t"))["FileSystemId"]
    created = aws(endpoint, "efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": DR}]
    )
    return str(source), str(created["Destinations"][0]["FileSystemId"])


def make_rg(endpoint: str, region: str, global_id: str | None = None) -> str:
    rg = uid("rg")
    kwargs: dict[str, Any] = {
        "ReplicationGroupId": rg,
        "ReplicationGroupDescription": "t",
        "NumCacheClusters": 2,
    }
    if global_id:
        kwargs["GlobalReplicationGroupId"] = global_id
    else:
        kwargs.update(CacheNodeType="cache.r7g.large", Engine="redis", EngineVersion="7.1")
    aws(endpoint, "elasticache", region).create_replication_group(**kwargs)
    return rg


def make_cache_pair(endpoint: str) -> tuple[str, str, str]:
    primary = make_rg(endpoint, PRIMARY)
    global_id = aws(endpoint, "elasticache", PRIMARY).create_global_replication_group(
        GlobalReplicationGroupIdSuffix=uid("g"), PrimaryReplicationGroupId=primary
    )["GlobalReplicationGroup"]["GlobalReplicationGroupId"]
    return str(global_id), primary, make_rg(endpoint, DR, global_id)


# --- RDS rows -------------------------------------------------------------------------------------


def test_replica_is_read_only_like_postgres(endpoint: str, dp: DataPlaneClient) -> None:
    _, replica = make_db_pair(endpoint)
    with pytest.raises(ReadOnlyError) as e:
        dp.insert_row(DR, replica, "titles", {"id": 1})
    assert "cannot execute INSERT in a read-only transaction" in str(e.value)
    assert e.value.status == 409


def test_replica_sees_rows_after_the_replication_lag(endpoint: str, dp: DataPlaneClient) -> None:
    db, replica = make_db_pair(endpoint)
    dp.insert_row(PRIMARY, db, "titles", {"id": 1, "name": "Heat"})
    assert dp.select_rows(PRIMARY, db, "titles") == [{"id": 1, "name": "Heat"}]
    assert dp.select_rows(DR, replica, "titles") == []
    dp.advance_clock(LAG + 1)
    assert dp.select_rows(DR, replica, "titles") == [{"id": 1, "name": "Heat"}]
    assert dp.select_rows(DR, replica, "other") == []


def test_replica_lag_metric_reflects_unapplied_rows(endpoint: str, dp: DataPlaneClient) -> None:
    db, replica = make_db_pair(endpoint)
    dp.insert_row(PRIMARY, db, "titles", {"id": 1})
    dp.advance_clock(LAG / 2)
    dp.select_rows(DR, replica, "titles")
    stats = aws(endpoint, "cloudwatch", DR).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
        StartTime=dataplane.regional_state.now_datetime().replace(year=2000),
        EndTime=dataplane.regional_state.now_datetime().replace(year=2100),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert stats
    assert max(d["Maximum"] for d in stats) >= LAG / 2


def test_promotion_keeps_applied_rows_loses_the_rest_and_becomes_writable(
    endpoint: str, dp: DataPlaneClient
) -> None:
    db, replica = make_db_pair(endpoint)
    dp.insert_row(PRIMARY, db, "titles", {"id": 1})
    dp.advance_clock(LAG + 1)
    dp.insert_row(PRIMARY, db, "titles", {"id": 2})  # still in flight when the primary fails
    dp.fail_region(PRIMARY)
    dp.advance_clock(LAG + 1)  # the source is gone: nothing more arrives
    aws(endpoint, "rds", DR).promote_read_replica(DBInstanceIdentifier=replica)
    dp.insert_row(DR, replica, "titles", {"id": 3})
    assert dp.select_rows(DR, replica, "titles") == [{"id": 1}, {"id": 3}]


def test_sync_applies_everything_now(endpoint: str, dp: DataPlaneClient) -> None:
    db, replica = make_db_pair(endpoint)
    dp.insert_row(PRIMARY, db, "t", {"id": 1})
    dp.sync()
    assert dp.select_rows(DR, replica, "t") == [{"id": 1}]


# --- EFS files ------------------------------------------------------------------------------------


def test_destination_refuses_writes_with_erofs(endpoint: str, dp: DataPlaneClient) -> None:
    _, dest = make_fs_pair(endpoint)
    with pytest.raises(ReadOnlyError) as e:
        dp.write_file(DR, dest, "media/a.txt", "x")
    assert "EROFS" in str(e.value)


def test_file_system_with_protection_disabled_is_read_only(endpoint: str, dp: DataPlaneClient) -> None:
    fs = aws(endpoint, "efs", DR).create_file_system(CreationToken=uid("t"))["FileSystemId"]
    dp.write_file(DR, fs, "before.txt", "ok")
    aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=fs, ReplicationOverwriteProtection="DISABLED"
    )
    with pytest.raises(ReadOnlyError):
        dp.write_file(DR, fs, "after.txt", "no")


def test_files_arrive_at_sync_instants(endpoint: str, dp: DataPlaneClient) -> None:
    source, dest = make_fs_pair(endpoint)
    dp.write_file(PRIMARY, source, "media/a.txt", "A")
    assert dp.read_file(PRIMARY, source, "media/a.txt") == "A"
    assert dp.list_files(DR, dest) == {}
    dp.advance_clock(INTERVAL + 1)
    assert dp.list_files(DR, dest) == {"media/a.txt": "A"}
    replication = aws(endpoint, "efs", DR).describe_replication_configurations(FileSystemId=dest)[
        "Replications"
    ][0]
    assert "LastReplicatedTimestamp" in replication["Destinations"][0]


def test_unsynced_files_are_lost_on_failover_rpo(endpoint: str, dp: DataPlaneClient) -> None:
    source, dest = make_fs_pair(endpoint)
    dp.write_file(PRIMARY, source, "synced.txt", "1")
    dp.sync()
    dp.write_file(PRIMARY, source, "unsynced.txt", "2")
    dp.fail_region(PRIMARY)
    dp.advance_clock(INTERVAL * 2)  # the source region is down: no more syncs
    aws(endpoint, "efs", DR).delete_replication_configuration(SourceFileSystemId=dest)
    assert dp.list_files(DR, dest) == {"synced.txt": "1"}
    with pytest.raises(DataNotFound):
        dp.read_file(DR, dest, "unsynced.txt")
    dp.write_file(DR, dest, "written-in-dr.txt", "3")  # writable after the configuration is gone
    assert dp.read_file(DR, dest, "written-in-dr.txt") == "3"


def test_files_deleted_at_source_disappear_at_destination_on_sync(endpoint: str, dp: DataPlaneClient) -> None:
    source, dest = make_fs_pair(endpoint)
    dp.write_file(PRIMARY, source, "a.txt", "1")
    dp.sync()
    dp.write_file(PRIMARY, source, "a.txt", "2")
    dp.sync()
    assert dp.read_file(DR, dest, "a.txt") == "2"


# --- ElastiCache keys -----------------------------------------------------------------------------


def test_without_global_datastore_the_dr_cache_is_empty(endpoint: str, dp: DataPlaneClient) -> None:
    primary, dr = make_rg(endpoint, PRIMARY), make_rg(endpoint, DR)
    dp.set_key(PRIMARY, primary, "session:1", "alice")
    dp.sync()
    assert dp.get_key(PRIMARY, primary, "session:1") == "alice"
    assert dp.get_key(DR, dr, "session:1") is None


def test_global_secondary_is_read_only_and_receives_keys(endpoint: str, dp: DataPlaneClient) -> None:
    _, primary, secondary = make_cache_pair(endpoint)
    dp.set_key(PRIMARY, primary, "session:1", "alice")
    with pytest.raises(ReadOnlyError) as e:
        dp.set_key(DR, secondary, "session:2", "bob")
    assert "READONLY" in str(e.value)
    assert dp.get_key(DR, secondary, "session:1") is None
    dp.advance_clock(LAG + 1)
    assert dp.get_key(DR, secondary, "session:1") == "alice"


def test_cache_failover_makes_the_secondary_writable(endpoint: str, dp: DataPlaneClient) -> None:
    global_id, primary, secondary = make_cache_pair(endpoint)
    dp.set_key(PRIMARY, primary, "k", "v1")
    dp.sync()
    aws(endpoint, "elasticache", DR).failover_global_replication_group(
        GlobalReplicationGroupId=global_id, PrimaryRegion=DR, PrimaryReplicationGroupId=secondary
    )
    dp.set_key(DR, secondary, "k", "v2")
    with pytest.raises(ReadOnlyError):
        dp.set_key(PRIMARY, primary, "k", "v3")
    dp.sync()
    assert dp.get_key(PRIMARY, primary, "k") == "v2"


# --- region outage --------------------------------------------------------------------------------


def test_region_outage_fails_aws_apis_and_data_plane(endpoint: str, dp: DataPlaneClient) -> None:
    db, _ = make_db_pair(endpoint)
    dp.fail_region(PRIMARY)
    assert dp.state()["failed_regions"] == [PRIMARY]
    for service, call in (
        ("rds", lambda c: c.describe_db_instances()),
        ("efs", lambda c: c.describe_file_systems()),
        ("elasticache", lambda c: c.describe_replication_groups()),
        ("secretsmanager", lambda c: c.list_secrets()),
        ("cloudformation", lambda c: c.describe_stacks()),
    ):
        with pytest.raises(ClientError) as e:
            call(aws(endpoint, service, PRIMARY))
        assert error_of(e) == ("ServiceUnavailable", 503), service
    with pytest.raises(RegionUnavailable):
        dp.insert_row(PRIMARY, db, "t", {"id": 1})
    # The other region and global services keep answering.
    aws(endpoint, "rds", DR).describe_db_instances()
    aws(endpoint, "route53", PRIMARY).list_hosted_zones()
    dp.restore_region(PRIMARY)
    aws(endpoint, "rds", PRIMARY).describe_db_instances()
    dp.insert_row(PRIMARY, db, "t", {"id": 1})


def test_outage_of_the_source_stops_replication(endpoint: str, dp: DataPlaneClient) -> None:
    _, primary, secondary = make_cache_pair(endpoint)
    dp.set_key(PRIMARY, primary, "k", "v")
    dp.fail_region(PRIMARY)
    dp.sync()
    assert dp.get_key(DR, secondary, "k") is None
    dp.restore_region(PRIMARY)
    dp.sync()
    assert dp.get_key(DR, secondary, "k") == "v"


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_resources_are_not_found(dp: DataPlaneClient) -> None:
    with pytest.raises(DataNotFound):
        dp.insert_row(PRIMARY, "no-such-db", "t", {"id": 1})
    with pytest.raises(DataNotFound):
        dp.write_file(PRIMARY, "fs-00000000", "a.txt", "x")
    with pytest.raises(DataNotFound):
        dp.get_key(PRIMARY, "no-such-rg", "k")


def test_bad_arguments_are_rejected(endpoint: str, dp: DataPlaneClient) -> None:
    with pytest.raises(DataPlaneError) as e:
        dp.configure(replication_lag=1)
    assert "replication_lag" in str(e.value)
    with pytest.raises(DataPlaneError) as e:
        dp.configure(efs_sync_interval_seconds=0)
    assert e.value.status == 400
    with pytest.raises(DataPlaneError) as e:
        dp.advance_clock(-1)
    assert "-1" in str(e.value)
    source, _ = make_fs_pair(endpoint)
    with pytest.raises(DataPlaneError) as e:
        dp.write_file(PRIMARY, source, "../escape.txt", "x")
    assert "escape" in str(e.value)
    with pytest.raises(DataPlaneError):
        DataPlaneClient("127.0.0.1:5000")


def test_unreachable_emulator_is_region_unavailable() -> None:
    with pytest.raises(RegionUnavailable) as e:
        DataPlaneClient("http://127.0.0.1:9", timeout=2).state()
    assert e.value.code == "ConnectionError"


def test_clock_and_config_round_trip(dp: DataPlaneClient) -> None:
    before = dp.state()
    after = dp.advance_clock(100)
    assert after >= before["now"] + 100
    assert dp.state()["config"]["replication_lag_seconds"] == LAG


def test_cache_failback_resyncs_the_old_primary(endpoint: str, dp: DataPlaneClient) -> None:
    global_id, primary, secondary = make_cache_pair(endpoint)
    ec = aws(endpoint, "elasticache", DR)
    dp.set_key(PRIMARY, primary, "a", "1")
    dp.sync()
    ec.failover_global_replication_group(
        GlobalReplicationGroupId=global_id, PrimaryRegion=DR, PrimaryReplicationGroupId=secondary
    )
    dp.set_key(DR, secondary, "b", "2")
    dp.sync()
    ec.failover_global_replication_group(
        GlobalReplicationGroupId=global_id, PrimaryRegion=PRIMARY, PrimaryReplicationGroupId=primary
    )
    dp.set_key(PRIMARY, primary, "c", "3")
    dp.sync()
    assert [dp.get_key(DR, secondary, k) for k in ("a", "b", "c")] == ["1", "2", "3"]
