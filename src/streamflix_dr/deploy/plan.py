"""What a deploy is about to do, per stack, as data the CLI renders and the operator confirms."""

from __future__ import annotations

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
        }
