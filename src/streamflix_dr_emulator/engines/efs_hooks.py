"""Wire EFS's emulated control plane to file-system directories (engines/efs_fs.py).

Seams (moto's and ``efs_replication``'s files are not edited; each is wrapped):

* ``moto.efs.models.EFSBackend.create_file_system`` — CreateFileSystem, the CloudFormation model
  ``AWS::EFS::FileSystem`` and the destination EFS creates for a replication all end here: with
  engines on, the file system gets its directory
  (https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html).
* ``EFSBackend.delete_file_system`` — once the control plane accepted the deletion, the directory
  and its files are removed (https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html).
* ``efs_replication.create_replication`` — CreateReplicationConfiguration (API and the CloudFormation
  ``ReplicationConfiguration`` property): the initial sync runs at once
  (https://docs.aws.amazon.com/efs/latest/ug/API_CreateReplicationConfiguration.html).
* ``efs_replication.delete_replication`` — DeleteReplicationConfiguration: the syncs that were due
  run first, then the link closes and an interrupted sync's files go to lost+found
  (https://docs.aws.amazon.com/efs/latest/ug/delete-replications.html).

Every hook does nothing while :func:`streamflix_dr_emulator.engines.enabled` is false.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from streamflix_dr_emulator import efs_replication, engines
from streamflix_dr_emulator.cfn._common import patch_attr
from streamflix_dr_emulator.engines import efs_fs

log = logging.getLogger(__name__)

_lock = threading.Lock()
_installed = False


def _hook_create_file_system(original: Any) -> Any:
    def create_file_system(self: Any, *args: Any, **kwargs: Any) -> Any:
        fs = original(self, *args, **kwargs)
        if engines.enabled():
            efs_fs.create(self.account_id, self.region_name, str(fs.file_system_id))
        return fs

    return create_file_system


def _hook_delete_file_system(original: Any) -> Any:
    def delete_file_system(self: Any, file_system_id: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, file_system_id, *args, **kwargs)
        efs_fs.delete(self.account_id, self.region_name, file_system_id)
        return result

    return delete_file_system


def _hook_create_replication(original: Any) -> Any:
    def create_replication(
        account_id: str, source_region: str, source_fs_id: str, destinations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        result = original(account_id, source_region, source_fs_id, destinations)
        if engines.enabled():
            efs_fs.pump()  # the initial sync is due at the configuration's creation
        return result

    return create_replication


def _hook_delete_replication(original: Any) -> Any:
    def delete_replication(account_id: str, region: str, fs_id: str, mode: str = "ALL_CONFIGURATIONS") -> Any:
        if engines.enabled():
            efs_fs.pump()  # what was due before the configuration disappears
        # Either DeletionMode ends the syncs into the destination: with LOCAL_CONFIGURATION_ONLY the other
        # side's configuration is left "unrecoverable" (EFS API DeleteReplicationConfiguration).
        rep = original(account_id, region, fs_id, mode)
        efs_fs.replication_deleted(rep)
        return rep

    return delete_replication


def forget_all() -> None:
    """Drop the engine's references (engines.shutdown_all removed the directories)."""
    efs_fs.forget_all()


def install() -> None:
    """Wrap the EFS seams listed in the module docstring. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    with _lock:
        if _installed:
            return
        from moto.efs.models import EFSBackend  # noqa: PLC0415

        patch_attr(EFSBackend, "create_file_system", _hook_create_file_system(EFSBackend.create_file_system))
        patch_attr(EFSBackend, "delete_file_system", _hook_delete_file_system(EFSBackend.delete_file_system))
        patch_attr(
            efs_replication,
            "create_replication",
            _hook_create_replication(efs_replication.create_replication),
        )
        patch_attr(
            efs_replication,
            "delete_replication",
            _hook_delete_replication(efs_replication.delete_replication),
        )
        _installed = True
