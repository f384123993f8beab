"""Application Auto Scaling keeps an ECS service inside its scalable target's range, as AWS does.

moto 5.2.5 stores scalable targets but never touches the service: a fence that only sets an ECS
service's desiredCount to 0 holds there, while on AWS the next scaling activity brings the tasks back
up to ``MinCapacity`` (split brain). Modelled here, each from the API reference
(https://docs.aws.amazon.com/autoscaling/application/APIReference/):

* ``RegisterScalableTarget`` — "When you register a new scalable target, you must specify values for
  the minimum and maximum capacity. If the specified resource is not active in the target service,
  this operation does not change the resource's current capacity. Otherwise, it changes the
  resource's current capacity to a value that is inside of this range."
  (API_RegisterScalableTarget.html). So a register/update that gives MinCapacity or MaxCapacity
  clamps the service's desiredCount into [min, max] at once. A call that changes only
  ``SuspendedState`` does not (it sets no range). ``MinCapacity``/``MaxCapacity`` are "required when
  registering a new scalable target"; the minimum allowed for ECS services is 0; min <= max.
* A **scaling activity** — a target tracking or step scaling policy acting — "will not scale capacity
  to values that are outside of the minimum and maximum range". The emulator has no load, so an
  activity of a target with at least one scaling policy moves a desiredCount that is outside the
  range back into it (below min: scale out to min; above max: scale in to max), unless
  ``SuspendedState`` suspends that direction: ``DynamicScalingOutSuspended`` — "all scale-out
  activities that are triggered by a scaling policy are suspended"; ``DynamicScalingInSuspended`` —
  the same for scale in (API_SuspendedState.html, RegisterScalableTarget ``SuspendedState``).
  Scheduled actions are not modelled (the project defines none); a scheduled action would fail
  loudly: PutScheduledAction on an ECS target raises here.
* When does an activity happen? On AWS whenever a policy's alarm fires (every minute at most). Here:
  :func:`evaluate` (also ``POST /_streamflix/autoscaling/evaluate``), and after every advance of the
  emulated clock (``regional_state.advance``, so ``dataplane`` clock moves run it too).

An ECS ``UpdateService`` outside the range is accepted (AWS accepts it too) and corrected by the next
activity. Targets in a region in an emulated outage keep being evaluated: the region's own control
plane still runs, only callers cannot reach it.

HTTP (JSON) on the emulator's port::

    POST /_streamflix/autoscaling/evaluate      -> {"changes": [{"region", "resource_id", "from", "to"}]}
"""

from __future__ import annotations

import json
import logging
from typing import Any

from streamflix_dr_emulator import extension_http, regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/autoscaling"
ECS_DIMENSION = "ecs:service:DesiredCount"
_SUSPEND_KEYS = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def _validation(message: str) -> Exception:
    from moto.applicationautoscaling.exceptions import AWSValidationException  # noqa: PLC0415

    return AWSValidationException(message)


def _ecs_service(account_id: str, region: str, resource_id: str) -> Any:
    """The moto ECS service behind ``service/<cluster>/<service>``, or None."""
    from moto.ecs.models import ecs_backends  # noqa: PLC0415

    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service":
        return None
    backend = ecs_backends[account_id][region]
    found, _ = backend.describe_services(parts[1], [parts[2]])
    return found[0] if found else None


def _set_desired(account_id: str, region: str, resource_id: str, count: int) -> None:
    from moto.ecs.models import ecs_backends  # noqa: PLC0415

    _, cluster, service = resource_id.split("/")
    ecs_backends[account_id][region].update_service(
        {"cluster": cluster, "service": service, "desired_count": count}
    )


def suspended(target: Any) -> dict[str, bool]:
    """The target's SuspendedState with every flag present (AWS's default is false)."""
    state = target.suspended_state or {}
    return {k: str(state.get(k, False)).lower() == "true" for k in _SUSPEND_KEYS}


def _clamp(
    account_id: str, region: str, target: Any, *, respect_suspension: bool, why: str
) -> dict[str, Any] | None:
    if target.scalable_dimension != ECS_DIMENSION:
        return None
    service = _ecs_service(account_id, region, target.resource_id)
    if service is None or getattr(service, "status", "ACTIVE") != "ACTIVE":
        # "If the specified resource is not active in the target service, this operation does not
        # change the resource's current capacity."
        return None
    current = int(service.desired_count)
    low, high = target.min_capacity, target.max_capacity
    wanted = current
    if low is not None and current < int(low):
        wanted = int(low)
    elif high is not None and current > int(high):
        wanted = int(high)
    if wanted == current:
        return None
    if respect_suspension:
        flags = suspended(target)
        if wanted > current and flags["DynamicScalingOutSuspended"]:
            return None
        if wanted < current and flags["DynamicScalingInSuspended"]:
            return None
    _set_desired(account_id, region, target.resource_id, wanted)
    log.info(
        "application autoscaling (%s): %s/%s desiredCount %d -> %d (range %s..%s)",
        why,
        region,
        target.resource_id,
        current,
        wanted,
        low,
        high,
    )
    return {"region": region, "resource_id": target.resource_id, "from": current, "to": wanted, "why": why}


def _has_policy(backend: Any, target: Any) -> bool:
    return any(
        p.resource_id == target.resource_id
        and p.scalable_dimension == target.scalable_dimension
        and p.service_namespace == target.service_namespace
        for p in backend.policies.values()
    )


def evaluate(account_id: str | None = None) -> list[dict[str, Any]]:
    """Run one scaling activity for every ECS scalable target with a scaling policy; return the changes."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends  # noqa: PLC0415

    changes: list[dict[str, Any]] = []
    with regional_state.LOCK:
        for account, regions in list(applicationautoscaling_backends.items()):
            if account == "global" or (account_id is not None and account != account_id):
                continue
            for region, backend in list(regions.items()):
                for target in backend._flatten_scalable_targets("ecs"):
                    if not _has_policy(backend, target):
                        continue
                    change = _clamp(account, region, target, respect_suspension=True, why="scaling activity")
                    if change is not None:
                        changes.append(change)
    return changes


def _http(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    if path == "/evaluate" and method == "POST":
        return 200, {"changes": evaluate(account_id)}
    raise extension_http.HttpError(404, "NotFound", f"no autoscaling endpoint {method} {path}")


_installed = False


def install() -> None:
    """Clamp on register, validate ranges, run activities on clock advances, serve the endpoint."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend  # noqa: PLC0415
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse  # noqa: PLC0415

    original_register = ApplicationAutoscalingBackend.register_scalable_target

    # AWS API: application-autoscaling RegisterScalableTarget —
    # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
    def register_scalable_target(  # noqa: PLR0917 - moto's signature
        self: Any,
        namespace: str,
        r_id: str,
        dimension: str,
        min_capacity: int | None,
        max_capacity: int | None,
        role_arn: str,
        suspended_state: Any,
    ) -> Any:
        if not r_id or len(r_id) > 1600:
            # ResourceId: Length Constraints: Minimum length of 1. Maximum length of 1600.
            raise _validation(
                f"1 validation error detected: Value '{r_id}' at 'resourceId' failed to satisfy constraint: "
                "Member must have length between 1 and 1600"
            )
        existing = self.targets.get(dimension, {}).get(r_id)
        if existing is None and (min_capacity is None or max_capacity is None):
            # MinCapacity/MaxCapacity: "This property is required when registering a new scalable target."
            raise _validation(
                f"MinCapacity and MaxCapacity are required when registering a new scalable target ({r_id})."
            )
        new_min = min_capacity if min_capacity is not None else getattr(existing, "min_capacity", None)
        new_max = max_capacity if max_capacity is not None else getattr(existing, "max_capacity", None)
        for name, value in (("MinCapacity", min_capacity), ("MaxCapacity", max_capacity)):
            if value is not None and int(value) < 0:
                # "For the following resources, the minimum value allowed is 0. ... ECS services".
                raise _validation(
                    f"{name}={value} is below 0, the minimum allowed for {namespace} resources."
                )
        if new_min is not None and new_max is not None and int(new_min) > int(new_max):
            raise _validation(
                f"Minimum capacity ({new_min}) cannot be greater than maximum capacity ({new_max})."
            )
        if suspended_state is not None:
            if not isinstance(suspended_state, dict) or set(suspended_state) - set(_SUSPEND_KEYS):
                raise _validation(
                    f"SuspendedState={suspended_state!r}: its members are "
                    f"{', '.join(_SUSPEND_KEYS)} (booleans)."
                )
            if existing is not None and existing.suspended_state:
                # "Any parameters that you don't specify are not changed by this update request."
                suspended_state = {**existing.suspended_state, **suspended_state}
        with regional_state.LOCK:
            target = original_register(
                self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn, suspended_state
            )
            if min_capacity is not None or max_capacity is not None:
                _clamp(self.account_id, self.region_name, target, respect_suspension=False, why="register")
        return target

    patch_attr(ApplicationAutoscalingBackend, "register_scalable_target", register_scalable_target)

    original_put_scheduled = ApplicationAutoscalingBackend.put_scheduled_action

    def put_scheduled_action(self: Any, *args: Any, **kwargs: Any) -> Any:
        namespace = kwargs.get("service_namespace", args[0] if args else None)
        if namespace == "ecs":
            # Fail loudly rather than accept a schedule that would never run here.
            raise _validation(
                "The StreamFlix DR emulator does not run scheduled actions for ECS services; "
                "model the scaling with RegisterScalableTarget instead."
            )
        return original_put_scheduled(self, *args, **kwargs)

    patch_attr(ApplicationAutoscalingBackend, "put_scheduled_action", put_scheduled_action)

    original_describe = ApplicationAutoScalingResponse.describe_scalable_targets

    # DescribeScalableTargets returns SuspendedState with its three members.
    # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_ScalableTarget.html
    def describe_scalable_targets(self: Any) -> Any:
        result = original_describe(self)
        body = json.loads(result) if isinstance(result, str) else None
        if body is None:
            return result
        for item in body.get("ScalableTargets", []):
            state = item.get("SuspendedState") or {}
            item["SuspendedState"] = {k: str(state.get(k, False)).lower() == "true" for k in _SUSPEND_KEYS}
        return json.dumps(body)

    patch_attr(ApplicationAutoScalingResponse, "describe_scalable_targets", describe_scalable_targets)

    def on_clock(_now: float) -> None:
        evaluate()

    regional_state.on_advance("application_autoscaling", on_clock)
    extension_http.register(PREFIX, _http)
    _installed = True
