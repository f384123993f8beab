"""EFS file systems as real directories, and EFS replication as point-in-time copies through a region link.

Each file system is a directory ``<run dir>/efs/<region>/<fs id>/root``; :func:`write_file`,
:func:`read_file` and :func:`list_files` are what the application and the drill use on it (an NFS
mount stands behind them on AWS). What is modelled, and where AWS documents it:

* **The destination is read-only** while it is a replication destination (protection REPLICATING), and
  so is a file system whose replication overwrite protection is DISABLED: writes fail with ``EROFS``
  (API reference, UpdateFileSystemProtection: "The file system is read-only and can only be modified
  by EFS replication", https://docs.aws.amazon.com/efs/latest/ug/API_UpdateFileSystemProtection.html).
  The protection state is the control plane's (``efs_replication``).
* **Replication copies the source as it was at each sync instant** (EFS UG "Amazon EFS replication":
  replication is asynchronous, "most file systems ... within 15 minutes",
  https://docs.aws.amazon.com/efs/latest/ug/efs-replication.html). A sync reads the files that differ
  from the destination under the source's lock (one instant), sends them through a
  :class:`~streamflix_dr_emulator.engines.net.RegionLink` (latency, optional bandwidth) to a receiver on
  the destination side, which stages them and applies them all at once when the sync's last byte has
  arrived. Only differences cross the link; :func:`status` reports the bytes copied. Syncs run on the
  emulated clock (``regional_state``): the first at the configuration's creation, then every
  ``sync_interval_seconds``, each at the first :func:`pump` on or after its due instant (every read,
  write and listing starts one in the background; a caller that needs the result calls :func:`pump`);
  :func:`sync` forces one now.
* **Replication into an existing file system rewrites it to match the source** (EFS UG "Replicating to
  an existing file system"): files the source does not have are deleted from the destination.
* **Deleting the replication configuration** makes the destination writable (the control plane's
  protection goes back to ENABLED) and, as the EFS UG "Deleting replication configurations" says,
  "Amazon EFS might write some data to a lost+found directory in the root directory of the
  destination file system, using the following naming convention:
  efs-replication-lost+found-source-file-system-id-TIMESTAMP"
  (https://docs.aws.amazon.com/efs/latest/ug/delete-replications.html). Modelled: the files of a sync
  that had fully arrived but whose sync never completed (the link was cut mid-sync) land there; the
  rest of the destination stays as the last completed sync left it. The guide does not say more.
* **Region outage**: :func:`streamflix_dr_emulator.engines.fail_region` stops the region's file systems
  answering (``ETIMEDOUT``, what a soft NFS mount reports when its server is gone) and cuts the links;
  what had not been synced is lost.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from streamflix_dr_emulator import efs_replication, engines, regional_state
from streamflix_dr_emulator.engines import net

log = logging.getLogger(__name__)

ENGINE = "directory"
LOST_AND_FOUND_PREFIX = "efs-replication-lost+found-"
DEFAULT_SYNC_INTERVAL_SECONDS = 60.0
_SYNC_TIMEOUT_SECONDS = 600.0


class EfsEngineError(OSError):
    """A file-system operation failed; ``errno`` says how, as the NFS client would."""


class ReadOnlyFileSystem(EfsEngineError):
    """Write to a replication destination (or a file system whose protection is DISABLED)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EROFS, message)


class FileSystemUnavailable(EfsEngineError):
    """The file system's region is in an outage: the mount does not answer."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ETIMEDOUT, message)


class NoSuchFileSystem(EfsEngineError):
    """No directory backs this file system (unknown id, or created while engines were off)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENODEV, message)


# --- one file system ----------------------------------------------------------------------------


class FileSystemDir:
    """The directory of one EFS file system (an engine in the registry: fail, restore, stop)."""

    def __init__(self, account_id: str, region: str, fs_id: str) -> None:
        self.account_id = account_id
        self.region = region
        self.regions = (region,)
        self.fs_id = fs_id
        self.base = engines.run_dir() / "efs" / region / fs_id
        self.root = self.base / "root"
        # Files of the sync in progress, outside the mount: invisible until the sync completes.
        self.staging = self.base / "staging"
        self.lock = threading.RLock()
        self._failed = False
        self._stopped = False

    def create(self) -> FileSystemDir:
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        engines.register(self.region, self)
        return self

    @property
    def failed(self) -> bool:
        """True while the region is down."""
        return self._failed

    def check_answering(self) -> None:
        if self._stopped:
            raise NoSuchFileSystem(f"{self.region}/{self.fs_id}: the file system was deleted")
        if self._failed:
            raise FileSystemUnavailable(
                f"{self.region}/{self.fs_id}: the file system does not answer (region {self.region} is down)"
            )

    def path_of(self, path: str) -> Path:
        return self.root / _clean(path)

    def files(self) -> dict[str, Path]:
        """Relative path -> absolute path of every regular file under the root."""
        found: dict[str, Path] = {}
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                full = Path(dirpath) / name
                found[full.relative_to(self.root).as_posix()] = full
        return found

    def manifest(self) -> dict[str, str]:
        """Relative path -> sha256 of the content (what EFS's change tracking knows of the destination)."""
        with self.lock:
            return {rel: _digest(full.read_bytes()) for rel, full in self.files().items()}

    def fail(self) -> None:
        self._failed = True

    def restore(self) -> None:
        self._failed = False

    def stop(self) -> None:
        self._stopped = True
        engines.unregister(self)

    def remove(self) -> None:
        """Stop and delete the directory (DeleteFileSystem)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __repr__(self) -> str:
        return f"FileSystemDir({self.region}/{self.fs_id})"


def _clean(path: str) -> str:
    rel = [p for p in PurePosixPath(str(path)).parts if p not in ("/", ".")]
    if not rel or ".." in rel:
        raise EfsEngineError(errno.EINVAL, f"path={path!r}: a relative path without '..' is required")
    return "/".join(rel)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_lock = threading.RLock()
_filesystems: dict[tuple[str, str, str], FileSystemDir] = {}


def create(account_id: str, region: str, fs_id: str) -> FileSystemDir:
    """Make the directory of a new file system (CreateFileSystem)."""
    with _lock:
        existing = _filesystems.get((account_id, region, fs_id))
        if existing is not None and not existing._stopped:
            return existing
        fs = FileSystemDir(account_id, region, fs_id).create()
        _filesystems[(account_id, region, fs_id)] = fs
        return fs


def delete(account_id: str, region: str, fs_id: str) -> None:
    """Remove a file system's directory and everything in it (DeleteFileSystem)."""
    with _lock:
        fs = _filesystems.pop((account_id, region, fs_id), None)
    if fs is not None:
        fs.remove()


def get(account_id: str, region: str, fs_id: str) -> FileSystemDir:
    """The directory of a file system; NoSuchFileSystem when it has none."""
    with _lock:
        fs = _filesystems.get((account_id, region, fs_id))
    if fs is None or fs._stopped:
        raise NoSuchFileSystem(
            f"{region}/{fs_id}: no directory backs this file system (unknown, or created while the "
            "emulator's engines were off)"
        )
    return fs


def exists(account_id: str, region: str, fs_id: str) -> bool:
    """True when a directory backs the file system."""
    with _lock:
        fs = _filesystems.get((account_id, region, fs_id))
    return fs is not None and not fs._stopped


# --- the file API (what the app and the drill call) --------------------------------------------


def write_file(account_id: str, region: str, fs_id: str, path: str, content: str | bytes) -> None:
    """Write a whole file. Raises ReadOnlyFileSystem on a destination, FileSystemUnavailable in an outage."""
    _kick()
    fs = get(account_id, region, fs_id)
    data = content.encode() if isinstance(content, str) else bytes(content)
    with fs.lock:
        fs.check_answering()
        if efs_replication.is_read_only(account_id, region, fs_id):
            raise ReadOnlyFileSystem(
                f"{region}/{fs_id}: Read-only file system (ReplicationOverwriteProtection is "
                f"{efs_replication.protection(account_id, region, fs_id)}; a replication destination is "
                "written by EFS replication only — delete the replication configuration to fail over)"
            )
        target = fs.path_of(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)


def read_bytes(account_id: str, region: str, fs_id: str, path: str) -> bytes:
    """A whole file's bytes. FileNotFoundError when absent."""
    _kick()
    fs = get(account_id, region, fs_id)
    with fs.lock:
        fs.check_answering()
        return fs.path_of(path).read_bytes()


def read_file(account_id: str, region: str, fs_id: str, path: str) -> str:
    """A whole file as UTF-8 text. FileNotFoundError when absent."""
    return read_bytes(account_id, region, fs_id, path).decode()


def list_files(account_id: str, region: str, fs_id: str) -> dict[str, str]:
    """Every file (relative path -> UTF-8 content, undecodable bytes replaced)."""
    _kick()
    fs = get(account_id, region, fs_id)
    with fs.lock:
        fs.check_answering()
        return {rel: full.read_bytes().decode(errors="replace") for rel, full in sorted(fs.files().items())}


# --- replication --------------------------------------------------------------------------------


@dataclass
class SyncStatus:
    """What the engine knows of one replication configuration."""

    account_id: str
    source_region: str
    source_id: str
    destination_region: str
    destination_id: str
    created_at: float
    next_due: float
    syncs: int = 0
    last_sync_at: float | None = None
    last_bytes_copied: int = 0
    bytes_copied: int = 0
    failed_syncs: int = 0


@dataclass
class _Replication:
    status: SyncStatus
    link: net.RegionLink | None = None
    receiver: _Receiver | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.receiver is not None:
            self.receiver.close()
            self.receiver = None


_settings: dict[str, float] = {"sync_interval_seconds": DEFAULT_SYNC_INTERVAL_SECONDS}
_link_settings: dict[frozenset[str], tuple[float, float | None]] = {}
# (account, source id, destination id, creation time) -> state
_replications: dict[tuple[str, str, str, float], _Replication] = {}
_pump_lock = threading.Lock()


def configure(sync_interval_seconds: float | None = None) -> dict[str, float]:
    """Set the interval between syncs (emulated seconds, > 0); return the settings."""
    if sync_interval_seconds is not None:
        if not sync_interval_seconds > 0:
            raise ValueError(f"sync_interval_seconds={sync_interval_seconds!r} must be > 0")
        _settings["sync_interval_seconds"] = float(sync_interval_seconds)
    return dict(_settings)


def set_link(
    region_a: str,
    region_b: str,
    rtt_seconds: float = net.EU_WEST_2_US_EAST_1_RTT_SECONDS,
    bandwidth_bytes_per_s: float | None = None,
) -> None:
    """Latency and bandwidth of the sync links made from now on between two regions."""
    if rtt_seconds < 0:
        raise ValueError(f"rtt_seconds={rtt_seconds!r} must be >= 0")
    _link_settings[frozenset((region_a, region_b))] = (rtt_seconds, bandwidth_bytes_per_s)


def _key(rep: Any) -> tuple[str, str, str, float]:
    return (rep.account_id, rep.source_id, rep.destination_id, float(rep.creation_time))


def _state(rep: Any) -> _Replication:
    with _lock:
        key = _key(rep)
        state = _replications.get(key)
        if state is None:
            state = _Replication(
                SyncStatus(
                    rep.account_id,
                    rep.source_region,
                    rep.source_id,
                    rep.destination_region,
                    rep.destination_id,
                    created_at=float(rep.creation_time),
                    next_due=float(rep.creation_time),
                )
            )
            _replications[key] = state
        return state


def status(account_id: str, source_id: str) -> SyncStatus | None:
    """The sync status of the live replication whose source is ``source_id`` (None when there is none)."""
    for rep in efs_replication.replications(account_id):
        if rep.source_id == source_id:
            return _state(rep).status
    return None


def pump(force: bool = False) -> int:
    """Run every sync that is due on the emulated clock (all of them with ``force``); return how many ran.

    Synchronous: returns when the syncs have completed (or failed). The file API only starts a
    background pump (:func:`_kick`), so a write never waits for a sync, as on EFS.
    """
    with _pump_lock:
        return _pump_locked(force)


def _due(rep: Any, now: float) -> bool:
    with _lock:
        state = _replications.get(_key(rep))
    return now >= (state.status.next_due if state is not None else float(rep.creation_time))


def _kick() -> None:
    """Start a background pump when a sync is due and none is running."""
    now = regional_state.now()
    if not any(_due(rep, now) for rep in efs_replication.replications()):
        return
    if not _pump_lock.acquire(blocking=False):
        return  # a pump is running; it or the next call takes care of it

    def run() -> None:
        try:
            _pump_locked(False)
        except Exception:
            log.exception("EFS background sync failed")
        finally:
            _pump_lock.release()

    threading.Thread(target=run, name="efs-sync", daemon=True).start()


def _pump_locked(force: bool) -> int:
    ran = 0
    for rep in efs_replication.replications():
        if not (
            exists(rep.account_id, rep.source_region, rep.source_id)
            and exists(rep.account_id, rep.destination_region, rep.destination_id)
        ):
            continue  # created while the engines were off: the control plane (dataplane) records its syncs
        state = _state(rep)
        now = regional_state.now()
        if not force and now < state.status.next_due:
            continue
        if _sync(rep, state, now):
            ran += 1
        interval = _settings["sync_interval_seconds"]
        elapsed = max(0.0, now - state.status.created_at)
        state.status.next_due = state.status.created_at + interval * (math.floor(elapsed / interval) + 1)
    return ran


def sync() -> int:
    """Sync every replication now, whatever the schedule (regions in an outage excepted)."""
    return pump(force=True)


def _link_for(state: _Replication) -> net.RegionLink:
    if state.link is None or state.receiver is None:
        status_ = state.status
        destination = get(status_.account_id, status_.destination_region, status_.destination_id)
        state.receiver = _Receiver(destination)
        rtt, bandwidth = _link_settings.get(
            frozenset((status_.source_region, status_.destination_region)),
            (net.EU_WEST_2_US_EAST_1_RTT_SECONDS, None),
        )
        state.link = net.RegionLink(
            status_.source_region,
            status_.destination_region,
            rtt_seconds=rtt,
            bandwidth_bytes_per_s=bandwidth,
            target_host=net.HOST,
            target_port=state.receiver.port,
        )
    return state.link


def _sync(rep: Any, state: _Replication, now: float) -> bool:
    source = get(rep.account_id, rep.source_region, rep.source_id)
    destination = get(rep.account_id, rep.destination_region, rep.destination_id)
    if source.failed or destination.failed or engines.is_failed(rep.source_region):
        return False
    with state.lock:
        link = _link_for(state)
        if link.failed:
            return False
        # The point-in-time copy: every file that differs from the destination, read under the
        # source's lock (no write can land in between), plus the paths the destination must drop.
        known = destination.manifest()
        with source.lock:
            changed: list[tuple[str, bytes]] = []
            present: set[str] = set()
            for rel, full in sorted(source.files().items()):
                present.add(rel)
                data = full.read_bytes()
                if known.get(rel) != _digest(data):
                    changed.append((rel, data))
        removed = sorted(set(known) - present)
        try:
            _send(link, changed, removed, now)
        except (OSError, TimeoutError, ValueError) as e:
            state.status.failed_syncs += 1
            log.warning("EFS sync %s -> %s failed: %s", rep.source_id, rep.destination_id, e)
            return False
        copied = sum(len(data) for _rel, data in changed)
        state.status.syncs += 1
        state.status.last_sync_at = now
        state.status.last_bytes_copied = copied
        state.status.bytes_copied += copied
    efs_replication.record_sync(rep, now)
    log.info(
        "EFS sync %s -> %s: %d files (%d bytes) copied, %d removed",
        rep.source_id,
        rep.destination_id,
        len(changed),
        copied,
        len(removed),
    )
    return True


def _send(link: net.RegionLink, changed: list[tuple[str, bytes]], removed: list[str], at: float) -> None:
    with socket.create_connection((net.HOST, link.port), timeout=_SYNC_TIMEOUT_SECONDS) as conn:
        for rel, data in changed:
            conn.sendall(json.dumps({"path": rel, "size": len(data)}).encode() + b"\n")
            conn.sendall(data)
        conn.sendall(json.dumps({"end": True, "removed": removed, "at": at}).encode() + b"\n")
        reply = conn.makefile("rb").readline()
    if reply.strip() != b"OK":
        raise ConnectionError(f"the destination did not confirm the sync (answered {reply[:80]!r})")


class _Receiver:
    """The destination side of a sync link: stages what arrives, applies it when the sync completes."""

    def __init__(self, destination: FileSystemDir) -> None:
        self.destination = destination
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((net.HOST, 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._serve, name=f"efs-receiver-{destination.fs_id}", daemon=True).start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        dest = self.destination
        with conn, contextlib.suppress(OSError, ValueError):
            stream = conn.makefile("rb")
            # A new sync supersedes what an interrupted one had staged.
            shutil.rmtree(dest.staging, ignore_errors=True)
            dest.staging.mkdir(parents=True, exist_ok=True)
            while True:
                line = stream.readline()
                if not line:
                    return  # the link dropped mid-sync: what was staged stays staged
                header = json.loads(line)
                if header.get("end"):
                    _apply(dest, list(header.get("removed", [])))
                    conn.sendall(b"OK\n")
                    return
                rel = _clean(str(header["path"]))
                size = int(header["size"])
                data = stream.read(size)
                if len(data) != size:
                    return  # cut in the middle of a file: that file never arrived
                target = dest.staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()


def _apply(dest: FileSystemDir, removed: list[str]) -> None:
    with dest.lock:
        for dirpath, _dirs, names in os.walk(dest.staging):
            for name in names:
                staged = Path(dirpath) / name
                rel = staged.relative_to(dest.staging).as_posix()
                target = dest.root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        for rel in removed:
            with contextlib.suppress(FileNotFoundError):
                (dest.root / _clean(rel)).unlink()
        _prune_empty_dirs(dest.root)
        shutil.rmtree(dest.staging, ignore_errors=True)
        dest.staging.mkdir(parents=True, exist_ok=True)


def _prune_empty_dirs(root: Path) -> None:
    for dirpath, dirs, files in os.walk(root, topdown=False):
        if Path(dirpath) != root and not dirs and not files:
            with contextlib.suppress(OSError):
                Path(dirpath).rmdir()


def replication_deleted(rep: Any) -> Path | None:
    """After DeleteReplicationConfiguration: close the link; move an interrupted sync's files to lost+found.

    Returns the lost+found directory when one was written.
    """
    with _lock:
        state = _replications.pop(_key(rep), None)
    if state is not None:
        state.close()
    if not exists(rep.account_id, rep.destination_region, rep.destination_id):
        return None
    dest = get(rep.account_id, rep.destination_region, rep.destination_id)
    with dest.lock:
        staged = [p for p in dest.staging.rglob("*") if p.is_file()]
        if not staged:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(regional_state.now()))
        lost = dest.root / f"{LOST_AND_FOUND_PREFIX}{rep.source_id}-{stamp}"
        for path in staged:
            target = lost / path.relative_to(dest.staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        shutil.rmtree(dest.staging, ignore_errors=True)
        dest.staging.mkdir(parents=True, exist_ok=True)
    log.warning(
        "EFS replication %s -> %s deleted mid-sync: %d files in %s",
        rep.source_id,
        dest.fs_id,
        len(staged),
        lost.name,
    )
    return lost


def forget_all() -> None:
    """Drop every file system and replication state (engines.shutdown_all removed the run directory)."""
    with _lock:
        states = list(_replications.values())
        _replications.clear()
        _filesystems.clear()
    for state in states:
        state.close()
