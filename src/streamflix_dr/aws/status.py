"""CloudFormation's many stack statuses collapsed into the few states the code branches on."""

from __future__ import annotations

from enum import Enum


class StackState(Enum):
    """What a stack status means for the next operation."""

    ABSENT = "absent"  # no such stack, or DELETE_COMPLETE
    REVIEW = "review"  # REVIEW_IN_PROGRESS: a CREATE change set exists but was never executed
    IN_PROGRESS = "in_progress"  # an operation is running; wait for it
    STABLE = "stable"  # updatable: *_COMPLETE (including UPDATE_ROLLBACK_COMPLETE)
    ROLLED_BACK = "rolled_back"  # ROLLBACK_COMPLETE/ROLLBACK_FAILED/CREATE_FAILED: empty, delete and recreate
    UPDATE_ROLLBACK_FAILED = "update_rollback_failed"  # needs continue-update-rollback
    DELETE_FAILED = "delete_failed"  # a resource could not be deleted


_ROLLED_BACK = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}


def collapse(status: str | None) -> StackState:
    """The state of a raw ``StackStatus`` (``None`` means the stack does not exist)."""
    if status is None or status == "DELETE_COMPLETE":
        return StackState.ABSENT
    if status == "REVIEW_IN_PROGRESS":
        return StackState.REVIEW
    if status in _ROLLED_BACK:
        return StackState.ROLLED_BACK
    if status == "UPDATE_ROLLBACK_FAILED":
        return StackState.UPDATE_ROLLBACK_FAILED
    if status == "DELETE_FAILED":
        return StackState.DELETE_FAILED
    if status.endswith("_IN_PROGRESS"):
        return StackState.IN_PROGRESS
    if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
        # UPDATE_FAILED/IMPORT_ROLLBACK_FAILED etc. are not terminal in practice; treat the rest as stable.
        return StackState.STABLE
    return StackState.IN_PROGRESS


# The statuses that mean "the operation we started did what we asked".
SUCCESS = {
    "CREATE": {"CREATE_COMPLETE"},
    "UPDATE": {"UPDATE_COMPLETE"},
    "DELETE": {"DELETE_COMPLETE"},
}

RESOURCE_FAILED = {"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED"}


def is_resource_failure(resource_status: str) -> bool:
    """A resource event that explains why an operation failed."""
    return resource_status in RESOURCE_FAILED
