"""Route 53 health checks report what their endpoint answers; TestDNSAnswer answers by failover routing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import route53_health
from streamflix_dr_emulator.client import DataPlaneClient

PRIMARY = "eu-west-2"
DR = "us-east-1"


@dataclass
class Site:
    """One region's load balancer with an ECS service registered in its target group."""

    region: str
    dns_name: str
    cluster: str
    service: str
    zone_id: str  # the load balancer's canonical hosted zone

    def scale(self, endpoint: str, count: int) -> None:
        aws(endpoint, "ecs", self.region).update_service(
            cluster=self.cluster, service=self.service, desiredCount=count
        )


def make_site(endpoint: str, region: str, desired: int) -> Site:
    ec2 = aws(endpoint, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    elb = aws(endpoint, "elbv2", region)
    lb = elb.create_load_balancer(Name=uid("alb"), Subnets=subnets, Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(Name=uid("tg"), Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    ecs = aws(endpoint, "ecs", region)
    cluster = uid("cluster")
    ecs.create_cluster(clusterName=cluster)
    family = uid("app")
    ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}]
    )
    ecs.create_service(
        cluster=cluster,
        serviceName="app",
        taskDefinition=family,
        desiredCount=desired,
        loadBalancers=[
            {"targetGroupArn": tg["TargetGroupArn"], "containerName": "app", "containerPort": 8080}
        ],
    )
    site = Site(region, lb["DNSName"], cluster, "app", lb["CanonicalHostedZoneId"])
    site.scale(endpoint, desired)  # moto starts a new service's tasks on the first update
    return site


@dataclass
class World:
    primary: Site
    dr: Site
    zone_id: str
    domain: str
    endpoint_check: str
    pin_check: str
    routing_check: str
    pin_env: str

    def pin(self, endpoint: str, value: float) -> None:
        aws(endpoint, "cloudwatch", DR).put_metric_data(
            Namespace="StreamFlixDR",
            MetricData=[
                {
                    "MetricName": "FailoverPin",
                    "Dimensions": [{"Name": "Environment", "Value": self.pin_env}],
                    "Value": value,
                }
            ],
        )

    def answer(self, endpoint: str) -> list[str]:
        result = aws(endpoint, "route53", DR).test_dns_answer(
            HostedZoneId=self.zone_id, RecordName=self.domain, RecordType="A"
        )
        assert result["ResponseCode"] == "NOERROR"
        return list(result["RecordData"])


def health_check(endpoint: str, config: dict[str, Any]) -> str:
    return str(
        aws(endpoint, "route53", DR).create_health_check(
            CallerReference=uid("ref"), HealthCheckConfig=config
        )["HealthCheck"]["Id"]
    )


def https_check(endpoint: str, site: Site, **extra: Any) -> str:
    return health_check(
        endpoint,
        {
            "Type": "HTTPS",
            "FullyQualifiedDomainName": site.dns_name,
            "Port": 443,
            "ResourcePath": "/health",
            "RequestInterval": 30,
            "FailureThreshold": 3,
            **extra,
        },
    )


def make_zone(endpoint: str) -> tuple[str, str]:
    domain = f"{uid('app')}.example.com"
    zone = aws(endpoint, "route53", DR).create_hosted_zone(Name=domain, CallerReference=uid("zone"))[
        "HostedZone"
    ]
    return zone["Id"].split("/")[-1], domain


def failover_records(
    endpoint: str, zone_id: str, domain: str, primary: Site, dr: Site, primary_check: str
) -> None:
    def alias(site: Site) -> dict[str, Any]:
        return {"HostedZoneId": site.zone_id, "DNSName": site.dns_name, "EvaluateTargetHealth": True}

    aws(endpoint, "route53", DR).change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": domain,
                        "Type": "A",
                        "SetIdentifier": "primary",
                        "Failover": "PRIMARY",
                        "HealthCheckId": primary_check,
                        "AliasTarget": alias(primary),
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": domain,
                        "Type": "A",
                        "SetIdentifier": "secondary",
                        "Failover": "SECONDARY",
                        "AliasTarget": alias(dr),
                    },
                },
            ]
        },
    )


@pytest.fixture
def outage(endpoint: str) -> Iterator[DataPlaneClient]:
    client = DataPlaneClient(endpoint)
    yield client
    client.restore_region(PRIMARY)


@pytest.fixture
def world(endpoint: str) -> World:
    """The contract's DNS design: HTTPS check + CLOUDWATCH_METRIC pin check inside a CALCULATED check."""
    primary, dr = make_site(endpoint, PRIMARY, 2), make_site(endpoint, DR, 1)
    env, alarm = uid("env"), uid("FailoverPinAlarm")
    aws(endpoint, "cloudwatch", DR).put_metric_alarm(
        AlarmName=alarm,
        Namespace="StreamFlixDR",
        MetricName="FailoverPin",
        Dimensions=[{"Name": "Environment", "Value": env}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    endpoint_check = https_check(endpoint, primary, EnableSNI=True)
    pin_check = health_check(
        endpoint,
        {
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": DR, "Name": alarm},
            "InsufficientDataHealthStatus": "Healthy",
        },
    )
    routing_check = health_check(
        endpoint,
        {"Type": "CALCULATED", "ChildHealthChecks": [endpoint_check, pin_check], "HealthThreshold": 2},
    )
    zone_id, domain = make_zone(endpoint)
    failover_records(endpoint, zone_id, domain, primary, dr, routing_check)
    return World(primary, dr, zone_id, domain, endpoint_check, pin_check, routing_check, env)


def observed(endpoint: str, hc: str) -> set[str]:
    observations = aws(endpoint, "route53", DR).get_health_check_status(HealthCheckId=hc)[
        "HealthCheckObservations"
    ]
    return {o["StatusReport"]["Status"].split(":")[0] for o in observations}


# --- health checks ------------------------------------------------------------------------------------


def test_a_check_of_a_serving_load_balancer_succeeds(endpoint: str) -> None:
    site = make_site(endpoint, PRIMARY, 1)
    assert observed(endpoint, https_check(endpoint, site)) == {"Success"}


def test_a_check_of_a_load_balancer_in_a_failed_region_fails(endpoint: str, outage: DataPlaneClient) -> None:
    site = make_site(endpoint, PRIMARY, 1)
    hc = https_check(endpoint, site)
    outage.fail_region(PRIMARY)
    assert observed(endpoint, hc) == {"Failure"}


def test_a_check_of_a_load_balancer_without_healthy_targets_fails(endpoint: str) -> None:
    site = make_site(endpoint, PRIMARY, 1)
    hc = https_check(endpoint, site)
    site.scale(endpoint, 0)
    assert observed(endpoint, hc) == {"Failure"}


def test_inverted_flips_the_status(endpoint: str, outage: DataPlaneClient) -> None:
    site = make_site(endpoint, PRIMARY, 1)
    hc = https_check(endpoint, site, Inverted=True)
    assert observed(endpoint, hc) == {"Failure"}
    outage.fail_region(PRIMARY)
    # The defect of the old DNS switch: an inverted check reports a dead primary as healthy.
    assert observed(endpoint, hc) == {"Success"}


def test_an_unknown_endpoint_fails(endpoint: str) -> None:
    hc = health_check(endpoint, {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80, "ResourcePath": "/"})
    assert observed(endpoint, hc) == {"Failure"}


def test_get_health_check_status_refuses_a_calculated_check(endpoint: str, world: World) -> None:
    with pytest.raises(ClientError) as excinfo:
        aws(endpoint, "route53", DR).get_health_check_status(HealthCheckId=world.routing_check)
    assert error_of(excinfo) == ("InvalidInput", 400)


def test_cloudwatch_metric_check_follows_the_alarm(endpoint: str, world: World) -> None:
    assert observed(endpoint, world.pin_check) == {"Success"}  # insufficient data -> Healthy
    world.pin(endpoint, 1)
    assert observed(endpoint, world.pin_check) == {"Failure"}
    # Maximum over the period: a 0 in the same minute as the 1 does not clear the alarm...
    world.pin(endpoint, 0)
    assert observed(endpoint, world.pin_check) == {"Failure"}
    # ...a 0 in a later period does (failing back is a datapoint a period after the pin).
    DataPlaneClient(endpoint).advance_clock(60)
    world.pin(endpoint, 0)
    assert observed(endpoint, world.pin_check) == {"Success"}


def test_the_health_check_status_metric_is_published_in_us_east_1(endpoint: str, world: World) -> None:
    world.pin(endpoint, 1)
    assert route53_health.evaluate()[world.routing_check] == "Unhealthy"
    metrics = aws(endpoint, "cloudwatch", DR).list_metrics(
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": world.routing_check}],
    )["Metrics"]
    assert len(metrics) >= 1


def test_calculated_threshold_above_the_children_is_unhealthy(endpoint: str) -> None:
    site = make_site(endpoint, PRIMARY, 1)
    child = https_check(endpoint, site)
    always_bad = health_check(
        endpoint, {"Type": "CALCULATED", "ChildHealthChecks": [child], "HealthThreshold": 2}
    )
    always_good = health_check(
        endpoint, {"Type": "CALCULATED", "ChildHealthChecks": [child], "HealthThreshold": 0}
    )
    states = route53_health.evaluate()
    assert (states[always_bad], states[always_good]) == ("Unhealthy", "Healthy")


@pytest.mark.parametrize(
    "config",
    [
        {"Type": "CLOUDWATCH_METRIC", "InsufficientDataHealthStatus": "Healthy"},
        {"Type": "CALCULATED", "ChildHealthChecks": [], "HealthThreshold": 1, "Port": 443},
        {"Type": "HTTPS", "FullyQualifiedDomainName": "x.example.com", "RequestInterval": 20},
        {"Type": "HTTPS", "FullyQualifiedDomainName": "x.example.com", "FailureThreshold": 11},
        {"Type": "HTTPS"},
        {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": DR, "Name": "no-such-alarm"}},
        {
            "Type": "CALCULATED",
            "ChildHealthChecks": ["00000000-0000-0000-0000-000000000000"],
            "HealthThreshold": 1,
        },
    ],
    ids=[
        "metric-without-alarm",
        "port-on-calculated",
        "interval-20",
        "failure-11",
        "no-endpoint",
        "no-alarm",
        "no-child",
    ],
)
def test_create_health_check_refuses_what_aws_refuses(endpoint: str, config: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        health_check(endpoint, config)
    assert error_of(excinfo) == ("InvalidInput", 400)


# --- failover routing (TestDNSAnswer) -----------------------------------------------------------------


def primary_answer(world: World) -> list[str]:
    return route53_health.load_balancer_addresses(world.primary.dns_name)


def dr_answer(world: World) -> list[str]:
    return route53_health.load_balancer_addresses(world.dr.dns_name)


def test_a_healthy_primary_answers_primary(endpoint: str, world: World) -> None:
    assert world.answer(endpoint) == primary_answer(world)


def test_a_dead_primary_answers_secondary(endpoint: str, world: World, outage: DataPlaneClient) -> None:
    outage.fail_region(PRIMARY)
    assert world.answer(endpoint) == dr_answer(world)


def test_with_an_unhealthy_secondary_route53_answers_primary(
    endpoint: str, world: World, outage: DataPlaneClient
) -> None:
    world.dr.scale(endpoint, 0)
    outage.fail_region(PRIMARY)
    assert world.answer(endpoint) == primary_answer(world)


# The pin (FailoverPin=1 -> FailoverPinAlarm ALARM -> pin check unhealthy -> CALCULATED below threshold)
# must send users to DR in every state of the primary.


def test_pin_holds_with_the_primary_healthy(endpoint: str, world: World) -> None:
    world.pin(endpoint, 1)
    assert world.answer(endpoint) == dr_answer(world)


def test_pin_holds_with_the_primary_dead(endpoint: str, world: World, outage: DataPlaneClient) -> None:
    world.pin(endpoint, 1)
    outage.fail_region(PRIMARY)
    assert world.answer(endpoint) == dr_answer(world)


def test_pin_holds_with_the_primary_half_up(endpoint: str, world: World) -> None:
    world.pin(endpoint, 1)
    world.primary.scale(endpoint, 0)  # the load balancer answers, no task behind it
    assert world.answer(endpoint) == dr_answer(world)


def test_pin_holds_while_the_primary_recovers(endpoint: str, world: World, outage: DataPlaneClient) -> None:
    world.pin(endpoint, 1)
    outage.fail_region(PRIMARY)
    outage.advance_clock(600)  # TreatMissingData ignore: the alarm stays in ALARM without new datapoints
    outage.restore_region(PRIMARY)
    world.primary.scale(endpoint, 2)
    assert observed(endpoint, world.endpoint_check) == {"Success"}  # the primary itself is back
    assert world.answer(endpoint) == dr_answer(world)
    world.pin(endpoint, 0)  # failing back
    assert world.answer(endpoint) == primary_answer(world)


def test_test_dns_answer_refuses_an_unknown_zone_and_type(endpoint: str, world: World) -> None:
    r53 = aws(endpoint, "route53", DR)
    with pytest.raises(ClientError) as excinfo:
        r53.test_dns_answer(HostedZoneId="ZNOSUCHZONE", RecordName=world.domain, RecordType="A")
    assert error_of(excinfo)[0] == "NoSuchHostedZone"
    missing = r53.test_dns_answer(
        HostedZoneId=world.zone_id, RecordName=f"nothing.{world.domain}", RecordType="A"
    )
    assert (missing["ResponseCode"], missing["RecordData"]) == ("NXDOMAIN", [])


def test_cloudformation_health_checks_keep_alarm_children_and_inversion(endpoint: str, stacks: Any) -> None:
    alarm = uid("FailoverPinAlarm")
    template = {
        "Resources": {
            "PinAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": alarm,
                    "Namespace": "StreamFlixDR",
                    "MetricName": "FailoverPin",
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "ignore",
                },
            },
            "Endpoint": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "HTTPS",
                        "FullyQualifiedDomainName": "nothing.example.com",
                        "Port": 443,
                        "Inverted": "true",
                    }
                },
            },
            "Pin": {
                "Type": "AWS::Route53::HealthCheck",
                "DependsOn": "PinAlarm",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "CLOUDWATCH_METRIC",
                        "AlarmIdentifier": {"Region": DR, "Name": alarm},
                        "InsufficientDataHealthStatus": "Healthy",
                    }
                },
            },
            "Routing": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "CALCULATED",
                        "ChildHealthChecks": [{"Ref": "Endpoint"}, {"Ref": "Pin"}],
                        "HealthThreshold": 2,
                    }
                },
            },
        }
    }
    stack = stacks.create(template, region=DR)
    stacks.assert_status(stack)
    r53 = aws(endpoint, "route53", DR)

    def config(logical: str) -> dict[str, Any]:
        hc_id = stacks.physical_id(stack["StackName"], logical, region=DR)
        return dict(r53.get_health_check(HealthCheckId=hc_id)["HealthCheck"]["HealthCheckConfig"])

    assert config("Endpoint")["Inverted"] is True
    pin = config("Pin")
    assert pin["AlarmIdentifier"] == {"Region": DR, "Name": alarm}
    assert pin["InsufficientDataHealthStatus"] == "Healthy"
    routing = config("Routing")
    assert (len(routing["ChildHealthChecks"]), routing["HealthThreshold"]) == (2, 2)


def test_update_health_check_inverted_flips_and_keeps_the_alarm(endpoint: str, world: World) -> None:
    r53 = aws(endpoint, "route53", DR)
    r53.update_health_check(HealthCheckId=world.endpoint_check, Inverted=True)
    assert observed(endpoint, world.endpoint_check) == {"Failure"}
    r53.update_health_check(HealthCheckId=world.pin_check, InsufficientDataHealthStatus="Unhealthy")
    config = r53.get_health_check(HealthCheckId=world.pin_check)["HealthCheck"]["HealthCheckConfig"]
    assert config["InsufficientDataHealthStatus"] == "Unhealthy"
    assert config["AlarmIdentifier"]["Region"] == DR
    with pytest.raises(ClientError) as excinfo:
        r53.update_health_check(HealthCheckId=world.pin_check, InsufficientDataHealthStatus="Sometimes")
    assert error_of(excinfo) == ("InvalidInput", 400)


def test_an_alarm_route53_cannot_use_is_refused(endpoint: str) -> None:
    name = uid("p99")
    aws(endpoint, "cloudwatch", DR).put_metric_alarm(
        AlarmName=name,
        Namespace="StreamFlixDR",
        MetricName="Latency",
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    with pytest.raises(ClientError) as excinfo:
        health_check(endpoint, {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": DR, "Name": name}})
    assert error_of(excinfo) == ("InvalidInput", 400)
