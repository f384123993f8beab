"""ECS services whose image is not in the region's ECR start no task; the circuit breaker fails the stack."""

from __future__ import annotations

import json
import uuid
from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest
ACCOUNT = "123456789012"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
)


def _template(repo: str, tag: str, desired: str, *, breaker: bool = True) -> dict[str, Any]:
    service: dict[str, Any] = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "Cluster": {"Ref": "Cluster"},
            "TaskDefinition": {"Ref": "Task"},
            "DesiredCount": {"Ref": "Desired"},
            "LaunchType": "FARGATE",
        },
    }
    if breaker:
        service["Properties"]["DeploymentConfiguration"] = {
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}
        }
    return {
        "Parameters": {"Desired": {"Type": "Number", "Default": desired}},
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": f"{repo}-c"}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": f"{repo}-t",
                    "RequiresCompatibilities": ["FARGATE"],
                    "Cpu": "256",
                    "Memory": "512",
                    "ContainerDefinitions": [
                        {
                            "Name": "app",
                            "Image": {
                                "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/"
                                + f"{repo}:{tag}"
                            },
                        }
                    ],
                },
            },
            "Service": service,
        },
    }


def _repo(stacks: Stacks, *, push: str | None = None) -> str:
    name = f"img-{uuid.uuid4().hex[:8]}"
    ecr = stacks.factory.client("ecr", REGION)
    ecr.create_repository(repositoryName=name)
    if push:
        ecr.put_image(repositoryName=name, imageManifest=MANIFEST, imageTag=push)
    return name


def _service(stacks: Stacks, repo: str) -> dict[str, Any]:
    ecs = stacks.factory.client("ecs", REGION)
    arns = ecs.list_services(cluster=f"{repo}-c")["serviceArns"]
    assert len(arns) == 1
    svc: dict[str, Any] = ecs.describe_services(cluster=f"{repo}-c", services=arns)["services"][0]
    return svc


def test_create_with_a_missing_image_trips_the_circuit_breaker_and_rolls_back(stacks: Stacks) -> None:
    repo = _repo(stacks)  # the repository exists, the tag was never pushed
    stack = stacks.create(_template(repo, "v1", "2"))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert (
        "Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'."
        in stack["StackStatusReason"]
    )
    failed = [e for e in stacks.events(stack["StackName"]) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Service"]
    ecs = stacks.factory.client("ecs", REGION)
    # The rollback deleted the cluster (a deleted cluster is listed as INACTIVE), the service first.
    assert [c["status"] for c in ecs.describe_clusters(clusters=[f"{repo}-c"])["clusters"]] == ["INACTIVE"]


def test_create_without_a_circuit_breaker_fails_loudly_instead_of_waiting(stacks: Stacks) -> None:
    repo = _repo(stacks)
    stack = stacks.create(_template(repo, "v1", "1", breaker=False))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "did not stabilize" in stack["StackStatusReason"]
    assert "CannotPullContainerError" in stack["StackStatusReason"]


def test_desired_count_zero_creates_and_pushed_image_runs(stacks: Stacks) -> None:
    repo = _repo(stacks)
    stack = stacks.create(_template(repo, "v1", "0"))
    stacks.assert_status(stack)
    assert _service(stacks, repo)["desiredCount"] == 0
    ecs = stacks.factory.client("ecs", REGION)
    svc = ecs.update_service(
        cluster=f"{repo}-c", service=_service(stacks, repo)["serviceArn"], desiredCount=2
    )
    # UpdateService is accepted, but no task can start: the image is not in the registry.
    assert svc["service"]["runningCount"] == 0
    svc = _service(stacks, repo)
    assert (svc["desiredCount"], svc["runningCount"]) == (2, 0)
    assert any("CannotPullContainerError" in e["message"] and repo in e["message"] for e in svc["events"])
    stacks.factory.client("ecr", REGION).put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    ecs.update_service(cluster=f"{repo}-c", service=svc["serviceArn"], desiredCount=2)
    assert _service(stacks, repo)["runningCount"] == 2


def test_stack_update_raising_the_count_without_the_image_fails_and_rolls_the_service_back(
    stacks: Stacks,
) -> None:
    repo = _repo(stacks)
    stack = stacks.create(_template(repo, "v1", "0"))
    stacks.assert_status(stack)
    stack = stacks.update(stack["StackName"], _template(repo, "v1", "0"), parameters={"Desired": "2"})
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert "ECS Deployment Circuit Breaker was triggered" in stack["StackStatusReason"]
    svc = _service(stacks, repo)
    assert (svc["desiredCount"], svc["runningCount"]) == (0, 0)


def test_image_in_another_region_only_does_not_count(stacks: Stacks) -> None:
    repo = _repo(stacks)
    peer = stacks.factory.client("ecr", "eu-west-2")
    peer.create_repository(repositoryName=repo)
    peer.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    stack = stacks.create(_template(repo, "v1", "1"))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    peer.delete_repository(repositoryName=repo, force=True)


def test_create_with_the_image_pushed_completes(stacks: Stacks) -> None:
    repo = _repo(stacks, push="v1")
    stack = stacks.create(_template(repo, "v1", "1"))
    stacks.assert_status(stack)
    assert _service(stacks, repo)["desiredCount"] == 1
