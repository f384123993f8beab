"""The emulator's clock, region-outage switch, EFS syncs and the replication metrics of the control plane
(``dataplane``). No data lives there any more: the row, file and key endpoints are gone, and the metrics
a product reads are published honestly from control-plane state while the engines are off."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import dataplane, engines, rds_replication
from streamflix_dr_emulator.client import DataPlaneClient, DataPlaneError, RegionUnavailable
from streamflix_dr_emulator.engines import efs_fs, rds_hooks

PRIMARY = "eu-west-2"
DR = "us-east-1"
ACCOUNT = "123456789012"
INTERVAL = 600.0
# Wide enough for every datapoint a test makes, whatever the emulated clock did before.
EVER = {"StartTime": datetime(2000, 1, 1, tzinfo=UTC), "EndTime": datetime(2100, 1, 1, tzinfo=UTC)}


@pytest.fixture
def dp(endpoint: str) -> Iterator[DataPlaneClient]:
    client = DataPlaneClient(endpoint)
    client.configure(efs_sync_interval_seconds=INTERVAL)
    yield client
    # Leave the emulator as found: settings, outages and above all the emulated clock. A clock left ahead
    # of real time puts AWS timestamps in the client's future, which AWS never does.
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


def replica_lag(endpoint: str, region: str, replica: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = aws(endpoint, "cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
        Period=60,
        Statistics=["Maximum", "Minimum", "SampleCount"],
        **EVER,
    )["Datapoints"]
    return points


def time_since_last_sync(endpoint: str, source: str, destination: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = aws(endpoint, "cloudwatch", PRIMARY).get_metric_statistics(
        Namespace="AWS/EFS",
        MetricName="TimeSinceLastSync",
        Dimensions=[
            {"Name": "FileSystemId", "Value": source},
            {"Name": "DestinationFileSystemId", "Value": destination},
        ],
        Period=60,
        Statistics=["Maximum", "SampleCount"],
        **EVER,
    )["Datapoints"]
    return points


def last_replicated(endpoint: str, source: str) -> float | None:
    rep = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)[
        "Replications"
    ][0]["Destinations"][0]
    stamp = rep.get("LastReplicatedTimestamp")
    return None if stamp is None else float(stamp.timestamp())


def samples(points: list[dict[str, Any]]) -> int:
    return int(sum(p["SampleCount"] for p in points))


# --- no data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/rds/{region}/{db}/tables/titles/rows", {"row": {"id": 1}}),
        ("GET", "/rds/{region}/{db}/tables/titles/rows", None),
        ("PUT", "/efs/{region}/{fs}/files/media/a.txt", {"content": "x"}),
        ("GET", "/efs/{region}/{fs}/files", None),
        ("PUT", "/elasticache/{region}/{rg}/keys/k", {"value": "v"}),
    ],
)
def test_there_is_no_row_file_or_key_endpoint(
    endpoint: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Before: each answered 200/201 on an existing resource and kept the data in a dict."""
    db, _ = make_db_pair(endpoint)
    fs, _ = make_fs_pair(endpoint)
    rg = uid("rg")
    aws(endpoint, "elasticache", PRIMARY).create_replication_group(
        ReplicationGroupId=rg,
        ReplicationGroupDescription="t",
        NumCacheClusters=1,
        CacheNodeType="cache.r7g.large",
        Engine="redis",
    )
    url = endpoint + dataplane.PREFIX + path.format(region=PRIMARY, db=db, fs=fs, rg=rg)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 404
    payload = json.loads(e.value.read())
    assert payload["error"] == "NotFound" and "engines" in payload["message"]


def test_the_client_has_no_data_methods() -> None:
    client = DataPlaneClient("http://127.0.0.1:9")
    for name in ("insert_row", "select_rows", "write_file", "read_file", "list_files", "set_key", "get_key"):
        assert not hasattr(client, name), name


# --- region outage ------------------------------------------------------------------------------------


def test_region_outage_fails_the_region_apis_and_spares_global_services(
    endpoint: str, dp: DataPlaneClient
) -> None:
    make_db_pair(endpoint)
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
    # The other region and global services keep answering.
    aws(endpoint, "rds", DR).describe_db_instances()
    aws(endpoint, "route53", PRIMARY).list_hosted_zones()
    dp.restore_region(PRIMARY)
    assert dp.state()["failed_regions"] == []
    aws(endpoint, "rds", PRIMARY).describe_db_instances()


# --- AWS/RDS ReplicaLag (engines off) ---------------------------------------------------------------


def test_replica_lag_is_zero_while_the_source_answers_and_absent_while_it_is_down(
    endpoint: str, dp: DataPlaneClient
) -> None:
    """A replica without an engine has no data, so it lags by nothing; with its source's region down the
    emulator cannot know the lag and publishes nothing (the reader sees the lag as unknown)."""
    _, replica = make_db_pair(endpoint)
    dp.sync()
    points = replica_lag(endpoint, DR, replica)
    assert samples(points) >= 1 and max(p["Maximum"] for p in points) == 0.0
    assert replica_lag(endpoint, PRIMARY, replica) == []  # published in the replica's region only

    dp.fail_region(PRIMARY)
    before = samples(replica_lag(endpoint, DR, replica))
    dp.advance_clock(120)
    dp.sync()
    assert samples(replica_lag(endpoint, DR, replica)) == before

    dp.restore_region(PRIMARY)
    dp.advance_clock(5)
    after = replica_lag(endpoint, DR, replica)
    assert samples(after) > before and max(p["Maximum"] for p in after) == 0.0


def test_an_engine_backed_replica_gets_its_lag_from_the_engine_only(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control plane publishes for the replica without an engine and leaves the other to its engine
    (``rds_hooks``' publisher): two sources would put a made-up 0 next to the real lag."""
    _, with_engine = make_db_pair(endpoint)
    _, without_engine = make_db_pair(endpoint)
    from moto.rds.models import rds_backends  # noqa: PLC0415

    engine_db = rds_backends[ACCOUNT][DR].databases[with_engine]
    original = rds_hooks.engine_of
    monkeypatch.setattr(rds_hooks, "engine_of", lambda db: object() if db is engine_db else original(db))
    published: list[str] = []
    real_publish = rds_replication.publish_replica_lag

    def record(account_id: str, region: str, db_id: str, lag_seconds: float) -> None:
        published.append(db_id)
        real_publish(account_id, region, db_id, lag_seconds)

    monkeypatch.setattr(rds_replication, "publish_replica_lag", record)
    dataplane.pump(force=True)
    assert without_engine in published
    assert with_engine not in published


# --- AWS/EFS TimeSinceLastSync and LastReplicatedTimestamp (engines off) ---------------------------


def test_time_since_last_sync_grows_between_syncs_and_syncs_follow_the_interval(
    endpoint: str, dp: DataPlaneClient
) -> None:
    source, dest = make_fs_pair(endpoint)
    assert last_replicated(endpoint, source) is None
    assert time_since_last_sync(endpoint, source, dest) == []  # no sync yet: nothing to measure from

    dp.sync()
    synced = last_replicated(endpoint, source)
    assert synced is not None
    dp.advance_clock(INTERVAL / 2)
    assert last_replicated(endpoint, source) == pytest.approx(synced, abs=0.01)  # not due yet
    points = time_since_last_sync(endpoint, source, dest)
    assert max(p["Maximum"] for p in points) >= INTERVAL / 2

    dp.advance_clock(INTERVAL / 2 + 1)
    # The scheduled sync completed at its due instant, one interval after the last.
    assert last_replicated(endpoint, source) == pytest.approx(synced + INTERVAL, abs=0.01)


def test_a_sync_due_during_an_outage_completes_when_the_region_answers_again(
    endpoint: str, dp: DataPlaneClient
) -> None:
    """Before: on the region's return the sync was dated at its due instant, inside the outage."""
    source, dest = make_fs_pair(endpoint)
    dp.sync()
    synced = last_replicated(endpoint, source)
    assert synced is not None
    dp.fail_region(DR)  # the destination: the source region (and its CloudWatch) still answers
    dp.advance_clock(2 * INTERVAL + 100)
    assert last_replicated(endpoint, source) == pytest.approx(synced, abs=0.01)  # no sync while down
    points = time_since_last_sync(endpoint, source, dest)
    assert max(p["Maximum"] for p in points) >= 2 * INTERVAL + 100
    restored = dp.state()["now"]
    dp.restore_region(DR)
    after = last_replicated(endpoint, source)
    assert after is not None and after >= restored


def stored_time_since_last_sync(source: str) -> int:
    """Datapoints the source region's CloudWatch holds (read in-process: its API answers 503 while down)."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    return len(
        [
            d
            for d in list(cloudwatch_backends[ACCOUNT][PRIMARY].metric_data)
            if d.name == "TimeSinceLastSync" and any(dim.value == source for dim in d.dimensions)
        ]
    )


def test_no_time_since_last_sync_while_the_source_region_is_down(endpoint: str, dp: DataPlaneClient) -> None:
    """The metric lives in the source region's CloudWatch, which is down with it."""
    source, _ = make_fs_pair(endpoint)
    dp.sync()
    dp.fail_region(PRIMARY)
    before = stored_time_since_last_sync(source)
    assert before >= 1
    dp.advance_clock(INTERVAL + 60)
    dp.sync()
    assert stored_time_since_last_sync(source) == before
    dp.restore_region(PRIMARY)
    dp.advance_clock(5)
    assert stored_time_since_last_sync(source) > before


def test_syncs_due_before_a_deletion_complete_before_it(endpoint: str, dp: DataPlaneClient) -> None:
    """The last sync of a deleted configuration is the last one that fell due, not an older one."""
    from streamflix_dr_emulator import efs_replication  # noqa: PLC0415

    source, _ = make_fs_pair(endpoint)
    dp.sync()
    synced = last_replicated(endpoint, source)
    assert synced is not None
    dataplane.regional_state.advance(INTERVAL + 10)  # time passes; nothing reads or pumps
    rep = efs_replication.delete_replication(ACCOUNT, PRIMARY, source)
    assert rep.last_replicated == pytest.approx(synced + INTERVAL, abs=0.01)


# --- EFS syncs with the directory engine ---------------------------------------------------------------


@pytest.fixture
def directories(dp: DataPlaneClient) -> Iterator[DataPlaneClient]:
    """Engines on for one test: file systems get directories (no server is started)."""
    engines.enable(True)
    try:
        yield dp
    finally:
        engines.shutdown_all()
        engines.enable(False)


def test_sync_with_engines_copies_the_files_and_the_metric_follows_the_engine(
    endpoint: str, directories: DataPlaneClient
) -> None:
    dp = directories
    source, dest = make_fs_pair(endpoint)
    efs_fs.write_file(ACCOUNT, PRIMARY, source, "media/a.txt", "A")
    dp.sync()
    assert efs_fs.list_files(ACCOUNT, DR, dest) == {"media/a.txt": "A"}
    status = efs_fs.status(ACCOUNT, source)
    assert status is not None and status.last_sync_at is not None
    assert last_replicated(endpoint, source) == pytest.approx(status.last_sync_at, abs=0.01)
    efs_fs.write_file(ACCOUNT, PRIMARY, source, "media/b.txt", "B")
    dp.advance_clock(INTERVAL / 2)
    # Between the engine's syncs the metric grows from the engine's last sync; the file waits for the next.
    assert max(p["Maximum"] for p in time_since_last_sync(endpoint, source, dest)) >= INTERVAL / 2
    assert efs_fs.list_files(ACCOUNT, DR, dest) == {"media/a.txt": "A"}


# --- settings, clock, client ----------------------------------------------------------------------


def test_the_sync_interval_is_the_engines_and_lags_are_not_settings(dp: DataPlaneClient) -> None:
    assert dp.configure(efs_sync_interval_seconds=120) == {"efs_sync_interval_seconds": 120.0}
    assert efs_fs.configure()["sync_interval_seconds"] == 120.0
    assert dp.state()["config"] == {"efs_sync_interval_seconds": 120.0}
    for bad in ({"replication_lag_seconds": 1}, {"cache_replication_lag_seconds": 1}):
        with pytest.raises(DataPlaneError) as e:
            dp.configure(**bad)
        assert e.value.status == 400 and next(iter(bad)) in str(e.value)
    with pytest.raises(DataPlaneError) as e:
        dp.configure(efs_sync_interval_seconds=0)
    assert e.value.status == 400
    dp.reset()
    assert dp.state()["config"] == {"efs_sync_interval_seconds": efs_fs.DEFAULT_SYNC_INTERVAL_SECONDS}


def test_clock_moves_forward_only(dp: DataPlaneClient) -> None:
    before = dp.state()["now"]
    assert dp.advance_clock(100) >= before + 100
    with pytest.raises(DataPlaneError) as e:
        dp.advance_clock(-1)
    assert "-1" in str(e.value) and e.value.status == 400


def test_bad_endpoints_are_rejected() -> None:
    with pytest.raises(DataPlaneError):
        DataPlaneClient("127.0.0.1:5000")
    with pytest.raises(RegionUnavailable) as e:
        DataPlaneClient("http://127.0.0.1:9", timeout=2).state()
    assert e.value.code == "ConnectionError"
