"""EFS replication API on the emulator, through boto3 (AWS API reference: elasticfilesystem).

The control plane is tested with engines off; where a test needs files, the file systems are real
directories (``engines.efs_fs``, engines on for that test only: directories start no server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import (
    efs_replication,
    engines,
)
from streamflix_dr_emulator.client import DataPlaneClient
from streamflix_dr_emulator.engines import efs_fs

PRIMARY = "eu-west-2"
DR = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def directories(endpoint: str) -> Iterator[str]:
    """Engines on: file systems created in the test get directories (the EFS engine)."""
    engines.enable(True)
    try:
        yield endpoint
    finally:
        engines.shutdown_all()
        engines.enable(False)


def make_fs(endpoint: str, region: str, *, encrypted: bool = False) -> str:
    return str(
        aws(endpoint, "efs", region).create_file_system(CreationToken=uid("tok"), Encrypted=encrypted)[
            "FileSystemId"
        ]
    )


def protection(endpoint: str, region: str, fs_id: str) -> str:
    fs = aws(endpoint, "efs", region).describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    return str(fs["FileSystemProtection"]["ReplicationOverwriteProtection"])


def replicate_to_existing(endpoint: str) -> tuple[str, str]:
    source, dest = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=dest, ReplicationOverwriteProtection="DISABLED"
    )
    aws(endpoint, "efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": DR, "FileSystemId": dest}]
    )
    return source, dest


def test_new_file_system_has_protection_enabled(endpoint: str) -> None:
    assert protection(endpoint, DR, make_fs(endpoint, DR)) == "ENABLED"


def test_update_protection_returns_and_persists_value(endpoint: str) -> None:
    fs = make_fs(endpoint, DR)
    result = aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=fs, ReplicationOverwriteProtection="DISABLED"
    )
    assert result["ReplicationOverwriteProtection"] == "DISABLED"
    assert protection(endpoint, DR, fs) == "DISABLED"


def test_update_protection_rejects_unknown_value(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).update_file_system_protection(
            FileSystemId=make_fs(endpoint, DR), ReplicationOverwriteProtection="REPLICATING"
        )
    assert error_of(e) == ("BadRequest", 400)


def test_update_protection_unknown_file_system(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).update_file_system_protection(
            FileSystemId="fs-00000000", ReplicationOverwriteProtection="DISABLED"
        )
    assert error_of(e) == ("FileSystemNotFound", 404)


def test_replicate_to_existing_destination(endpoint: str) -> None:
    source, dest = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=dest, ReplicationOverwriteProtection="DISABLED"
    )
    created = aws(endpoint, "efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": DR, "FileSystemId": dest}]
    )
    assert created["SourceFileSystemId"] == source
    assert created["SourceFileSystemRegion"] == PRIMARY
    assert created["Destinations"][0]["FileSystemId"] == dest
    assert created["Destinations"][0]["Region"] == DR
    assert created["Destinations"][0]["Status"] == "ENABLED"
    assert created["SourceFileSystemArn"].endswith(f":file-system/{source}")
    # Readable from either side, each in its own region.
    from_source = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)
    from_dest = aws(endpoint, "efs", DR).describe_replication_configurations(FileSystemId=dest)
    assert from_source["Replications"][0]["Destinations"][0]["FileSystemId"] == dest
    assert from_dest["Replications"][0]["SourceFileSystemId"] == source
    assert protection(endpoint, DR, dest) == "REPLICATING"
    assert protection(endpoint, PRIMARY, source) == "ENABLED"


def test_replicate_to_new_destination_creates_it(endpoint: str) -> None:
    source = make_fs(endpoint, PRIMARY, encrypted=True)
    created = aws(endpoint, "efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": DR}]
    )
    dest = created["Destinations"][0]["FileSystemId"]
    described = aws(endpoint, "efs", DR).describe_file_systems(FileSystemId=dest)["FileSystems"][0]
    assert described["Encrypted"] is True
    assert described["FileSystemProtection"]["ReplicationOverwriteProtection"] == "REPLICATING"


def test_destination_with_protection_enabled_is_refused(endpoint: str) -> None:
    source, dest = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).create_replication_configuration(
            SourceFileSystemId=source, Destinations=[{"Region": DR, "FileSystemId": dest}]
        )
    assert error_of(e) == ("ConflictException", 409)
    assert "DISABLED" in str(e.value)


def test_encrypted_source_to_unencrypted_destination_is_refused(endpoint: str) -> None:
    source, dest = make_fs(endpoint, PRIMARY, encrypted=True), make_fs(endpoint, DR)
    aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=dest, ReplicationOverwriteProtection="DISABLED"
    )
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).create_replication_configuration(
            SourceFileSystemId=source, Destinations=[{"Region": DR, "FileSystemId": dest}]
        )
    assert error_of(e) == ("ConflictException", 409)


def test_a_file_system_is_in_one_configuration_only(endpoint: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    efs = aws(endpoint, "efs", PRIMARY)
    with pytest.raises(ClientError) as e:
        efs.create_replication_configuration(SourceFileSystemId=source, Destinations=[{"Region": DR}])
    assert error_of(e) == ("ReplicationAlreadyExists", 409)
    # The destination cannot be a source either.
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).create_replication_configuration(
            SourceFileSystemId=dest, Destinations=[{"Region": PRIMARY}]
        )
    assert error_of(e) == ("ReplicationAlreadyExists", 409)


@pytest.mark.parametrize(
    ("destinations", "field"),
    [
        pytest.param([{"Region": DR}, {"Region": "us-west-2"}], "Destinations", id="two-destinations"),
        pytest.param([{"Region": "mars-north-1"}], "Region", id="unknown-region"),
        pytest.param([{"KmsKeyId": "alias/x"}], "Region", id="no-region"),
        pytest.param(
            [{"Region": DR, "FileSystemId": "fs-0", "KmsKeyId": "alias/x"}],
            "KmsKeyId",
            id="kms-with-existing",
        ),
    ],
)
def test_create_rejects_bad_destinations(
    endpoint: str, destinations: list[dict[str, str]], field: str
) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).create_replication_configuration(
            SourceFileSystemId=make_fs(endpoint, PRIMARY), Destinations=destinations
        )
    assert error_of(e) == ("BadRequest", 400)
    assert field in str(e.value)


def test_create_unknown_source(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).create_replication_configuration(
            SourceFileSystemId="fs-00000000", Destinations=[{"Region": DR}]
        )
    assert error_of(e) == ("FileSystemNotFound", 404)


def test_create_unknown_destination(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).create_replication_configuration(
            SourceFileSystemId=make_fs(endpoint, PRIMARY),
            Destinations=[{"Region": DR, "FileSystemId": "fs-00000000"}],
        )
    assert error_of(e) == ("FileSystemNotFound", 404)


def test_describe_errors(endpoint: str) -> None:
    efs = aws(endpoint, "efs", PRIMARY)
    with pytest.raises(ClientError) as e:
        efs.describe_replication_configurations(FileSystemId="fs-00000000")
    assert error_of(e) == ("FileSystemNotFound", 404)
    with pytest.raises(ClientError) as e:
        efs.describe_replication_configurations(FileSystemId=make_fs(endpoint, PRIMARY))
    assert error_of(e) == ("ReplicationNotFound", 404)


def test_source_id_is_not_visible_from_destination_region(endpoint: str) -> None:
    source, _ = replicate_to_existing(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).describe_replication_configurations(FileSystemId=source)
    assert error_of(e) == ("FileSystemNotFound", 404)


def test_describe_all_lists_configurations_touching_the_region(endpoint: str) -> None:
    source, _ = replicate_to_existing(endpoint)
    for region in (PRIMARY, DR):
        listed = aws(endpoint, "efs", region).describe_replication_configurations()["Replications"]
        assert source in {r["SourceFileSystemId"] for r in listed}
    elsewhere = aws(endpoint, "efs", "ap-southeast-2").describe_replication_configurations()["Replications"]
    assert source not in {r["SourceFileSystemId"] for r in elsewhere}


@pytest.mark.parametrize("side", ["source", "destination"])
def test_delete_from_either_side(endpoint: str, side: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    region, fs = (PRIMARY, source) if side == "source" else (DR, dest)
    aws(endpoint, "efs", region).delete_replication_configuration(SourceFileSystemId=fs)
    # The destination becomes writable and its protection is re-enabled (API reference).
    assert protection(endpoint, DR, dest) == "ENABLED"
    for r, f in ((PRIMARY, source), (DR, dest)):
        with pytest.raises(ClientError) as e:
            aws(endpoint, "efs", r).describe_replication_configurations(FileSystemId=f)
        assert error_of(e) == ("ReplicationNotFound", 404)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", region).delete_replication_configuration(SourceFileSystemId=fs)
    assert error_of(e) == ("ReplicationNotFound", 404)


def test_delete_unknown_file_system(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).delete_replication_configuration(SourceFileSystemId="fs-00000000")
    assert error_of(e) == ("FileSystemNotFound", 404)


def test_file_systems_in_a_configuration_cannot_be_deleted(endpoint: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    for region, fs in ((PRIMARY, source), (DR, dest)):
        with pytest.raises(ClientError) as e:
            aws(endpoint, "efs", region).delete_file_system(FileSystemId=fs)
        assert error_of(e) == ("FileSystemInUse", 409)
    aws(endpoint, "efs", PRIMARY).delete_replication_configuration(SourceFileSystemId=source)
    aws(endpoint, "efs", DR).delete_file_system(FileSystemId=dest)
    aws(endpoint, "efs", PRIMARY).delete_file_system(FileSystemId=source)


def test_protection_cannot_change_on_a_destination(endpoint: str) -> None:
    _, dest = replicate_to_existing(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).update_file_system_protection(
            FileSystemId=dest, ReplicationOverwriteProtection="ENABLED"
        )
    assert error_of(e) == ("ReplicationAlreadyExists", 409)
    assert protection(endpoint, DR, dest) == "REPLICATING"


def test_sync_sets_last_replicated_and_publishes_time_since_last_sync(endpoint: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    before = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)
    assert "LastReplicatedTimestamp" not in before["Replications"][0]["Destinations"][0]
    DataPlaneClient(endpoint).sync()
    after = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)
    assert "LastReplicatedTimestamp" in after["Replications"][0]["Destinations"][0]
    metrics = aws(endpoint, "cloudwatch", PRIMARY).list_metrics(
        Namespace="AWS/EFS",
        MetricName="TimeSinceLastSync",
        Dimensions=[{"Name": "FileSystemId", "Value": source}],
    )["Metrics"]
    assert len(metrics) == 1, metrics
    assert {"Name": "DestinationFileSystemId", "Value": dest} in metrics[0]["Dimensions"]


def test_python_functions_for_cloudformation_models(endpoint: str) -> None:
    account = "123456789012"
    source, dest = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    assert efs_replication.update_protection(account, DR, dest, "DISABLED") == {
        "ReplicationOverwriteProtection": "DISABLED"
    }
    destinations = [{"Region": DR, "FileSystemId": dest}]
    created = efs_replication.create_replication(account, PRIMARY, source, destinations)
    assert created["Destinations"][0]["FileSystemId"] == dest
    assert efs_replication.protection(account, DR, dest) == "REPLICATING"
    assert efs_replication.is_read_only(account, DR, dest)
    assert not efs_replication.is_read_only(account, PRIMARY, source)
    # What the API reports is the same state.
    assert protection(endpoint, DR, dest) == "REPLICATING"
    removed = efs_replication.delete_replication(account, PRIMARY, source)
    assert removed.destination_id == dest
    assert protection(endpoint, DR, dest) == "ENABLED"


def test_replication_to_a_new_destination_can_be_recreated(endpoint: str) -> None:
    source = make_fs(endpoint, PRIMARY)
    efs = aws(endpoint, "efs", PRIMARY)
    first = efs.create_replication_configuration(SourceFileSystemId=source, Destinations=[{"Region": DR}])
    efs.delete_replication_configuration(SourceFileSystemId=source)
    second = efs.create_replication_configuration(SourceFileSystemId=source, Destinations=[{"Region": DR}])
    assert first["Destinations"][0]["FileSystemId"] != second["Destinations"][0]["FileSystemId"]


def test_local_only_delete_on_the_destination_leaves_the_source_side(directories: str) -> None:
    endpoint = directories
    source, dest = replicate_to_existing(endpoint)
    data = DataPlaneClient(endpoint)
    efs_fs.write_file(ACCOUNT, PRIMARY, source, "before.txt", "synced")
    data.sync()
    assert efs_fs.list_files(ACCOUNT, DR, dest) == {"before.txt": "synced"}  # replicating until the delete
    aws(endpoint, "efs", DR).delete_replication_configuration(
        SourceFileSystemId=dest, DeletionMode="LOCAL_CONFIGURATION_ONLY"
    )
    # The destination side no longer holds it: writable again, deletable, not listed in its region.
    assert protection(endpoint, DR, dest) == "ENABLED"
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).describe_replication_configurations(FileSystemId=dest)
    assert error_of(e) == ("ReplicationNotFound", 404)
    # The source side still holds it: listed there, its file system still cannot be deleted.
    listed = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)[
        "Replications"
    ]
    assert [r["Destinations"][0]["FileSystemId"] for r in listed] == [dest]
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).delete_file_system(FileSystemId=source)
    assert error_of(e) == ("FileSystemInUse", 409)
    # Replication has stopped: a file written on the source no longer reaches the destination.
    efs_fs.write_file(ACCOUNT, PRIMARY, source, "after.txt", "late")
    data.sync()
    assert efs_fs.list_files(ACCOUNT, DR, dest) == {"before.txt": "synced"}
    # Deleting the source side too ends it.
    aws(endpoint, "efs", PRIMARY).delete_replication_configuration(
        SourceFileSystemId=source, DeletionMode="LOCAL_CONFIGURATION_ONLY"
    )
    aws(endpoint, "efs", PRIMARY).delete_file_system(FileSystemId=source)


def test_local_only_delete_on_the_source_leaves_the_destination_read_only(endpoint: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    aws(endpoint, "efs", PRIMARY).delete_replication_configuration(
        SourceFileSystemId=source, DeletionMode="LOCAL_CONFIGURATION_ONLY"
    )
    assert protection(endpoint, DR, dest) == "REPLICATING"
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", DR).delete_file_system(FileSystemId=dest)
    assert error_of(e) == ("FileSystemInUse", 409)
    aws(endpoint, "efs", PRIMARY).delete_file_system(FileSystemId=source)  # the source side is free
    aws(endpoint, "efs", DR).delete_replication_configuration(SourceFileSystemId=dest)
    assert protection(endpoint, DR, dest) == "ENABLED"


def test_all_configurations_is_the_default_and_explicit_mode(endpoint: str) -> None:
    source, dest = replicate_to_existing(endpoint)
    aws(endpoint, "efs", DR).delete_replication_configuration(
        SourceFileSystemId=dest, DeletionMode="ALL_CONFIGURATIONS"
    )
    with pytest.raises(ClientError) as e:
        aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=source)
    assert error_of(e) == ("ReplicationNotFound", 404)
