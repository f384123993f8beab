"""ECS services whose image is not in the registry start no tasks; the circuit breaker fails the stack.

moto 5.2.5 never pulls an image: a service reaches ``runningCount == desiredCount`` on UpdateService
whatever its task definition names, and a CloudFormation stack with such a service completes. On AWS:
- A task whose image cannot be pulled stops with ``stoppedReason`` ``CannotPullContainerError: pull image
  manifest has been retried 5 time(s): failed to resolve ref <image>: not found`` (the agent's text, quoted
  in aws/containers-roadmap#2687 and #2493; ECS developer guide "CannotPullContainer task errors",
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html). The service
  keeps trying, ``runningCount`` stays 0.
- With ``deploymentCircuitBreaker.enable`` the deployment's ``rolloutState`` becomes ``FAILED`` with
  ``rolloutStateReason`` "ECS deployment circuit breaker: tasks failed to start."
  (aws/containers-roadmap#1488;
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html); with
  ``rollback`` the service goes back to its previous deployment.
- The CloudFormation handler (aws-cloudformation-resource-providers-ecs, AWS::ECS::Service) then fails the
  create/update with "Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'."
  (HandlerErrorCode GeneralServiceException; aws/containers-roadmap#1205, aws/copilot-cli#2584, #5586), and
  the stack rolls back.
- Without a circuit breaker the handler waits for the service to stabilize until the resource times out
  (hours) and then fails; the emulator fails it at once, loudly, rather than accept it.
An image is "in the registry" when its URI is ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>[:tag]
[@digest]`` and that region's ECR repository holds that tag (default ``latest``) or digest, as
``ecr:DescribeImages`` would answer.

Modelled: the outcome (no running task, the service event, the deployment's rollout state, the stack
failure, the rollback of an update to the previous task definition and count). Not modelled: timing (on
AWS the breaker trips after its failure threshold, 3 to 200 failed tasks, minutes later; here at once),
stopped task records for DescribeTasks (the reason is in the service's events and the deployment), and
images outside ECR (Docker Hub and other registries are assumed pullable; a warning is logged).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool, to_int

log = logging.getLogger(__name__)

_installed = False

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)

CIRCUIT_BREAKER_CFN_MESSAGE = (
    "Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'."
)
CIRCUIT_BREAKER_ROLLOUT_REASON = "ECS deployment circuit breaker: tasks failed to start."


class DeploymentFailedError(Exception):
    """What the AWS::ECS::Service handler reports when the service's tasks cannot start."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def missing_image(account_id: str, region_name: str, task_definition: Any) -> str | None:
    """The first image of ``task_definition`` that its ECR registry does not hold, else None."""
    from moto.ecr.models import ecr_backends  # noqa: PLC0415

    for container in getattr(task_definition, "container_definitions", None) or []:
        image = str(container.get("image") or "")
        match = ECR_IMAGE.match(image)
        if match is None:
            log.warning(
                "ECS task definition %s: image %r is not an ECR image URI; the emulator assumes it pulls",
                getattr(task_definition, "arn", "?"),
                image,
            )
            continue
        try:
            backend = ecr_backends[match["account"]][match["region"]]
        except KeyError:
            return image
        repo = backend.repositories.get(match["repo"])
        if repo is None:
            return image
        tag = match["tag"] or (None if match["digest"] else "latest")
        found = any(
            (tag is None or tag in i.image_tags)
            and (not match["digest"] or match["digest"] == i.get_image_digest())
            for i in repo.images
        )
        if not found:
            return image
    return None


def pull_error(image: str) -> str:
    """The stoppedReason ECS gives a task whose image is not in the registry (see the module docstring)."""
    return (
        f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {image}: {image}: not found"
    )


def circuit_breaker(config: Any) -> tuple[bool, bool]:
    """(enable, rollback) of a service's deploymentConfiguration (API or CloudFormation spelling)."""
    config = config or {}
    breaker = config.get("deploymentCircuitBreaker") or config.get("DeploymentCircuitBreaker") or {}
    enable = to_bool(breaker.get("enable", breaker.get("Enable"))) is True
    rollback = to_bool(breaker.get("rollback", breaker.get("Rollback"))) is True
    return enable, rollback


def _event(service: Any, message: str) -> None:
    # Service events are listed newest first (DescribeServices, ServiceEvent).
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC), "message": message})


def start_tasks(backend: Any, service: Any) -> str | None:
    """Try to start the service's tasks; when its image is missing none runs. Returns the stop reason."""
    service.streamflix_task_failure = None
    desired = int(service.desired_count or 0)
    if desired <= 0 or not service.task_definition:
        return None
    task_definition = backend.describe_task_definition(service.task_definition)
    image = missing_image(backend.account_id, backend.region_name, task_definition)
    if image is None:
        return None
    reason = pull_error(image)
    backend.update_cluster_resources(
        backend._get_cluster(service.cluster_name), -int(service.running_count or 0), task_state="RUNNING"
    )
    service.running_count = 0
    service.pending_count = 0
    service.streamflix_task_failure = reason
    enable, _ = circuit_breaker(getattr(service, "deployment_configuration", None))
    for deployment in service.deployments[:1]:
        deployment.update(
            runningCount=0,
            pendingCount=0,
            desiredCount=desired,
            failedTasks=int(deployment.get("failedTasks") or 0) + desired,
            taskDefinition=service.task_definition,
            rolloutState="FAILED" if enable else "IN_PROGRESS",
            rolloutStateReason=CIRCUIT_BREAKER_ROLLOUT_REASON
            if enable
            else f"ECS deployment {deployment['id']} in progress.",
            updatedAt=datetime.now(UTC),
        )
    task_id = uuid.uuid4().hex
    _event(service, f"(service {service.name}) has started {desired} tasks: (task {task_id}).")
    _event(service, f"(service {service.name}) (task {task_id}) stopped: {reason}")
    if enable:
        deployment_id = service.deployments[0]["id"] if service.deployments else "?"
        _event(
            service,
            f"(service {service.name}) (deployment {deployment_id}) deployment failed: "
            "tasks failed to start.",
        )
    log.info("ECS service %s in %s starts no task: %s", service.name, backend.region_name, reason)
    return reason


def _cfn_deployment_configuration(props: dict[str, Any]) -> dict[str, Any]:
    config = props.get("DeploymentConfiguration") or {}
    out: dict[str, Any] = {}
    for cfn_key, api_key in (
        ("MaximumPercent", "maximumPercent"),
        ("MinimumHealthyPercent", "minimumHealthyPercent"),
    ):
        if config.get(cfn_key) is not None:
            out[api_key] = to_int(config[cfn_key])
    breaker = config.get("DeploymentCircuitBreaker")
    if breaker:
        out["deploymentCircuitBreaker"] = {
            "enable": to_bool(breaker.get("Enable")) is True,
            "rollback": to_bool(breaker.get("Rollback")) is True,
        }
    return out


def _int_count(props: dict[str, Any]) -> None:
    # DesiredCount from a Number parameter arrives as a string; moto then fails on ``desired - running``.
    if props.get("DesiredCount") is not None:
        props["DesiredCount"] = to_int(props["DesiredCount"])


def _no_stabilize_message(service: Any, reason: str) -> str:
    return (
        f"Service {service.arn} did not stabilize: its tasks fail to start ({reason}). Without a deployment "
        "circuit breaker CloudFormation waits until the resource times out and then fails; the StreamFlix DR "
        "emulator fails at once. Push the image to the region's repository first, or create the service with "
        "DesiredCount 0"
    )


def install() -> None:
    """Patch moto's ECS backend and the AWS::ECS::Service model. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends  # noqa: PLC0415

    original_create_service = EC2ContainerServiceBackend.create_service
    original_update_service = EC2ContainerServiceBackend.update_service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = original_create_service(self, *args, **kwargs)
        start_tasks(self, service)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        # UpdateService is accepted on AWS whatever the image; the tasks then fail to start.
        service = original_update_service(self, service_properties)
        start_tasks(self, service)
        return service

    patch_attr(EC2ContainerServiceBackend, "create_service", create_service)
    patch_attr(EC2ContainerServiceBackend, "update_service", update_service)

    original_cfn_create = Service.create_from_cloudformation_json
    original_cfn_update = Service.update_from_cloudformation_json

    def cfn_create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        _int_count(props)
        service: Any = original_cfn_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        service.deployment_configuration = _cfn_deployment_configuration(props)
        reason = getattr(service, "streamflix_task_failure", None)
        if reason is None:
            return service
        enable, _ = circuit_breaker(service.deployment_configuration)
        backend = ecs_backends[account_id][region_name]
        message = CIRCUIT_BREAKER_CFN_MESSAGE if enable else _no_stabilize_message(service, reason)
        # The failed service is removed with the rollback (nothing of a rolled-back create remains).
        backend.delete_service(service.cluster_name, service.name, force=True)
        raise DeploymentFailedError(message)

    def cfn_update(  # noqa: PLR0917 - moto's signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        _int_count(props)
        before = {
            "task_definition": original_resource.task_definition,
            "desired_count": original_resource.desired_count,
            "running_count": original_resource.running_count,
            "pending_count": original_resource.pending_count,
        }
        original_resource.deployment_configuration = _cfn_deployment_configuration(props)
        service: Any = original_cfn_update(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        service.deployment_configuration = _cfn_deployment_configuration(props)
        reason = getattr(service, "streamflix_task_failure", None)
        if reason is None:
            return service
        enable, rollback = circuit_breaker(service.deployment_configuration)
        if not enable:
            raise DeploymentFailedError(_no_stabilize_message(service, reason))
        if rollback and service is original_resource:
            # ECS rolls the service back to its last completed deployment.
            for key, value in before.items():
                setattr(service, key, value)
            _event(service, f"(service {service.name}) rolling back to the previous deployment.")
        raise DeploymentFailedError(CIRCUIT_BREAKER_CFN_MESSAGE)

    patch_attr(Service, "create_from_cloudformation_json", classmethod(cfn_create))
    patch_attr(Service, "update_from_cloudformation_json", classmethod(cfn_update))
    _installed = True
