"""Deletes moto leaves out for the ECS, ELBv2 and Route 53 types of this project's template.

Without them a deleted stack leaves its ECS cluster, service and task definition, its target group
and listener, and its health check behind, and the next deploy of the same environment fails on
names already taken (e.g. DuplicateTargetGroupName). Each calls the API CloudFormation's handler
uses: DeleteService (force), DeleteCluster, DeregisterTaskDefinition
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Operations.html), DeleteListener,
DeleteTargetGroup (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Operations.html),
DeleteHealthCheck (https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteHealthCheck.html).
A resource that is already gone counts as deleted, as in CloudFormation.
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False


def _ecs(account_id: str, region_name: str) -> Any:
    from moto.ecs.models import ecs_backends  # noqa: PLC0415

    return ecs_backends[account_id][region_name]


def _elbv2(account_id: str, region_name: str) -> Any:
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    return elbv2_backends[account_id][region_name]


def _delete_ecs_service(self: Any, account_id: str, region_name: str) -> None:
    backend = _ecs(account_id, region_name)
    if f"{self.cluster_name}:{self.name}" in backend.services:
        backend.delete_service(self.cluster_name, self.name, force=True)


def _delete_ecs_cluster(self: Any, account_id: str, region_name: str) -> None:
    backend = _ecs(account_id, region_name)
    if self.name in backend.clusters:
        backend.delete_cluster(self.name)


def _delete_task_definition(self: Any, account_id: str, region_name: str) -> None:
    backend = _ecs(account_id, region_name)
    if self.revision in backend.task_definitions.get(self.family, {}):
        backend.deregister_task_definition(self.arn)


def _delete_listener(self: Any, account_id: str, region_name: str) -> None:
    backend = _elbv2(account_id, region_name)
    if any(self.arn in lb.listeners for lb in backend.load_balancers.values()):
        backend.delete_listener(self.arn)


def _delete_target_group(self: Any, account_id: str, region_name: str) -> None:
    backend = _elbv2(account_id, region_name)
    if self.arn in backend.target_groups:
        backend.delete_target_group(self.arn)


def _delete_health_check(self: Any, account_id: str, region_name: str) -> None:
    from moto.route53.models import route53_backends  # noqa: PLC0415

    backend = route53_backends[account_id]["aws"]
    if self.id in backend.health_checks:
        backend.delete_health_check(self.id)


def install() -> None:
    """Give moto's models their deletes. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecs.models import Cluster, Service, TaskDefinition  # noqa: PLC0415
    from moto.elbv2.models import FakeListener, FakeTargetGroup  # noqa: PLC0415
    from moto.route53.models import HealthCheck  # noqa: PLC0415

    for cls, delete_fn in (
        (Service, _delete_ecs_service),
        (Cluster, _delete_ecs_cluster),
        (TaskDefinition, _delete_task_definition),
        (FakeListener, _delete_listener),
        (FakeTargetGroup, _delete_target_group),
        (HealthCheck, _delete_health_check),
    ):
        if "delete" not in cls.__dict__:
            patch_attr(cls, "delete", delete_fn)
    _installed = True
