"""AWS Backup vault, plan and selection: CloudFormation models, plus the selection API moto lacks.

CloudFormation reference (return values):
- AWS::Backup::BackupVault — Ref BackupVaultName; GetAtt BackupVaultArn, BackupVaultName. BackupVaultTags
  is a map. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-backup-backupvault.html
- AWS::Backup::BackupPlan — Ref BackupPlanId; GetAtt BackupPlanArn, BackupPlanId, VersionId. The rule list is
  ``BackupPlanRule`` and each rule names its vault ``TargetBackupVault`` (the API's ``Rules`` /
  ``TargetBackupVaultName``). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-backup-backupplan.html
- AWS::Backup::BackupSelection — Ref and GetAtt Id/SelectionId are the selection id; GetAtt BackupPlanId.
  Any change replaces it. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-backup-backupselection.html

moto 5.2.5 has no backup selections, so this module keeps them per backend and serves
CreateBackupSelection, GetBackupSelection, ListBackupSelections and DeleteBackupSelection
(https://docs.aws.amazon.com/aws-backup/latest/devguide/API_GetBackupSelection.html and siblings)
on the routes moto already sends to its Backup handler (/backup/plans/{id}/selections/...), plus
ListRecoveryPointsByBackupVault (always empty: moto runs no backup jobs) for teardown.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from moto.backup.models import backup_backends
from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator.cfn._common import CfnResource, generated_name, patch_attr, resource_tags

log = logging.getLogger(__name__)

_SELECTIONS_ATTR = "streamflix_backup_selections"


def _backend(account_id: str, region_name: str) -> Any:
    return backup_backends[account_id][region_name]


class BackupVault(CfnResource, CloudFormationModel):
    """AWS::Backup::BackupVault backed by moto's Vault."""

    CFN_TYPE = "AWS::Backup::BackupVault"
    NAME_PROPERTY = "BackupVaultName"
    ATTRIBUTES = frozenset({"BackupVaultArn", "BackupVaultName"})

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def vault(self) -> Any:
        return _backend(self.account_id, self.region_name).describe_backup_vault(self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def cfn_attributes(self) -> dict[str, Any]:
        return {"BackupVaultArn": self.vault.backup_vault_arn, "BackupVaultName": self.name}

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BackupVault:
        props = cloudformation_json.get("Properties", {})
        # Vault names: 2-50 characters, letters, digits, '-' and '_'.
        name = props.get("BackupVaultName") or generated_name(resource_name, 50)
        tags = resource_tags(
            props.get("BackupVaultTags"),
            account_id,
            region_name,
            kwargs.get("StackId", ""),
            kwargs.get("LogicalId", ""),
        )
        backend = _backend(account_id, region_name)
        backend.create_backup_vault(
            backup_vault_name=name,
            backup_vault_tags=tags,
            encryption_key_arn=props.get("EncryptionKeyArn"),
            creator_request_id=None,
        )
        lock = props.get("LockConfiguration")
        if lock:
            backend.put_backup_vault_lock_configuration(
                backup_vault_name=name,
                min_retention_days=lock.get("MinRetentionDays"),
                max_retention_days=lock.get("MaxRetentionDays"),
                changeable_for_days=lock.get("ChangeableForDays"),
            )
        model = cls(name)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        vault = original_resource.vault
        if props.get("BackupVaultName", original_resource.name) != original_resource.name or props.get(
            "EncryptionKeyArn"
        ) not in (None, vault.encryption_key_arn):
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        tags = resource_tags(
            props.get("BackupVaultTags"),
            account_id,
            region_name,
            original_resource.stack_id,
            original_resource.logical_id,
        )
        _backend(account_id, region_name).tag_resource(vault.backup_vault_arn, tags)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        vault = backend.vaults.get(self.name)
        if vault is not None:
            backend.tagger.delete_all_tags_for_resource(vault.backup_vault_arn)
        backend.delete_backup_vault(self.name)


def api_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """CFN's BackupPlanResourceType in the API's BackupPlanInput shape."""
    rules = []
    for rule in plan.get("BackupPlanRule") or []:
        api_rule = {k: v for k, v in rule.items() if k != "TargetBackupVault"}
        api_rule["TargetBackupVaultName"] = rule["TargetBackupVault"]
        rules.append(api_rule)
    out: dict[str, Any] = {"BackupPlanName": plan["BackupPlanName"], "Rules": rules}
    if plan.get("AdvancedBackupSettings"):
        out["AdvancedBackupSettings"] = plan["AdvancedBackupSettings"]
    return out


class BackupPlan(CfnResource, CloudFormationModel):
    """AWS::Backup::BackupPlan backed by moto's Plan."""

    CFN_TYPE = "AWS::Backup::BackupPlan"
    ATTRIBUTES = frozenset({"BackupPlanArn", "BackupPlanId", "VersionId"})

    def __init__(self, plan: Any) -> None:
        self.plan = plan

    @property
    def physical_resource_id(self) -> str:
        return str(self.plan.backup_plan_id)

    def cfn_attributes(self) -> dict[str, Any]:
        return {
            "BackupPlanArn": self.plan.backup_plan_arn,
            "BackupPlanId": self.plan.backup_plan_id,
            "VersionId": self.plan.version_id,
        }

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BackupPlan:
        props = cloudformation_json.get("Properties", {})
        if not isinstance(props.get("BackupPlan"), dict):
            raise ValueError("AWS::Backup::BackupPlan: BackupPlan is required")
        tags = resource_tags(
            props.get("BackupPlanTags"),
            account_id,
            region_name,
            kwargs.get("StackId", ""),
            kwargs.get("LogicalId", ""),
        )
        plan = _backend(account_id, region_name).create_backup_plan(
            backup_plan=api_plan(props["BackupPlan"]), backup_plan_tags=tags, creator_request_id=None
        )
        model = cls(plan)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # UpdateBackupPlan keeps the id and issues a new VersionId.
        props = cloudformation_json.get("Properties", {})
        plan = original_resource.plan
        fresh = type(plan)(
            backup_plan=api_plan(props["BackupPlan"]),
            creator_request_id=None,
            backend=_backend(account_id, region_name),
        )
        plan.backup_plan = fresh.backup_plan
        plan.version_id = fresh.version_id
        tags = resource_tags(
            props.get("BackupPlanTags"),
            account_id,
            region_name,
            original_resource.stack_id,
            original_resource.logical_id,
        )
        _backend(account_id, region_name).tag_resource(plan.backup_plan_arn, tags)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        # AWS refuses to delete a plan that still has selections; CFN deletes those first (dependency order).
        if (
            self.physical_resource_id in backend.plans
            and backend.plans[self.physical_resource_id].deletion_date is None
        ):
            backend.delete_backup_plan(self.physical_resource_id)


# --- backup selections --------------------------------------------------------------------------


def selections(backend: Any) -> dict[str, dict[str, Any]]:
    """selection id -> record, kept on moto's Backup backend for the region."""
    store = getattr(backend, _SELECTIONS_ATTR, None)
    if store is None:
        store = {}
        setattr(backend, _SELECTIONS_ATTR, store)
    return store


class _NotFound(Exception):
    pass


def create_selection(
    backend: Any, plan_id: str, selection: dict[str, Any], creator_request_id: str | None
) -> dict[str, Any]:
    """CreateBackupSelection: needs an existing (not deleted) plan, a SelectionName and an IamRoleArn."""
    from moto.backup.exceptions import ResourceNotFoundException  # noqa: PLC0415

    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Backup plan {plan_id} not found")
    for required in ("SelectionName", "IamRoleArn"):
        if not selection.get(required):
            raise ValueError(f"BackupSelection.{required} is required")
    record: dict[str, Any] = {
        "SelectionId": str(uuid.uuid4()),
        "BackupPlanId": plan_id,
        "BackupSelection": selection,
        "CreationDate": time.time(),
        "CreatorRequestId": creator_request_id,
    }
    selections(backend)[record["SelectionId"]] = record
    return record


class BackupSelection(CfnResource, CloudFormationModel):
    """AWS::Backup::BackupSelection kept in the backend's selection store."""

    CFN_TYPE = "AWS::Backup::BackupSelection"
    ATTRIBUTES = frozenset({"BackupPlanId", "SelectionId", "Id"})

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    @property
    def physical_resource_id(self) -> str:
        return str(self.record["SelectionId"])

    def cfn_attributes(self) -> dict[str, Any]:
        return {
            "BackupPlanId": self.record["BackupPlanId"],
            "SelectionId": self.record["SelectionId"],
            "Id": self.record["SelectionId"],
        }

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BackupSelection:
        props = cloudformation_json.get("Properties", {})
        record = create_selection(
            _backend(account_id, region_name),
            props.get("BackupPlanId", ""),
            dict(props.get("BackupSelection") or {}),
            None,
        )
        model = cls(record)
        model._remember(account_id, region_name, kwargs)
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        selections(_backend(account_id, region_name)).pop(self.physical_resource_id, None)


def _install_api() -> None:
    from moto.backup.exceptions import ResourceNotFoundException  # noqa: PLC0415
    from moto.backup.responses import BackupResponse  # noqa: PLC0415

    def _ids(path: str) -> tuple[str, str]:
        # /backup/plans/{backupPlanId}/selections/[{selectionId}]
        after = path.split("/plans/", 1)[-1].strip("/")
        parts = after.split("/")
        return parts[0], parts[2] if len(parts) > 2 else ""

    def create_backup_selection(self: Any) -> str:
        plan_id, _ = _ids(self.path)
        params = json.loads(self.body or "{}")
        record = create_selection(
            self.backup_backend, plan_id, params.get("BackupSelection") or {}, params.get("CreatorRequestId")
        )
        return json.dumps(
            {
                "SelectionId": record["SelectionId"],
                "BackupPlanId": plan_id,
                "CreationDate": record["CreationDate"],
            }
        )

    def get_backup_selection(self: Any) -> str:
        plan_id, selection_id = _ids(self.path)
        record = selections(self.backup_backend).get(selection_id)
        if record is None or record["BackupPlanId"] != plan_id:
            raise ResourceNotFoundException(
                msg=f"Backup selection {selection_id} not found in plan {plan_id}"
            )
        return json.dumps(record)

    def list_backup_selections(self: Any) -> str:
        plan_id, _ = _ids(self.path)
        items = [
            {
                "SelectionId": r["SelectionId"],
                "SelectionName": r["BackupSelection"].get("SelectionName"),
                "BackupPlanId": plan_id,
                "CreationDate": r["CreationDate"],
                "CreatorRequestId": r["CreatorRequestId"],
                "IamRoleArn": r["BackupSelection"].get("IamRoleArn"),
            }
            for r in selections(self.backup_backend).values()
            if r["BackupPlanId"] == plan_id
        ]
        return json.dumps({"BackupSelectionsList": items})

    def delete_backup_selection(self: Any) -> str:
        plan_id, selection_id = _ids(self.path)
        store = selections(self.backup_backend)
        if selection_id not in store or store[selection_id]["BackupPlanId"] != plan_id:
            raise ResourceNotFoundException(
                msg=f"Backup selection {selection_id} not found in plan {plan_id}"
            )
        del store[selection_id]
        return "{}"

    def list_recovery_points_by_backup_vault(self: Any) -> str:
        # moto runs no backup jobs, so a vault holds no recovery points; the vault must exist.
        name = self.path.split("/backup-vaults/", 1)[-1].split("/", 1)[0]
        self.backup_backend.describe_backup_vault(name)
        return json.dumps({"RecoveryPoints": []})

    patch_attr(BackupResponse, "list_recovery_points_by_backup_vault", list_recovery_points_by_backup_vault)
    from moto.backup import urls  # noqa: PLC0415

    # ListRecoveryPointsByBackupVault: GET /backup-vaults/{backupVaultName}/recovery-points/
    urls.url_paths.setdefault("{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$", urls.response.dispatch)
    patch_attr(BackupResponse, "create_backup_selection", create_backup_selection)
    patch_attr(BackupResponse, "get_backup_selection", get_backup_selection)
    patch_attr(BackupResponse, "list_backup_selections", list_backup_selections)
    patch_attr(BackupResponse, "delete_backup_selection", delete_backup_selection)


_installed = False


def install() -> None:
    """Serve the Backup selection API on moto's Backup routes. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if not _installed:
        _install_api()
        _installed = True
