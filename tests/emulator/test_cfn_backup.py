"""AWS Backup vault, plan and selection through CloudFormation, and the selection API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest
DR_VAULT = "arn:aws:backup:eu-west-2:123456789012:backup-vault:dr"


def template(vault: str, schedule: str = "cron(0 3 * * ? *)") -> dict[str, Any]:
    return {
        "Resources": {
            "Vault": {
                "Type": "AWS::Backup::BackupVault",
                "Properties": {"BackupVaultName": vault, "BackupVaultTags": {"tier": "dr"}},
            },
            "Plan": {
                "Type": "AWS::Backup::BackupPlan",
                "Properties": {
                    "BackupPlan": {
                        "BackupPlanName": f"{vault}-plan",
                        "BackupPlanRule": [
                            {
                                "RuleName": "daily",
                                "TargetBackupVault": {"Ref": "Vault"},
                                "ScheduleExpression": schedule,
                                "Lifecycle": {"DeleteAfterDays": 35},
                                "CopyActions": [
                                    {
                                        "DestinationBackupVaultArn": DR_VAULT,
                                        "Lifecycle": {"DeleteAfterDays": 35},
                                    }
                                ],
                            }
                        ],
                    },
                    "BackupPlanTags": {"tier": "dr"},
                },
            },
            "Selection": {
                "Type": "AWS::Backup::BackupSelection",
                "Properties": {
                    "BackupPlanId": {"Ref": "Plan"},
                    "BackupSelection": {
                        "SelectionName": "databases",
                        "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
                        "Resources": ["arn:aws:rds:us-east-1:123456789012:db:catalog"],
                    },
                },
            },
        },
        "Outputs": {
            "VaultName": {"Value": {"Ref": "Vault"}},
            "VaultArn": {"Value": {"Fn::GetAtt": ["Vault", "BackupVaultArn"]}},
            "PlanId": {"Value": {"Ref": "Plan"}},
            "PlanArn": {"Value": {"Fn::GetAtt": ["Plan", "BackupPlanArn"]}},
            "VersionId": {"Value": {"Fn::GetAtt": ["Plan", "VersionId"]}},
            "SelectionId": {"Value": {"Ref": "Selection"}},
        },
    }


def test_vault_plan_selection_lifecycle(stacks: Stacks) -> None:
    backup = stacks.factory.client("backup", REGION)
    vault = f"streamflix-{uuid.uuid4().hex[:6]}"
    stack = stacks.create(template(vault), tags={"env": "test"})
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])

    described = backup.describe_backup_vault(BackupVaultName=vault)
    assert out["VaultName"] == vault
    assert described["BackupVaultArn"] == out["VaultArn"]
    vault_tags = backup.list_tags(ResourceArn=out["VaultArn"])["Tags"]
    assert vault_tags["tier"] == "dr"
    assert vault_tags["env"] == "test"

    plan = backup.get_backup_plan(BackupPlanId=out["PlanId"])
    assert plan["BackupPlanArn"] == out["PlanArn"]
    rule = plan["BackupPlan"]["Rules"][0]
    assert rule["TargetBackupVaultName"] == vault
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"].endswith(":backup-vault:dr")
    assert backup.list_tags(ResourceArn=out["PlanArn"])["Tags"]["tier"] == "dr"

    selection = backup.get_backup_selection(BackupPlanId=out["PlanId"], SelectionId=out["SelectionId"])
    assert selection["BackupSelection"]["SelectionName"] == "databases"
    assert selection["BackupSelection"]["Resources"] == ["arn:aws:rds:us-east-1:123456789012:db:catalog"]
    listed = backup.list_backup_selections(BackupPlanId=out["PlanId"])["BackupSelectionsList"]
    assert [s["SelectionId"] for s in listed] == [out["SelectionId"]]
    # moto runs no backup jobs: the vault exists and holds no recovery points.
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"] == []

    stacks.assert_status(
        stacks.update(stack["StackName"], template(vault, schedule="cron(0 5 * * ? *)")), "UPDATE_COMPLETE"
    )
    new_out = stacks.outputs(stack["StackName"])
    assert new_out["PlanId"] == out["PlanId"]
    assert new_out["VersionId"] != out["VersionId"]  # UpdateBackupPlan issues a new version
    plan = backup.get_backup_plan(BackupPlanId=out["PlanId"])
    assert plan["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 5 * * ? *)"

    stacks.delete(stack["StackName"])
    with pytest.raises(ClientError) as err:
        backup.describe_backup_vault(BackupVaultName=vault)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert out["PlanId"] not in [p["BackupPlanId"] for p in backup.list_backup_plans()["BackupPlansList"]]
    assert backup.list_backup_selections(BackupPlanId=out["PlanId"])["BackupSelectionsList"] == []


def test_selection_api_create_get_delete(stacks: Stacks) -> None:
    backup = stacks.factory.client("backup", REGION)
    plan_id = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": f"api-{uuid.uuid4().hex[:6]}",
            "Rules": [{"RuleName": "r", "TargetBackupVaultName": "Default"}],
        }
    )["BackupPlanId"]
    created = backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={"SelectionName": "efs", "IamRoleArn": "arn:aws:iam::123456789012:role/backup"},
    )
    got = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert got["BackupSelection"]["SelectionName"] == "efs"
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    with pytest.raises(ClientError) as err:
        backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        backup.create_backup_selection(
            BackupPlanId="no-such-plan",
            BackupSelection={"SelectionName": "x", "IamRoleArn": "arn:aws:iam::123456789012:role/backup"},
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
