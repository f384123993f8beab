"""AWS Backup: a deleted plan's name is free again; moto 5.2.5 keeps refusing it.

moto's DeleteBackupPlan only stamps ``deletion_date`` on the plan (it stays listable with
IncludeDeleted, as on AWS), but its CreateBackupPlan compares the new name against every plan, deleted or
not, and raises AlreadyExistsException. AWS raises that only for a plan that exists
(https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupPlan.html, Errors), so deploying an
environment again after ``destroy`` fails on the emulator alone. Here deleted plans are set aside while the
name is checked.
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_installed = False


def install() -> None:
    """Patch BackupBackend.create_backup_plan. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.backup.models import BackupBackend  # noqa: PLC0415

    original = BackupBackend.create_backup_plan

    def create_backup_plan(self: Any, *args: Any, **kwargs: Any) -> Any:
        deleted = {pid: p for pid, p in self.plans.items() if p.deletion_date is not None}
        for pid in deleted:
            del self.plans[pid]
        try:
            return original(self, *args, **kwargs)
        finally:
            self.plans.update(deleted)

    patch_attr(BackupBackend, "create_backup_plan", create_backup_plan)
    _installed = True
