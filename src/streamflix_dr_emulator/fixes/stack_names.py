"""A stack name is unique per region, as in CloudFormation, including stacks waiting for review.

moto 5.2.5 creates a new stack for every CreateChangeSet with ChangeSetType CREATE, whatever already carries
that name: an interrupted deploy whose change set waits (stack REVIEW_IN_PROGRESS) followed by a rerun leaves
several stacks of one name, and DescribeStacks by name answers with whichever comes first. CloudFormation:
- CreateStack for a name held by a stack in any status but DELETE_COMPLETE (REVIEW_IN_PROGRESS included):
  AlreadyExistsException "Stack [<name>] already exists" (API_CreateStack.html, Errors: AlreadyExists,
  "The resource with the name requested already exists"; moto raises it already for stacks it lists).
- CreateChangeSet CREATE for a stack in REVIEW_IN_PROGRESS: allowed, the change set belongs to that same
  stack (same StackId), which stays REVIEW_IN_PROGRESS until a change set is executed
  (API_CreateChangeSet.html: "To create a change set for a stack that doesn't exist, for the ChangeSetType
  parameter, specify CREATE"; the stack "has an expected StackStatus of REVIEW_IN_PROGRESS" until executed;
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
- CreateChangeSet CREATE for a stack in any other live status: ValidationError "Stack [<name>] already exists
  and cannot be created again with the changeSet [<change set>]." (AWS's text, quoted in
  compose-x/ecs_composex#785). Note: a ValidationError, not AlreadyExistsException.
- CreateChangeSet UPDATE (and UpdateStack) for a stack in REVIEW_IN_PROGRESS: ValidationError
  "Stack:<stack id> is in REVIEW_IN_PROGRESS state and can not be updated." (the shape AWS uses for a stack
  that cannot be updated, quoted for ROLLBACK_COMPLETE in jenseickmeyer/todo-app-nodejs#5).
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False

REVIEW = "REVIEW_IN_PROGRESS"
# A stack that never got created (REVIEW_IN_PROGRESS) or whose create failed can only be deleted (or, for
# REVIEW_IN_PROGRESS, given a CREATE change set); updating it is refused.
NOT_UPDATABLE = frozenset({REVIEW, "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS"})


def live_stack(backend: Any, name: str) -> Any | None:
    """The stack of this name that is not deleted, if any (at most one, see the module docstring)."""
    for stack in backend.stacks.values():
        if stack.name == name and stack.status != "DELETE_COMPLETE":
            return stack
    return None


def install() -> None:
    """Patch moto's CreateChangeSet and UpdateStack. Idempotent; installed after fixes.conditions."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    original_create_change_set = CloudFormationBackend.create_change_set

    def create_change_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = ("stack_name", "change_set_name", "template", "parameters", "description", "change_set_type")
        call = dict(zip(names, args, strict=False)) | kwargs
        stack_name, change_set_name = call["stack_name"], call["change_set_name"]
        existing = live_stack(self, stack_name)
        if call.get("change_set_type") == "CREATE" and existing is not None:
            if existing.status != REVIEW:
                raise ValidationError(
                    message=f"Stack [{stack_name}] already exists and cannot be created again with the "
                    f"changeSet [{change_set_name}]."
                )
            change_set_id, new_stack_id = original_create_change_set(self, **call)
            # moto made a second stack of this name: the change set belongs to the waiting one instead.
            self.stacks.pop(new_stack_id, None)
            change_set = self.change_sets[change_set_id]
            change_set.stack = existing
            change_set.stack_id = existing.stack_id
            if call.get("parameters") is not None:
                existing.parameters = call["parameters"]
            if call.get("tags"):
                existing.tags = call["tags"]
            log.info("change set %s joins stack %s (REVIEW_IN_PROGRESS)", change_set_name, existing.stack_id)
            return change_set_id, existing.stack_id
        if (
            call.get("change_set_type") != "CREATE"
            and existing is not None
            and existing.status in NOT_UPDATABLE
        ):
            raise ValidationError(
                message=f"Stack:{existing.stack_id} is in {existing.status} state and can not be updated."
            )
        return original_create_change_set(self, **call)

    original_update_stack = CloudFormationBackend.update_stack

    def update_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        existing = live_stack(self, name) or self.stacks.get(name)
        if existing is not None and existing.status in NOT_UPDATABLE:
            raise ValidationError(
                message=f"Stack:{existing.stack_id} is in {existing.status} state and can not be updated."
            )
        return original_update_stack(self, name, *args, **kwargs)

    patch_attr(CloudFormationBackend, "create_change_set", create_change_set)
    patch_attr(CloudFormationBackend, "update_stack", update_stack)
    _installed = True
