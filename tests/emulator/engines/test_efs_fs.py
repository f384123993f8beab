"""EFS on real directories: read-only destinations, point-in-time syncs, deletion, region outage.

File systems are made through the EFS API of the session's emulator (boto3), with the engines on
for this module; each scenario uses a region pair of its own, so an outage in one leaves the others
alone. The file API is ``engines.efs_fs`` (what the app and the drill call).
"""

from __future__ import annotations

import errno
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))
from api_support import aws, uid

from streamflix_dr_emulator import efs_replication, engines, regional_state
from streamflix_dr_emulator.engines import efs_fs, efs_hooks

ACCOUNT = "123456789012"
INTERVAL = 60.0
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def efs(emulator_endpoint: str) -> Iterator[str]:
    engines.enable(True)
    efs_hooks.install()
    efs_fs.configure(sync_interval_seconds=INTERVAL)
    try:
        yield emulator_endpoint
    finally:
        engines.shutdown_all()
        engines.enable(False)


def _fs(endpoint: str, region: str) -> str:
    return str(
        aws(endpoint, "efs", region).create_file_system(CreationToken=uid("tok"), Encrypted=False)[
            "FileSystemId"
        ]
    )


def _pair(endpoint: str, source_region: str, destination_region: str) -> tuple[str, str]:
    """A source and an existing destination (protection DISABLED), not yet replicating."""
    source = _fs(endpoint, source_region)
    destination = _fs(endpoint, destination_region)
    aws(endpoint, "efs", destination_region).update_file_system_protection(
        FileSystemId=destination, ReplicationOverwriteProtection="DISABLED"
    )
    return source, destination


def _replicate(
    endpoint: str, source_region: str, source: str, destination_region: str, destination: str
) -> None:
    aws(endpoint, "efs", source_region).create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": destination_region, "FileSystemId": destination}]
    )


def _delete_replication(endpoint: str, region: str, fs_id: str) -> None:
    aws(endpoint, "efs", region).delete_replication_configuration(SourceFileSystemId=fs_id)


def test_destination_is_read_only_while_replicating(efs: str) -> None:
    src_region, dst_region = "eu-west-2", "us-east-1"
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)

    with pytest.raises(efs_fs.ReadOnlyFileSystem) as raised:
        efs_fs.write_file(ACCOUNT, dst_region, destination, "media/new.mp4", "x")
    assert raised.value.errno == errno.EROFS
    efs_fs.write_file(ACCOUNT, src_region, source, "media/new.mp4", "x")
    assert efs_fs.read_file(ACCOUNT, src_region, source, "media/new.mp4") == "x"


def test_sync_copies_the_source_as_it_was_at_the_sync_instant(efs: str) -> None:
    src_region, dst_region = "eu-west-1", "us-west-2"
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)  # initial sync: empty
    efs_fs.write_file(ACCOUNT, src_region, source, "a.txt", "v1")
    efs_fs.sync()
    efs_fs.write_file(ACCOUNT, src_region, source, "a.txt", "v2")
    efs_fs.write_file(ACCOUNT, src_region, source, "b.txt", "new")

    assert efs_fs.list_files(ACCOUNT, dst_region, destination) == {"a.txt": "v1"}
    regional_state.advance(INTERVAL / 2)  # not yet due
    assert efs_fs.list_files(ACCOUNT, dst_region, destination) == {"a.txt": "v1"}
    regional_state.advance(INTERVAL)  # the next scheduled sync is due
    efs_fs.pump()  # waits for it (a listing would only start it in the background)
    assert efs_fs.list_files(ACCOUNT, dst_region, destination) == {"a.txt": "v2", "b.txt": "new"}
    described = aws(efs, "efs", src_region).describe_replication_configurations(FileSystemId=source)
    assert "LastReplicatedTimestamp" in described["Replications"][0]["Destinations"][0]


def test_replication_into_an_existing_file_system_copies_only_differences(efs: str) -> None:
    src_region, dst_region = "eu-central-1", "us-west-1"
    source = _fs(efs, src_region)
    destination = _fs(efs, dst_region)
    # The destination had its own life before: one file the source lacks, one it has identically.
    efs_fs.write_file(ACCOUNT, dst_region, destination, "stale.txt", "old")
    efs_fs.write_file(ACCOUNT, dst_region, destination, "same.txt", "same")
    aws(efs, "efs", dst_region).update_file_system_protection(
        FileSystemId=destination, ReplicationOverwriteProtection="DISABLED"
    )
    efs_fs.write_file(ACCOUNT, src_region, source, "same.txt", "same")
    efs_fs.write_file(ACCOUNT, src_region, source, "media/one.bin", b"\x00" * 1000)

    _replicate(efs, src_region, source, dst_region, destination)

    assert efs_fs.list_files(ACCOUNT, dst_region, destination) == efs_fs.list_files(
        ACCOUNT, src_region, source
    )
    status = efs_fs.status(ACCOUNT, source)
    assert status is not None
    assert status.last_bytes_copied == 1000  # same.txt was already there
    efs_fs.write_file(ACCOUNT, src_region, source, "small.txt", "12345")
    efs_fs.sync()
    assert status.last_bytes_copied == 5
    assert status.bytes_copied == 1005


def test_deleting_the_replication_makes_the_destination_writable(efs: str) -> None:
    src_region, dst_region = "ap-southeast-1", "ap-northeast-1"
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)
    efs_fs.write_file(ACCOUNT, src_region, source, "kept.txt", "synced")
    efs_fs.sync()

    _delete_replication(efs, dst_region, destination)

    efs_fs.write_file(ACCOUNT, dst_region, destination, "dr-only.txt", "written in DR")
    assert efs_fs.list_files(ACCOUNT, dst_region, destination) == {
        "kept.txt": "synced",
        "dr-only.txt": "written in DR",
    }
    # No more syncs: the source's later writes stay in the source.
    efs_fs.write_file(ACCOUNT, src_region, source, "later.txt", "x")
    efs_fs.sync()
    assert "later.txt" not in efs_fs.list_files(ACCOUNT, dst_region, destination)


def test_region_failure_loses_the_files_not_yet_synced(efs: str) -> None:
    src_region, dst_region = "eu-west-3", "us-east-2"
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)
    efs_fs.write_file(ACCOUNT, src_region, source, "synced.txt", "1")
    efs_fs.sync()
    efs_fs.write_file(ACCOUNT, src_region, source, "unsynced.txt", "2")

    engines.fail_region(src_region)
    try:
        with pytest.raises(efs_fs.FileSystemUnavailable) as raised:
            efs_fs.read_file(ACCOUNT, src_region, source, "synced.txt")
        assert raised.value.errno == errno.ETIMEDOUT
        efs_fs.sync()  # nothing leaves a failed region
        _delete_replication(efs, dst_region, destination)  # the DR side fails over
        assert efs_fs.list_files(ACCOUNT, dst_region, destination) == {"synced.txt": "1"}
        efs_fs.write_file(ACCOUNT, dst_region, destination, "after.txt", "3")
    finally:
        engines.restore_region(src_region)


def test_sync_cut_mid_way_leaves_its_files_in_lost_and_found(efs: str) -> None:
    src_region, dst_region = "sa-east-1", "ca-central-1"
    # 64 KiB/s: eight 32 KiB files take about four seconds to cross.
    efs_fs.set_link(src_region, dst_region, rtt_seconds=0.075, bandwidth_bytes_per_s=64 * 1024)
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)
    efs_fs.write_file(ACCOUNT, src_region, source, "before.txt", "complete sync")
    efs_fs.sync()
    names = [f"media/part-{i}.bin" for i in range(8)]
    for name in names:
        efs_fs.write_file(ACCOUNT, src_region, source, name, b"\x01" * 32 * 1024)

    syncing = threading.Thread(target=efs_fs.sync, daemon=True)
    syncing.start()
    staging = efs_fs.get(ACCOUNT, dst_region, destination).staging
    deadline = time.monotonic() + WAIT_SECONDS
    while not any(p.is_file() for p in staging.rglob("*")):
        assert time.monotonic() < deadline, "no file of the sync reached the destination"
        time.sleep(0.02)
    engines.fail_region(src_region)
    try:
        syncing.join(WAIT_SECONDS)
        assert not syncing.is_alive()
        _delete_replication(efs, dst_region, destination)
        files = efs_fs.list_files(ACCOUNT, dst_region, destination)
    finally:
        engines.restore_region(src_region)

    lost = {path for path in files if path.startswith(f"{efs_fs.LOST_AND_FOUND_PREFIX}{source}-")}
    assert lost, files
    assert set(files) - lost == {"before.txt"}  # the tree is the last completed sync
    arrived = {path.split("/", 1)[1] for path in lost}
    assert arrived < set(names)  # some files had arrived, not all of them


def test_delete_file_system_removes_its_directory(efs: str) -> None:
    region = "eu-north-1"
    fs_id = _fs(efs, region)
    efs_fs.write_file(ACCOUNT, region, fs_id, "x.txt", "x")
    base = efs_fs.get(ACCOUNT, region, fs_id).base
    assert (base / "root" / "x.txt").is_file()

    aws(efs, "efs", region).delete_file_system(FileSystemId=fs_id)

    assert not base.exists()
    with pytest.raises(efs_fs.NoSuchFileSystem):
        efs_fs.read_file(ACCOUNT, region, fs_id, "x.txt")


def test_protection_disabled_file_system_is_read_only(efs: str) -> None:
    region = "eu-south-1"
    fs_id = _fs(efs, region)
    aws(efs, "efs", region).update_file_system_protection(
        FileSystemId=fs_id, ReplicationOverwriteProtection="DISABLED"
    )
    assert efs_replication.is_read_only(ACCOUNT, region, fs_id)
    with pytest.raises(efs_fs.ReadOnlyFileSystem):
        efs_fs.write_file(ACCOUNT, region, fs_id, "x.txt", "x")


def test_writes_during_a_sync_wait_for_the_next_one(efs: str) -> None:
    src_region, dst_region = "ap-south-1", "ap-northeast-2"
    efs_fs.set_link(src_region, dst_region, rtt_seconds=0.075, bandwidth_bytes_per_s=64 * 1024)
    source, destination = _pair(efs, src_region, dst_region)
    _replicate(efs, src_region, source, dst_region, destination)
    names = [f"media/part-{i}.bin" for i in range(4)]
    for name in names:
        efs_fs.write_file(ACCOUNT, src_region, source, name, b"\x01" * 32 * 1024)

    syncing = threading.Thread(target=efs_fs.sync, daemon=True)
    syncing.start()
    staging = efs_fs.get(ACCOUNT, dst_region, destination).staging
    deadline = time.monotonic() + WAIT_SECONDS
    while not any(p.is_file() for p in staging.rglob("*")):
        assert time.monotonic() < deadline, "no file of the sync reached the destination"
        time.sleep(0.02)
    # The sync is on the wire: these writes happened after its instant.
    efs_fs.write_file(ACCOUNT, src_region, source, names[-1], "rewritten")
    efs_fs.write_file(ACCOUNT, src_region, source, "late.txt", "late")
    syncing.join(WAIT_SECONDS)
    assert not syncing.is_alive()

    copied = efs_fs.list_files(ACCOUNT, dst_region, destination)
    assert set(copied) == set(names)
    assert copied[names[-1]] == "\x01" * 32 * 1024
    efs_fs.sync()
    assert efs_fs.list_files(ACCOUNT, dst_region, destination)[names[-1]] == "rewritten"
    assert "late.txt" in efs_fs.list_files(ACCOUNT, dst_region, destination)
