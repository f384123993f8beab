"""Application Auto Scaling keeps an ECS service inside its scalable target's range (API through boto3)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import application_autoscaling
from streamflix_dr_emulator.client import DataPlaneClient

REGION = "eu-west-2"
DIM = "ecs:service:DesiredCount"


def make_service(endpoint: str, desired: int) -> str:
    ecs = aws(endpoint, "ecs", REGION)
    cluster = uid("cluster")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=uid("app"), containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}]
    )
    family = ecs.list_task_definitions()["taskDefinitionArns"][-1]
    ecs.create_service(cluster=cluster, serviceName="app", taskDefinition=family, desiredCount=desired)
    return f"service/{cluster}/app"


def desired(endpoint: str, resource_id: str) -> int:
    _, cluster, service = resource_id.split("/")
    svc = aws(endpoint, "ecs", REGION).describe_services(cluster=cluster, services=[service])["services"][0]
    return int(svc["desiredCount"])


def set_desired(endpoint: str, resource_id: str, count: int) -> None:
    _, cluster, service = resource_id.split("/")
    aws(endpoint, "ecs", REGION).update_service(cluster=cluster, service=service, desiredCount=count)


def register(endpoint: str, resource_id: str, **kwargs: Any) -> None:
    aws(endpoint, "application-autoscaling", REGION).register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension=DIM, **kwargs
    )


def add_policy(endpoint: str, resource_id: str) -> None:
    aws(endpoint, "application-autoscaling", REGION).put_scaling_policy(
        PolicyName=uid("cpu"),
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )


def post_evaluate(endpoint: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint}/_streamflix/autoscaling/evaluate", data=b"{}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def test_a_new_minimum_above_the_desired_count_scales_the_service_out(endpoint: str) -> None:
    rid = make_service(endpoint, desired=1)
    register(endpoint, rid, MinCapacity=3, MaxCapacity=6)
    assert desired(endpoint, rid) == 3


def test_a_new_maximum_below_the_desired_count_scales_the_service_in(endpoint: str) -> None:
    rid = make_service(endpoint, desired=4)
    register(endpoint, rid, MinCapacity=0, MaxCapacity=2)
    assert desired(endpoint, rid) == 2


def test_a_fence_that_only_sets_desired_zero_is_undone_by_the_next_scaling_activity(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    add_policy(endpoint, rid)
    set_desired(endpoint, rid, 0)
    assert desired(endpoint, rid) == 0  # UpdateService itself is accepted, as on AWS
    changes = post_evaluate(endpoint)["changes"]
    mine = [c for c in changes if c["resource_id"] == rid]
    assert [(c["from"], c["to"]) for c in mine] == [(0, 2)]
    assert desired(endpoint, rid) == 2


def test_the_emulated_clock_moving_runs_a_scaling_activity(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    add_policy(endpoint, rid)
    set_desired(endpoint, rid, 0)
    DataPlaneClient(endpoint).advance_clock(60)
    assert desired(endpoint, rid) == 2


def test_a_fence_with_min_and_max_zero_holds(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    add_policy(endpoint, rid)
    set_desired(endpoint, rid, 0)
    register(endpoint, rid, MinCapacity=0, MaxCapacity=0)
    post_evaluate(endpoint)
    DataPlaneClient(endpoint).advance_clock(60)
    assert desired(endpoint, rid) == 0
    target = aws(endpoint, "application-autoscaling", REGION).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[rid]
    )["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 0)


def test_suspended_scale_out_keeps_the_service_below_its_minimum(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    add_policy(endpoint, rid)
    register(endpoint, rid, SuspendedState={"DynamicScalingOutSuspended": True})
    set_desired(endpoint, rid, 0)
    post_evaluate(endpoint)
    assert desired(endpoint, rid) == 0
    state = aws(endpoint, "application-autoscaling", REGION).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[rid]
    )["ScalableTargets"][0]["SuspendedState"]
    assert state == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": True,
        "ScheduledScalingSuspended": False,
    }
    # Resuming scale out lets the next activity restore the minimum.
    register(endpoint, rid, SuspendedState={"DynamicScalingOutSuspended": False})
    assert desired(endpoint, rid) == 0  # a SuspendedState-only update sets no range
    post_evaluate(endpoint)
    assert desired(endpoint, rid) == 2


def test_suspended_scale_in_keeps_the_service_above_its_maximum(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=1, MaxCapacity=4, SuspendedState={"DynamicScalingInSuspended": True})
    add_policy(endpoint, rid)
    set_desired(endpoint, rid, 5)
    assert [c for c in application_autoscaling.evaluate() if c["resource_id"] == rid] == []
    assert desired(endpoint, rid) == 5
    register(endpoint, rid, SuspendedState={"DynamicScalingInSuspended": False})
    assert application_autoscaling.evaluate() and desired(endpoint, rid) == 4


def test_a_target_without_a_policy_has_no_scaling_activity(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    set_desired(endpoint, rid, 0)
    post_evaluate(endpoint)
    assert desired(endpoint, rid) == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"MinCapacity": 2}, "required when registering a new scalable target"),
        ({"MinCapacity": 5, "MaxCapacity": 2}, "cannot be greater than maximum"),
        ({"MinCapacity": -1, "MaxCapacity": 2}, "below 0"),
    ],
    ids=["new-target-without-max", "min-above-max", "negative-min"],
)
def test_register_refuses_what_aws_refuses(endpoint: str, kwargs: dict[str, Any], fragment: str) -> None:
    rid = make_service(endpoint, desired=1)
    with pytest.raises(ClientError) as excinfo:
        register(endpoint, rid, **kwargs)
    assert error_of(excinfo) == ("ValidationException", 400)
    assert fragment in str(excinfo.value)


def test_an_update_keeps_the_other_bound_and_checks_the_range_against_it(endpoint: str) -> None:
    rid = make_service(endpoint, desired=2)
    register(endpoint, rid, MinCapacity=2, MaxCapacity=6)
    with pytest.raises(ClientError, match="cannot be greater than maximum"):
        register(endpoint, rid, MinCapacity=7)
    register(endpoint, rid, MinCapacity=4)
    assert desired(endpoint, rid) == 4
