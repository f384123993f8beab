"""Application Auto Scaling ScalableTarget and ScalingPolicy through CloudFormation."""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def template(max_capacity: int = 6, target_value: float = 60.0) -> dict[str, Any]:
    return {
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "web",
                    "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Memory": 512}],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "Task"},
                    "DesiredCount": 2,
                    "ServiceName": "web",
                },
            },
            "Target": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "ecs",
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "ResourceId": {
                        "Fn::Join": [
                            "/",
                            ["service", {"Ref": "Cluster"}, {"Fn::GetAtt": ["Service", "Name"]}],
                        ]
                    },
                    "MinCapacity": 2,
                    "MaxCapacity": max_capacity,
                    "RoleARN": "arn:aws:iam::123456789012:role/autoscale",
                },
            },
            "CpuPolicy": {
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {
                    "PolicyName": "cpu60",
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": {"Ref": "Target"},
                    "TargetTrackingScalingPolicyConfiguration": {
                        "TargetValue": target_value,
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                        },
                    },
                },
            },
        },
        "Outputs": {
            "TargetId": {"Value": {"Ref": "Target"}},
            "PolicyArn": {"Value": {"Ref": "CpuPolicy"}},
            "PolicyArnAtt": {"Value": {"Fn::GetAtt": ["CpuPolicy", "Arn"]}},
            "Cluster": {"Value": {"Ref": "Cluster"}},
        },
    }


def test_scalable_target_and_policy_lifecycle(stacks: Stacks) -> None:
    aas = stacks.factory.client("application-autoscaling", REGION)
    stack = stacks.create(template())
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    resource_id = f"service/{out['Cluster']}/web"
    assert out["TargetId"] == f"{resource_id}|ecs:service:DesiredCount|ecs"

    targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])[
        "ScalableTargets"
    ]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(2, 6)]
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)[
        "ScalingPolicies"
    ]
    assert [p["PolicyName"] for p in policies] == ["cpu60"]
    assert policies[0]["PolicyARN"] == out["PolicyArn"] == out["PolicyArnAtt"]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 60.0

    stacks.assert_status(
        stacks.update(stack["StackName"], template(max_capacity=10, target_value=50.0)), "UPDATE_COMPLETE"
    )
    targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])[
        "ScalableTargets"
    ]
    assert targets[0]["MaxCapacity"] == 10
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)[
        "ScalingPolicies"
    ]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50.0

    stacks.delete(stack["StackName"])
    assert (
        aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])["ScalableTargets"]
        == []
    )
    assert (
        aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)["ScalingPolicies"] == []
    )


def test_target_for_a_missing_service_fails_with_reason(stacks: Stacks) -> None:
    t = template()
    t["Resources"] = {"Target": t["Resources"]["Target"]}
    t["Resources"]["Target"]["Properties"]["ResourceId"] = "service/nope/missing"
    t["Outputs"] = {}
    stack = stacks.create(t)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "Target" in stack["StackStatusReason"]
    assert "AWS::ApplicationAutoScaling::ScalableTarget" in stack["StackStatusReason"]
    assert "Cluster not found" in stack["StackStatusReason"]  # moto's message for the ECS lookup
