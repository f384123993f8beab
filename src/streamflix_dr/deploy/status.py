"""Both regions' stacks, their state and the key outputs, as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.aws.status import StackState, collapse
from streamflix_dr.config import Environment
from streamflix_dr.constants import Output, Param, Role, stack_name
from streamflix_dr.deploy.stacks import Stack, outputs_of, parameters_of

# The outputs an operator looks at first; the full set is in cfn-outputs/<region>.json.
KEY_OUTPUTS: tuple[str, ...] = (
    Output.APP_URL,
    Output.LOAD_BALANCER_DNS_NAME,
    Output.DB_INSTANCE_IDENTIFIER,
    Output.DB_ENDPOINT_ADDRESS,
    Output.FILE_SYSTEM_ID,
    Output.REDIS_REPLICATION_GROUP_ID,
    Output.GLOBAL_DATASTORE_ID,
    Output.ECS_CLUSTER_NAME,
    Output.ECS_SERVICE_NAME,
    Output.HEALTH_CHECK_ID,
    Output.FAILOVER_STATE_MACHINE_ARN,
)


@dataclass(frozen=True)
class StackStatus:
    """One region's stack as seen now."""

    role: Role
    region: str
    stack: str
    status: str  # the raw StackStatus, or NOT_FOUND
    state: StackState
    phase: str = ""
    updated: str = ""
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "region": self.region,
            "stack": self.stack,
            "status": self.status,
            "state": self.state.value,
            "phase": self.phase,
            "updated": self.updated,
            "reason": self.reason,
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class StatusReport:
    """Both regions."""

    env: str
    stacks: tuple[StackStatus, ...]

    @property
    def deployed(self) -> bool:
        """Both stacks exist, are stable and the DR stack is at phase full."""
        return all(s.state is StackState.STABLE for s in self.stacks) and all(
            s.phase == "full" for s in self.stacks if s.role is Role.DR
        )

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "deployed": self.deployed, "stacks": [s.to_dict() for s in self.stacks]}


def status(env: Environment, factory: ClientFactory) -> StatusReport:
    """Describe both regions' stacks (read-only)."""
    out = []
    for role in (Role.PRIMARY, Role.DR):
        region = env.region_of(role).region
        name = stack_name(role, env.suffix)
        desc = Stack(factory.client("cloudformation", region), region, name).describe()
        if desc is None:
            out.append(StackStatus(role, region, name, "NOT_FOUND", StackState.ABSENT))
            continue
        outputs = outputs_of(desc)
        updated = desc.get("LastUpdatedTime") or desc.get("CreationTime")
        out.append(
            StackStatus(
                role=role,
                region=region,
                stack=name,
                status=desc["StackStatus"],
                state=collapse(desc["StackStatus"]),
                phase=parameters_of(desc).get(Param.PHASE, ""),
                updated=_iso(updated),
                reason=desc.get("StackStatusReason", "") or "",
                outputs={k: outputs[k] for k in KEY_OUTPUTS if k in outputs},
            )
        )
    return StatusReport(env.name, tuple(out))


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
