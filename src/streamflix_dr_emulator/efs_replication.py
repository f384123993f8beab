"""EFS replication for moto: the replication-configuration API and file-system protection.

moto 5.2.5 implements none of this (see /work/shared/emulator-notes.md). What is modelled, and
where AWS documents it:

* ``CreateReplicationConfiguration`` — one destination, either an existing file system (whose
  replication overwrite protection must be DISABLED) or a new one created in the destination
  region. A file system can be part of only one replication configuration.
  https://docs.aws.amazon.com/efs/latest/ug/API_CreateReplicationConfiguration.html
* ``DescribeReplicationConfigurations`` — by file-system id (source or destination, each in its own
  region) or every configuration touching the calling region.
  https://docs.aws.amazon.com/efs/latest/ug/API_DescribeReplicationConfigurations.html
* ``DeleteReplicationConfiguration`` — from either side; "the destination file system becomes
  Writeable and its replication overwrite protection is re-enabled". ``DeletionMode``: "Amazon EFS
  deletes the replication configuration from both the source and destination account or Region
  (ALL_CONFIGURATIONS) by default ... you can use the LOCAL_CONFIGURATION_ONLY mode to delete the
  replication configuration from only the local side (the account or Region from which the delete is
  performed)". A configuration deleted on one side only stops replicating; the other side keeps it
  (DescribeReplicationConfigurations there still lists it, its file system stays in a replication
  configuration: a destination stays read-only, neither can be deleted) until it is deleted there too.
  https://docs.aws.amazon.com/efs/latest/ug/API_DeleteReplicationConfiguration.html
* ``UpdateFileSystemProtection`` and ``FileSystemProtection`` in ``DescribeFileSystems``:
  ENABLED (default) / DISABLED / REPLICATING while a destination; it "cannot be changed while the
  file system is a replication destination" (AWS answers ReplicationAlreadyExists, quoted in
  hashicorp/terraform-provider-aws#37790).
  https://docs.aws.amazon.com/efs/latest/ug/API_UpdateFileSystemProtection.html
* ``DeleteFileSystem`` refuses a file system in a replication configuration with FileSystemInUse
  ("You cannot delete file system ... because it is in a replication configuration",
  pulumi/pulumi-aws-native#2682; EFS UG "Deleting replication configurations").
* ``AWS/EFS TimeSinceLastSync`` (dimensions FileSystemId = source, DestinationFileSystemId), put into
  moto's CloudWatch backend of the source region at each completed sync (:func:`record_sync`: the
  directory engine's, or the control plane's for a replication without directories) and between syncs
  by ``dataplane.pump`` (now minus the last sync; the meaning of the metric is quoted there)
  (https://docs.aws.amazon.com/efs/latest/ug/efs-metrics.html).

Error codes and HTTP statuses are the ones the botocore model (efs 2015-02-01) lists per operation.
Cross-account replication (RoleArn) is not modelled.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PROTECTION_ENABLED = "ENABLED"
PROTECTION_DISABLED = "DISABLED"
PROTECTION_REPLICATING = "REPLICATING"
_SETTABLE_PROTECTION = (PROTECTION_ENABLED, PROTECTION_DISABLED)
_PROTECTION_ATTR = "_streamflix_protection"


@dataclass
class Replication:
    """One EFS replication configuration (source → one destination)."""

    account_id: str
    source_region: str
    source_fs: Any  # moto FileSystem
    destination_region: str
    destination_fs: Any
    creation_time: float
    original_source_arn: str
    status: str = "ENABLED"
    last_replicated: float | None = None
    # The sides that still hold the configuration ("source", "destination"); LOCAL_CONFIGURATION_ONLY
    # deletes one.
    sides: frozenset[str] = frozenset({"source", "destination"})

    @property
    def replicating(self) -> bool:
        """Both sides hold the configuration, so data flows."""
        return self.sides == frozenset({"source", "destination"})

    @property
    def source_id(self) -> str:
        return str(self.source_fs.file_system_id)

    @property
    def destination_id(self) -> str:
        return str(self.destination_fs.file_system_id)

    def describe(self) -> dict[str, Any]:
        destination: dict[str, Any] = {
            "Status": self.status,
            "FileSystemId": self.destination_id,
            "Region": self.destination_region,
            "OwnerId": self.account_id,
        }
        if self.last_replicated is not None:
            destination["LastReplicatedTimestamp"] = self.last_replicated
        return {
            "SourceFileSystemId": self.source_id,
            "SourceFileSystemRegion": self.source_region,
            "SourceFileSystemArn": self.source_fs.file_system_arn,
            "OriginalSourceFileSystemArn": self.original_source_arn,
            "CreationTime": self.creation_time,
            "Destinations": [destination],
            "SourceFileSystemOwnerId": self.account_id,
        }


# (account_id, source id, destination id) -> configuration. Entries whose file-system objects no
# longer sit in moto's backends (moto reset, file system gone) are dropped on access.
_replications: dict[tuple[str, str, str], Replication] = {}


# --- errors (shapes and statuses from the botocore efs model) ------------------------------------


def _error(code: str, status: int, message: str) -> Exception:
    from moto.efs.exceptions import EFSError  # noqa: PLC0415 - moto is optional at import time

    error = EFSError(code, message)
    error.code = status
    return error


def _not_found(fs_id: str, region: str) -> Exception:
    return _error("FileSystemNotFound", 404, f"File system '{fs_id}' does not exist in region {region}.")


def _replication_not_found(fs_id: str) -> Exception:
    return _error(
        "ReplicationNotFound",
        404,
        f"No replication configuration found for file system '{fs_id}'.",
    )


def _bad_request(message: str) -> Exception:
    return _error("BadRequest", 400, message)


# --- plain functions (used by the API below, dataplane, the EFS engine and CloudFormation models) ----


def _backend(account_id: str, region: str) -> Any:
    from moto.efs.models import efs_backends  # noqa: PLC0415

    return efs_backends[account_id][region]


def _alive(rep: Replication) -> bool:
    """Every side that still holds the configuration still has its file system in moto."""
    try:
        src = _backend(rep.account_id, rep.source_region).file_systems_by_id.get(rep.source_id)
        dst = _backend(rep.account_id, rep.destination_region).file_systems_by_id.get(rep.destination_id)
    except KeyError:  # pragma: no cover - region vanished from moto
        return False
    source_ok = "source" not in rep.sides or src is rep.source_fs
    destination_ok = "destination" not in rep.sides or dst is rep.destination_fs
    return bool(rep.sides) and source_ok and destination_ok


def _live() -> list[Replication]:
    with regional_state.LOCK:
        for key, rep in list(_replications.items()):
            if not _alive(rep):
                del _replications[key]
        return list(_replications.values())


def replications(account_id: str | None = None) -> list[Replication]:
    """Every live, replicating configuration (both sides present; optionally of one account)."""
    return [r for r in _live() if r.replicating and (account_id is None or r.account_id == account_id)]


def find(account_id: str, region: str, fs_id: str) -> Replication | None:
    """The configuration ``fs_id`` (in ``region``) takes part in, on a side that still holds it."""
    for rep in _live():
        if rep.account_id != account_id:
            continue
        if "source" in rep.sides and (rep.source_region, rep.source_id) == (region, fs_id):
            return rep
        if "destination" in rep.sides and (rep.destination_region, rep.destination_id) == (region, fs_id):
            return rep
    return None


def _side(rep: Replication, region: str, fs: Any) -> str:
    return "source" if (rep.source_region, rep.source_fs) == (region, fs) else "destination"


def _get_fs(account_id: str, region: str, fs_id: str) -> Any:
    fs_id = _strip_arn(fs_id)
    fs = _backend(account_id, region).file_systems_by_id.get(fs_id)
    if fs is None:
        raise _not_found(fs_id, region)
    return fs


def _strip_arn(fs_id: str) -> str:
    # The API accepts an id or an ARN (arn:aws:elasticfilesystem:<region>:<acct>:file-system/fs-...).
    return fs_id.rsplit("/", 1)[-1] if fs_id.startswith("arn:") else fs_id


def protection(account_id: str, region: str, fs_id: str) -> str:
    """The file system's ReplicationOverwriteProtection as DescribeFileSystems reports it."""
    fs = _get_fs(account_id, region, fs_id)
    return _protection_of(account_id, region, fs)


def _protection_of(account_id: str, region: str, fs: Any) -> str:
    rep = find(account_id, region, fs.file_system_id)
    if rep is not None and rep.destination_fs is fs:
        return PROTECTION_REPLICATING
    return str(getattr(fs, _PROTECTION_ATTR, PROTECTION_ENABLED))


def is_read_only(account_id: str, region: str, fs_id: str) -> bool:
    """True when clients cannot write: a replication destination, or protection DISABLED.

    The API reference (UpdateFileSystemProtection): DISABLED — "The file system is read-only and can
    only be modified by EFS replication"; REPLICATING — "read-only and is modified only by EFS
    replication".
    """
    return protection(account_id, region, fs_id) != PROTECTION_ENABLED


def update_protection(account_id: str, region: str, fs_id: str, value: str) -> dict[str, str]:
    """UpdateFileSystemProtection; returns the FileSystemProtectionDescription."""
    if value not in _SETTABLE_PROTECTION:
        raise _bad_request(
            f"ReplicationOverwriteProtection={value!r} is not valid; "
            f"use one of {', '.join(_SETTABLE_PROTECTION)}."
        )
    with regional_state.LOCK:
        fs = _get_fs(account_id, region, fs_id)
        if _protection_of(account_id, region, fs) == PROTECTION_REPLICATING:
            raise _error(
                "ReplicationAlreadyExists",
                409,
                "ReplicationOverwriteProtection cannot be changed while the file system is a replication "
                "destination.",
            )
        setattr(fs, _PROTECTION_ATTR, value)
    return {"ReplicationOverwriteProtection": value}


def _valid_regions() -> set[str]:
    import boto3  # noqa: PLC0415

    return set(boto3.session.Session().get_available_regions("efs"))


def create_replication(
    account_id: str, source_region: str, source_fs_id: str, destinations: list[dict[str, Any]]
) -> dict[str, Any]:
    """CreateReplicationConfiguration; returns the ReplicationConfigurationDescription.

    Args:
        account_id: the account owning both file systems.
        source_region: region of the source file system (the region the call is made in).
        source_fs_id: source file-system id or ARN.
        destinations: exactly one ``DestinationToCreate`` dict (``Region`` and/or
            ``AvailabilityZoneName``, optional ``FileSystemId``, ``KmsKeyId``).
    """
    with regional_state.LOCK:
        source = _get_fs(account_id, source_region, source_fs_id)
        if not isinstance(destinations, list) or len(destinations) != 1:
            count = len(destinations) if isinstance(destinations, list) else destinations
            raise _bad_request(f"Destinations has {count} entries; exactly one destination is supported.")
        dest_spec = destinations[0]
        az = dest_spec.get("AvailabilityZoneName")
        dest_region = dest_spec.get("Region") or (az[:-1] if az else None)
        if not dest_region:
            raise _bad_request("Destinations[0].Region is required (or AvailabilityZoneName for One Zone).")
        if dest_region not in _valid_regions():
            raise _bad_request(f"Destinations[0].Region={dest_region!r} is not an AWS Region where EFS runs.")
        if source.life_cycle_state != "available":
            raise _error(
                "IncorrectFileSystemLifeCycleState",
                409,
                f"File system '{source.file_system_id}' is {source.life_cycle_state}, not available.",
            )
        if find(account_id, source_region, source.file_system_id) is not None:
            raise _error(
                "ReplicationAlreadyExists",
                409,
                f"File system '{source.file_system_id}' is already included in a replication configuration.",
            )
        dest_id = dest_spec.get("FileSystemId")
        if dest_id:
            if dest_spec.get("KmsKeyId") or az:
                raise _bad_request(
                    "KmsKeyId and AvailabilityZoneName apply only when EFS creates the destination; "
                    "omit them with an existing Destinations[0].FileSystemId."
                )
            dest = _get_fs(account_id, dest_region, dest_id)
            if dest is source:
                raise _bad_request("The destination file system must differ from the source.")
            if find(account_id, dest_region, dest.file_system_id) is not None:
                raise _error(
                    "ReplicationAlreadyExists",
                    409,
                    f"File system '{dest.file_system_id}' is already included in a replication "
                    "configuration.",
                )
            if getattr(dest, _PROTECTION_ATTR, PROTECTION_ENABLED) != PROTECTION_DISABLED:
                # The API reference (DestinationToCreate.FileSystemId): "The file system's replication
                # overwrite replication must be disabled." It lists no dedicated error code; Conflict is ours.
                raise _error(
                    "ConflictException",
                    409,
                    f"Destination file system '{dest.file_system_id}' has ReplicationOverwriteProtection "
                    "ENABLED; set it to DISABLED with UpdateFileSystemProtection first.",
                )
            if source.encrypted and not dest.encrypted:
                raise _error(
                    "ConflictException",
                    409,
                    f"Source file system '{source.file_system_id}' is encrypted but destination "
                    f"'{dest.file_system_id}' is not.",
                )
        else:
            kms = dest_spec.get("KmsKeyId")
            dest = _backend(account_id, dest_region).create_file_system(
                creation_token=f"{source.file_system_id}-replica-{uuid.uuid4().hex}",
                performance_mode=source.performance_mode,
                encrypted=bool(source.encrypted or kms),
                kms_key_id=kms,
                throughput_mode=source.throughput_mode,
                provisioned_throughput_in_mibps=source.provisioned_throughput_in_mibps,
                availability_zone_name=az,
                backup=False,
                tags=[],
            )
        rep = Replication(
            account_id=account_id,
            source_region=source_region,
            source_fs=source,
            destination_region=dest_region,
            destination_fs=dest,
            creation_time=regional_state.now(),
            original_source_arn=source.file_system_arn,
        )
        _replications[(account_id, rep.source_id, rep.destination_id)] = rep
        log.info(
            "EFS replication %s/%s -> %s/%s created",
            source_region,
            rep.source_id,
            dest_region,
            rep.destination_id,
        )
        return rep.describe()


def describe_replications(account_id: str, region: str, fs_id: str | None = None) -> list[dict[str, Any]]:
    """DescribeReplicationConfigurations, as called in ``region``."""
    if fs_id:
        fs = _get_fs(account_id, region, fs_id)
        rep = find(account_id, region, fs.file_system_id)
        if rep is None:
            raise _replication_not_found(fs.file_system_id)
        return [rep.describe()]
    return [
        r.describe()
        for r in _live()
        if r.account_id == account_id
        and (
            ("source" in r.sides and r.source_region == region)
            or ("destination" in r.sides and r.destination_region == region)
        )
    ]


DELETION_MODES = ("ALL_CONFIGURATIONS", "LOCAL_CONFIGURATION_ONLY")


def delete_replication(
    account_id: str, region: str, fs_id: str, mode: str = "ALL_CONFIGURATIONS"
) -> Replication:
    """DeleteReplicationConfiguration from either side; returns the configuration.

    ``mode`` ALL_CONFIGURATIONS (default) removes it from both sides; LOCAL_CONFIGURATION_ONLY from the
    side in ``region`` only. The destination keeps what was last synced; once its side no longer holds
    the configuration it is writable with protection ENABLED.
    """
    if mode not in DELETION_MODES:
        raise _bad_request(f"DeletionMode={mode!r} is not valid; use {' or '.join(DELETION_MODES)}.")
    with regional_state.LOCK:
        fs = _get_fs(account_id, region, fs_id)
        rep = find(account_id, region, fs.file_system_id)
        if rep is None:
            raise _replication_not_found(fs.file_system_id)
        # The syncs that fell due before the configuration stops replicating have completed first:
        # ``dataplane`` (engine-less replications) and ``engines.efs_hooks`` wrap this function for that.
        removed = {"source", "destination"} if mode == "ALL_CONFIGURATIONS" else {_side(rep, region, fs)}
        rep.sides = rep.sides - removed
        if "destination" in removed:
            setattr(rep.destination_fs, _PROTECTION_ATTR, PROTECTION_ENABLED)
        if not rep.sides:
            del _replications[(rep.account_id, rep.source_id, rep.destination_id)]
        log.info(
            "EFS replication %s -> %s deleted from %s (%s; sides left: %s)",
            rep.source_id,
            rep.destination_id,
            region,
            mode,
            sorted(rep.sides),
        )
        return rep


def record_sync(rep: Replication, at: float) -> None:
    """Note a completed sync at ``at`` and publish ``AWS/EFS TimeSinceLastSync``."""
    rep.last_replicated = at
    publish_time_since_last_sync(rep)


def publish_time_since_last_sync(rep: Replication) -> None:
    """Put one ``TimeSinceLastSync`` datapoint (seconds) into the source region's CloudWatch."""
    if rep.last_replicated is None:
        return
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    cloudwatch_backends[rep.account_id][rep.source_region].put_metric_data(
        "AWS/EFS",
        [
            {
                "MetricName": "TimeSinceLastSync",
                "Dimensions": [
                    {"Name": "FileSystemId", "Value": rep.source_id},
                    {"Name": "DestinationFileSystemId", "Value": rep.destination_id},
                ],
                "Value": max(0.0, regional_state.now() - rep.last_replicated),
                "Unit": "Seconds",
                # moto's CloudWatch keeps naive UTC datetimes (its utcnow()); an aware one breaks its queries.
                "Timestamp": regional_state.now_datetime().replace(tzinfo=None),
            }
        ],
    )


# --- the HTTP API (methods added to moto's EFSResponse) ------------------------------------------

_JSON = {"Content-Type": "application/json"}


# AWS API: elasticfilesystem CreateReplicationConfiguration —
# https://docs.aws.amazon.com/efs/latest/ug/API_CreateReplicationConfiguration.html
def _api_create_replication_configuration(self: Any) -> Any:
    source_id = self.uri_match.get("SourceFileSystemId") or self._get_param("SourceFileSystemId")
    body = json.loads(self.body or "{}")
    result = create_replication(self.current_account, self.region, source_id, body.get("Destinations"))
    return json.dumps(result), dict(_JSON, status=200)


# AWS API: elasticfilesystem DescribeReplicationConfigurations —
# https://docs.aws.amazon.com/efs/latest/ug/API_DescribeReplicationConfigurations.html
def _api_describe_replication_configurations(self: Any) -> Any:
    fs_id = self.querystring.get("FileSystemId", [None])[0]
    result = describe_replications(self.current_account, self.region, fs_id)
    return json.dumps({"Replications": result}), dict(_JSON, status=200)


# AWS API: elasticfilesystem DeleteReplicationConfiguration —
# https://docs.aws.amazon.com/efs/latest/ug/API_DeleteReplicationConfiguration.html
def _api_delete_replication_configuration(self: Any) -> Any:
    source_id = self.uri_match.get("SourceFileSystemId")
    mode = self.querystring.get("deletionMode", [None])[0]
    delete_replication(self.current_account, self.region, source_id, mode or "ALL_CONFIGURATIONS")
    return "", {"status": 204}


# AWS API: elasticfilesystem UpdateFileSystemProtection —
# https://docs.aws.amazon.com/efs/latest/ug/API_UpdateFileSystemProtection.html
def _api_update_file_system_protection(self: Any) -> Any:
    fs_id = self.uri_match.get("FileSystemId")
    body = json.loads(self.body or "{}")
    value = body.get("ReplicationOverwriteProtection")
    result = update_protection(self.current_account, self.region, fs_id, value)
    return json.dumps(result), dict(_JSON, status=200)


_installed = False


def install() -> None:
    """Add the replication API to moto's EFS, protection to DescribeFileSystems, the delete guard."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.efs import urls  # noqa: PLC0415
    from moto.efs.models import EFSBackend, FileSystem  # noqa: PLC0415
    from moto.efs.responses import EFSResponse  # noqa: PLC0415

    # moto's server routes only the paths its urls module lists; the app is built on first use.
    for path in (
        "/2015-02-01/file-systems/replication-configurations",
        "/2015-02-01/file-systems/<file_system_id>/replication-configuration",
        "/2015-02-01/file-systems/<file_system_id>/protection",
    ):
        urls.url_paths.setdefault(path, urls.response.dispatch)

    patch_attr(EFSResponse, "create_replication_configuration", _api_create_replication_configuration)
    patch_attr(EFSResponse, "describe_replication_configurations", _api_describe_replication_configurations)
    patch_attr(EFSResponse, "delete_replication_configuration", _api_delete_replication_configuration)
    patch_attr(EFSResponse, "update_file_system_protection", _api_update_file_system_protection)

    original_info = FileSystem.info_json

    # AWS API: elasticfilesystem DescribeFileSystems, FileSystemDescription.FileSystemProtection —
    # https://docs.aws.amazon.com/efs/latest/ug/API_FileSystemDescription.html
    def info_json(self: Any) -> dict[str, Any]:
        info = original_info(self)
        info["FileSystemProtection"] = {
            "ReplicationOverwriteProtection": _protection_of(self.owner_id, self._context.region_name, self)
        }
        return info

    patch_attr(FileSystem, "info_json", info_json)

    original_delete = EFSBackend.delete_file_system

    # AWS API: elasticfilesystem DeleteFileSystem (FileSystemInUse) —
    # https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html
    def delete_file_system(self: Any, file_system_id: str) -> None:
        if find(self.account_id, self.region_name, file_system_id) is not None:
            raise _error(
                "FileSystemInUse",
                409,
                f"You cannot delete file system {file_system_id} because it is in a replication "
                "configuration; delete the replication configuration first.",
            )
        original_delete(self, file_system_id)

    patch_attr(EFSBackend, "delete_file_system", delete_file_system)
    _installed = True
