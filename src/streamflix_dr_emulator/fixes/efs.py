"""EFS CloudFormation models: access point Ref, file-system protection and replication properties.

- AWS::EFS::AccessPoint: Ref is the access point id; GetAtt AccessPointId and Arn
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-efs-accesspoint.html).
  moto gives it no physical id, so Ref yields the Python object.
- AWS::EFS::FileSystem ``FileSystemProtection.ReplicationOverwriteProtection`` and
  ``ReplicationConfiguration.Destinations`` (one destination, Region + FileSystemId), both updatable
  without replacement
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-efs-filesystem.html).
  moto ignores both; they are applied through ``streamflix_dr_emulator.efs_replication`` (the EFS
  replication API of this package).
- Deleting a file system that is in a replication configuration, as source (even one whose own
  ``ReplicationConfiguration`` property made it) or destination, fails as on AWS: the CloudFormation
  handler reports GeneralServiceException "You cannot delete file system '<id>' because it is in a
  replication configuration" (pulumi/pulumi-aws-native#2682, which goes through the same CloudFormation
  handler via Cloud Control; EFS user guide "Deleting a replication configuration": delete the
  replication before either file system, https://docs.aws.amazon.com/efs/latest/ug/delete-replications.html).
  The stack delete then ends DELETE_FAILED with that reason; the replication is never removed silently.
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False


class FileSystemInReplicationError(Exception):
    """DeleteFileSystem of a file system that is a replication source or destination."""

    def __init__(self, fs_id: str, role: str, peer: str) -> None:
        self.message = (
            f"You cannot delete file system '{fs_id}' because it is in a replication configuration "
            f"(it is the {role}; the other side is {peer}). Delete the replication configuration first "
            "(DeleteReplicationConfiguration), then the file system."
        )
        super().__init__(self.message)


def _replication(props: dict[str, Any]) -> list[dict[str, Any]]:
    config = props.get("ReplicationConfiguration") or {}
    return list(config.get("Destinations") or [])


def _apply(account_id: str, region_name: str, fs_id: str, props: dict[str, Any], old: dict[str, Any]) -> None:
    from streamflix_dr_emulator import efs_replication  # noqa: PLC0415

    protection = (props.get("FileSystemProtection") or {}).get("ReplicationOverwriteProtection")
    old_protection = (old.get("FileSystemProtection") or {}).get("ReplicationOverwriteProtection")
    if protection and protection != old_protection:
        efs_replication.update_protection(account_id, region_name, fs_id, protection)
    wanted, had = _replication(props), _replication(old)
    if wanted != had:
        if had and efs_replication.find(account_id, region_name, fs_id) is not None:
            efs_replication.delete_replication(account_id, region_name, fs_id)
        if wanted:
            efs_replication.create_replication(account_id, region_name, fs_id, wanted)


def install() -> None:
    """Patch moto's EFS CloudFormation models. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415
    from moto.efs.models import AccessPoint, FileSystem, efs_backends  # noqa: PLC0415

    patch_attr(AccessPoint, "physical_resource_id", property(lambda self: self.access_point_id))
    ap_attrs = {"AccessPointId": lambda ap: ap.access_point_id, "Arn": lambda ap: ap.access_point_arn}
    patch_attr(AccessPoint, "has_cfn_attr", classmethod(lambda cls, attr: attr in ap_attrs))

    def ap_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name not in ap_attrs:
            raise UnformattedGetAttTemplateException()
        return ap_attrs[attribute_name](self)

    patch_attr(AccessPoint, "get_cfn_attribute", ap_get_cfn_attribute)

    # FileSystem GetAtt: Arn and FileSystemId (CFN reference, "Return values").
    fs_attrs = {"Arn": lambda fs: fs.file_system_arn, "FileSystemId": lambda fs: fs.file_system_id}
    patch_attr(FileSystem, "has_cfn_attr", classmethod(lambda cls, attr: attr in fs_attrs))

    def fs_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name not in fs_attrs:
            raise UnformattedGetAttTemplateException()
        return fs_attrs[attribute_name](self)

    patch_attr(FileSystem, "get_cfn_attribute", fs_get_cfn_attribute)

    original_create = FileSystem.create_from_cloudformation_json

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        fs: Any = original_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        props = cloudformation_json.get("Properties", {})
        fs.streamflix_cfn_properties = props
        _apply(account_id, region_name, fs.file_system_id, props, {})
        return fs

    def update_from_cloudformation_json(  # noqa: PLR0917 - moto's model signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        old = getattr(original_resource, "streamflix_cfn_properties", {})
        _apply(account_id, region_name, original_resource.file_system_id, props, old)
        if props.get("LifecyclePolicies") is not None:
            efs_backends[account_id][region_name].put_lifecycle_configuration(
                file_system_id=original_resource.file_system_id, policies=props["LifecyclePolicies"]
            )
        original_resource.streamflix_cfn_properties = props
        return original_resource

    def delete(self: Any, account_id: str, region_name: str) -> None:
        from streamflix_dr_emulator import efs_replication  # noqa: PLC0415

        backend = efs_backends[account_id][region_name]
        if self.file_system_id not in backend.file_systems_by_id:
            return
        rep = efs_replication.find(account_id, region_name, self.file_system_id)
        if rep is not None:
            if (rep.source_region, rep.source_id) == (region_name, self.file_system_id):
                role, peer = "source", f"{rep.destination_id} in {rep.destination_region}"
            else:
                role, peer = "destination", f"{rep.source_id} in {rep.source_region}"
            raise FileSystemInReplicationError(self.file_system_id, role, peer)
        backend.delete_file_system(self.file_system_id)

    patch_attr(FileSystem, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    patch_attr(FileSystem, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))
    patch_attr(FileSystem, "delete", delete)
    _installed = True
