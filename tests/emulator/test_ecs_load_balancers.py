"""A CloudFormation ECS service keeps its LoadBalancers, so its tasks count as the load balancer's targets."""

from __future__ import annotations

from typing import Any

from api_support import aws, uid

from streamflix_dr_emulator import route53_health

REGION = "eu-west-2"


def test_cloudformation_service_registers_its_tasks_with_the_target_group(endpoint: str, stacks: Any) -> None:
    ec2 = aws(endpoint, "ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    template = {
        "Resources": {
            "Alb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Name": uid("alb"), "Subnets": subnets, "Type": "application"},
            },
            "Tg": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Name": uid("tg"),
                    "Port": 8080,
                    "Protocol": "HTTP",
                    "VpcId": vpc,
                    "TargetType": "ip",
                },
            },
            "Listener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "Alb"},
                    "Port": 80,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}}],
                },
            },
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": uid("web"),
                    "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Memory": 512}],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "DependsOn": "Listener",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "Task"},
                    "DesiredCount": 2,
                    "ServiceName": "web",
                    "LoadBalancers": [
                        {"ContainerName": "web", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "Tg"}}
                    ],
                },
            },
        },
        "Outputs": {
            "Dns": {"Value": {"Fn::GetAtt": ["Alb", "DNSName"]}},
            "Cluster": {"Value": {"Ref": "Cluster"}},
            "Tg": {"Value": {"Ref": "Tg"}},
        },
    }
    stack = stacks.create(template, region=REGION)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"], region=REGION)
    ecs = aws(endpoint, "ecs", REGION)
    ecs.update_service(cluster=out["Cluster"], service="web", desiredCount=2)  # tasks start (moto)
    svc = ecs.describe_services(cluster=out["Cluster"], services=["web"])["services"][0]
    assert svc["loadBalancers"] == [
        {"targetGroupArn": out["Tg"], "containerName": "web", "containerPort": 8080}
    ]
    health = aws(endpoint, "elbv2", REGION).describe_target_health(TargetGroupArn=out["Tg"])[
        "TargetHealthDescriptions"
    ]
    assert [h["TargetHealth"]["State"] for h in health] == ["healthy", "healthy"]
    assert (
        route53_health.load_balancer_health("123456789012", out["Dns"], evaluate_target_health=True)[0]
        is True
    )
