"""What a deploy is about to do, per stack, as data the CLI renders and the operator confirms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streamflix_dr.constants import Phase, Role
from streamflix_dr.deploy.stacks import ResourceChange, StackEvent

# The cross-region order (aws-notes §10): the DR base first, because the primary needs its EFS
# destination, KMS key and backup vault; then the primary; then the DR stack again with the
# primary's DB ARN (the replica) and health check.
DEPLOY_ORDER: tuple[tuple[Role, Phase], ...] = (
    (Role.DR, Phase.BASE),
    (Role.PRIMARY, Phase.FULL),
    (Role.DR, Phase.FULL),
)


# The resource types that hold the environment's data (or the keys that encrypt it). While the environment
# is failed over, the DR stack's change set may not Modify one of them, and may not Replace or Remove
# anything. Sources: aws-cloudformation/aws-cloudformation-resource-providers-rds @5a410e84, under
# aws-rds-dbinstance/ (paths below are relative to it):
# - RDS: ``SourceDBInstanceIdentifier`` is write-only (aws-rds-dbinstance.json, writeOnlyProperties,
#   line 641), so neither drift detection nor a change set can see that the DR instance was promoted.
#   Removing it from the template is a "promotion" to the handler (util/ResourceModelHelper.java:144-147,
#   isDBInstanceReadReplicaPromotion), which then calls PromoteReadReplica (UpdateHandler.java:149-150 and
#   506-516) on an instance that is no longer a replica; any other change of it is "Resource is immutable"
#   (util/ImmutabilityHelper.java:81-84, UpdateHandler.java:77-83). A Modify of the DR instance is applied to
#   what is now the only writable database.
# - ElastiCache: the Global Datastore's update handler may fail over to match the template's PRIMARY
#   member; ``GlobalReplicationGroupId`` of a replication group is createOnly (a change replaces it).
# - EFS: ReplicationConfiguration/FileSystemProtection updates would re-point or re-protect replication.
DATA_STORE_TYPES: tuple[str, ...] = (
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::EFS::FileSystem",
    "AWS::ElastiCache::*",
    "AWS::SecretsManager::Secret",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::Backup::BackupVault",
)

# A stack policy (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html)
# set on the DR stack before a failed-over deploy executes: CloudFormation itself then refuses an update that
# would replace or delete any resource, or touch a data store ("Condition": {"StringLike": {"ResourceType":
# [...]}}), even if the change set check above were wrong. Stack policies apply to updates only, not to
# DeleteStack (destroy still works). moto 5.2.5 stores a stack policy but does not enforce it
# (moto/cloudformation/models.py set_stack_policy keeps the text only): on the emulator the change-set check
# is the only guard.
DATA_STORE_STACK_POLICY: dict[str, Any] = {
    "Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "Update:*",
            "Principal": "*",
            "Resource": "*",
            "Condition": {"StringLike": {"ResourceType": list(DATA_STORE_TYPES)}},
        },
    ]
}
# CloudFormation cannot remove a stack policy; allowing every update is the same as having none.
ALLOW_ALL_STACK_POLICY: dict[str, Any] = {
    "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
}


def stack_policy_body(policy: dict[str, Any]) -> str:
    return json.dumps(policy, sort_keys=True)


def is_data_store(resource_type: str) -> bool:
    return any(
        resource_type.startswith(t[:-1]) if t.endswith("*") else resource_type == t for t in DATA_STORE_TYPES
    )


def unsafe_while_failed_over(change: ResourceChange) -> str:
    """Why this change may not run while the environment is failed over ("" when it may)."""
    if change.action == "Remove":
        return "would be deleted"
    if change.action == "Modify" and change.replacement in ("True", "Conditional"):
        return "would be replaced" if change.replacement == "True" else "might be replaced"
    if is_data_store(change.resource_type) and change.action not in ("Add", "SyncWithActual"):
        return f"is a data store and would change ({change.action})"
    return ""


@dataclass(frozen=True)
class Plan:
    """One stack's pending change: asked about before anything is executed."""

    env: str
    role: Role
    phase: Phase
    region: str
    stack: str
    action: str  # create | update | recreate (delete a ROLLBACK_COMPLETE stack first) | delete
    changes: tuple[ResourceChange, ...] = ()
    reason: str = ""
    template_url: str | None = None
    failed_over: bool = False  # planned while the environment is failed over (the guard applies)

    @property
    def data_store_changes(self) -> tuple[ResourceChange, ...]:
        """The changes that touch a data store (any action)."""
        return tuple(c for c in self.changes if is_data_store(c.resource_type))

    @property
    def refused(self) -> tuple[tuple[ResourceChange, str], ...]:
        """While failed over: each change that may not run, with why (empty otherwise)."""
        if not self.failed_over:
            return ()
        return tuple((c, why) for c in self.changes if (why := unsafe_while_failed_over(c)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "role": self.role.value,
            "phase": self.phase.value,
            "region": self.region,
            "stack": self.stack,
            "action": self.action,
            "reason": self.reason,
            "template_url": self.template_url,
            "changes": [c.to_dict() for c in self.changes],
            "data_store_changes": [c.logical_id for c in self.data_store_changes],
            "failed_over": self.failed_over,
        }


@dataclass(frozen=True)
class StageResult:
    """What happened to one stack in one phase."""

    role: Role
    phase: Phase
    region: str
    stack: str
    action: str  # created | updated | recreated | no-op | skipped
    changes: int
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "phase": self.phase.value,
            "region": self.region,
            "stack": self.stack,
            "action": self.action,
            "changes": self.changes,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class DeployResult:
    """The outcome of a deploy of both regions."""

    env: str
    stages: tuple[StageResult, ...]
    outputs: dict[str, dict[str, str]]  # region -> outputs
    output_files: tuple[str, ...]
    artifact_buckets: dict[str, str]  # region -> bucket
    seconds: float
    events: tuple[StackEvent, ...] = field(default=(), repr=False)
    # The application image in each region (tag, uris, present, available, gated) and, when it is
    # missing, what to push and how to finish (rerun deploy).
    image: dict[str, Any] = field(default_factory=dict)
    next_steps: tuple[str, ...] = ()
    # "normal", or "failed-over" (DR stack only, previous values for the data stores, guarded change set)
    mode: str = "normal"
    # Per stack: the logical ids of data stores its change set touched (empty: no data store changed).
    data_store_changes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(s.action not in ("no-op", "skipped") for s in self.stages)

    @property
    def image_missing(self) -> bool:
        return bool(self.image) and not self.image.get("available", False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
            "stages": [s.to_dict() for s in self.stages],
            "outputs": self.outputs,
            "output_files": list(self.output_files),
            "artifact_buckets": self.artifact_buckets,
            "image": self.image,
            "next_steps": list(self.next_steps),
            "mode": self.mode,
            "data_store_changes": {k: list(v) for k, v in self.data_store_changes.items()},
        }
