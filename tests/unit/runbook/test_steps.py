"""The real steps against moto (RDS, ECS, Route 53, autoscaling) and small fakes where moto has no API."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.errors import FailoverError
from streamflix_dr.runbook.latency import Latency, Timeouts, load_model
from streamflix_dr.runbook.steps import (
    READ_ONLY_PARAMETER,
    FailoverEfs,
    FailoverRedis,
    FencePrimary,
    PromoteDb,
    ScaleEcs,
    StepContext,
    StopSecretReplication,
    SwitchDns,
)
from streamflix_dr.runbook.topology import Topology

from .conftest import DR, PRIMARY, FakeClock


@pytest.fixture
def clear_replica_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's own PromoteReadReplica fix (streamflix_dr_emulator.rds_replication: the link is
    cleared on both sides, a non-replica is refused), applied to in-process moto for this test and
    undone after it. Until the emulator exposes the patch as a function, its ``install`` is reused."""
    from streamflix_dr_emulator import rds_replication  # noqa: PLC0415 - test-only emulator import

    # patch_moto undoes every patch after the test (install() would leave them for the whole process).
    # The promotion's modifying/rebooting phases take no emulated time here (this test's clock is fake);
    # a replica without backups still passes through backing-up, which the step counts as promoted.
    rds_replication.patch_moto(monkeypatch)
    monkeypatch.setattr(
        rds_replication,
        "_promotion_config",
        {**rds_replication.DEFAULT_PROMOTION, "modifying_seconds": 0.0, "rebooting_seconds": 0.0},
    )


def _ecs(factory: ClientFactory, region: str, desired: int) -> None:
    ecs = factory.client("ecs", region)
    ecs.create_cluster(clusterName="streamflix-test")
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}]
    )
    ecs.create_service(
        cluster="streamflix-test", serviceName="app", taskDefinition="app", desiredCount=desired
    )


@pytest.fixture
def world(aws: ClientFactory, topology: Topology) -> Topology:
    """A primary DB with its own parameter group, a cross-region replica, ECS in both regions."""
    rds_p = aws.client("rds", PRIMARY)
    rds_p.create_db_parameter_group(
        DBParameterGroupName="streamflix-pg", DBParameterGroupFamily="postgres16", Description="app"
    )
    arn = rds_p.create_db_instance(
        DBInstanceIdentifier="streamflix-db",
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        MasterUsername="app",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        DBParameterGroupName="streamflix-pg",
        BackupRetentionPeriod=7,
    )["DBInstance"]["DBInstanceArn"]
    # the DR stack has its own copy of the group (a cross-region replica would get the default one)
    aws.client("rds", DR).create_db_parameter_group(
        DBParameterGroupName="streamflix-pg", DBParameterGroupFamily="postgres16", Description="app"
    )
    aws.client("rds", DR).create_db_instance_read_replica(
        DBInstanceIdentifier="streamflix-db-replica", SourceDBInstanceIdentifier=arn, SourceRegion=PRIMARY
    )
    _ecs(aws, PRIMARY, 2)
    _ecs(aws, DR, 1)
    # The primary's autoscaling as the template makes it (min 2): what a fence by desired count alone
    # loses to on the next scaling activity.
    aws.client("application-autoscaling", PRIMARY).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/streamflix-test/app",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2,
        MaxCapacity=4,
    )
    ec2 = aws.client("ec2", PRIMARY)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    fence_sg = ec2.create_security_group(GroupName="db-fence", Description="no rules", VpcId=vpc)["GroupId"]
    # The DR target group with a registered target (moto reports registered targets healthy).
    dr_ec2 = aws.client("ec2", DR)
    dr_vpc = dr_ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    tg = aws.client("elbv2", DR).create_target_group(
        Name="app-tg-test", Protocol="HTTPS", Port=443, VpcId=dr_vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    aws.client("elbv2", DR).register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.10", "Port": 443}])
    return replace(
        topology,
        source_db_fence_security_group_id=fence_sg,
        target_group_arn=tg,
        source_db_arn=arn,
        target_db_instance_id="streamflix-db-replica",
        source_ecs_cluster="streamflix-test",
        source_ecs_service="app",
        target_ecs_cluster="streamflix-test",
        target_ecs_service="app",
        desired_count=2,
    )


def ctx_for(factory: Any, topology: Topology, clock: FakeClock | None = None, **kw: Any) -> StepContext:
    return StepContext(
        factory=factory,
        topology=topology,
        clock=clock or FakeClock(),
        timeouts=kw.pop("timeouts", Timeouts(fence_seconds=2, waiter_delay=1, waiter_max_attempts=3)),
        **kw,
    )


def test_fence_scales_primary_to_zero_and_makes_db_read_only(aws: ClientFactory, world: Topology) -> None:
    ctx = ctx_for(aws, world)
    outcome = FencePrimary().run(ctx)
    assert not outcome.skipped and outcome.warnings == []
    svc = aws.client("ecs", PRIMARY).describe_services(cluster="streamflix-test", services=["app"])[
        "services"
    ][0]
    assert svc["desiredCount"] == 0
    # the scaling is fenced too: min = max = 0 in the primary's region
    target = aws.client("application-autoscaling", PRIMARY).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/streamflix-test/app"]
    )["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 0)
    params = aws.client("rds", PRIMARY).describe_db_parameters(
        DBParameterGroupName="streamflix-pg", Source="user"
    )["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}[READ_ONLY_PARAMETER] == "on"
    # the hard fence: the DB's only security group is the no-rules fence group
    db = aws.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="streamflix-db")[
        "DBInstances"
    ][0]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [
        world.source_db_fence_security_group_id
    ]
    # the DR service is untouched
    dr = aws.client("ecs", DR).describe_services(cluster="streamflix-test", services=["app"])["services"][0]
    assert dr["desiredCount"] == 1


class _DeadRegion:
    """A factory whose clients in one region fail like an unreachable endpoint (or hang)."""

    def __init__(self, real: ClientFactory, region: str, hang: float = 0.0) -> None:
        self.real = real
        self.region = region
        self.hang = hang

    def client(self, service: str, region: str) -> Any:
        if region != self.region:
            return self.real.client(service, region)
        dead = self

        class _Client:
            def __getattr__(self, name: str) -> Any:
                def call(**_: Any) -> Any:
                    if dead.hang:
                        time.sleep(dead.hang)
                    raise EndpointConnectionError(endpoint_url=f"https://{service}.{region}.amazonaws.com")

                return call

        return _Client()


def test_fence_skips_with_warning_when_primary_does_not_answer(aws: ClientFactory, world: Topology) -> None:
    outcome = FencePrimary().run(ctx_for(_DeadRegion(aws, PRIMARY), world))
    assert outcome.skipped
    assert "does not answer" in outcome.warnings[0] and "fencing skipped" in outcome.warnings[0]


def test_fence_is_time_bounded(aws: ClientFactory, world: Topology) -> None:
    # The dead region hangs 3 s and then refuses the connection. Had the step waited for it, the warning
    # would say the region "does not answer"; "silent for" means it gave up at the 0.3 s bound.
    outcome = FencePrimary().run(
        ctx_for(_DeadRegion(aws, PRIMARY, hang=3.0), world, timeouts=Timeouts(fence_seconds=0.3))
    )
    assert outcome.skipped and "silent for" in outcome.warnings[0]
    assert "does not answer" not in outcome.warnings[0]


def test_promote_db_is_idempotent(aws: ClientFactory, world: Topology, clear_replica_link: None) -> None:
    ctx = ctx_for(aws, world)
    step = PromoteDb()
    assert not step.check_done(ctx)
    outcome = step.run(ctx)
    assert "promoted" in outcome.message
    step.verify(ctx)
    assert step.check_done(ctx)
    # running again is harmless: it sees the instance is standalone
    assert step.run(ctx).message == "already standalone"


def test_promote_db_records_replica_lag_as_rpo(
    aws: ClientFactory, world: Topology, clear_replica_link: None
) -> None:
    clock = FakeClock(time.time())
    aws.client("cloudwatch", DR).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Value": 4.0,
                "Unit": "Seconds",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "streamflix-db-replica"}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
            }
        ],
    )
    outcome = PromoteDb().run(ctx_for(aws, world, clock))
    assert outcome.metrics["rpo_seconds"] == 4.0


def test_promote_error_is_a_failover_error_naming_the_instance(
    aws: ClientFactory, world: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    rds = aws.client("rds", DR)

    def refuse(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InvalidDBInstanceState", "Message": "backing-up"}}, "PromoteReadReplica"
        )

    monkeypatch.setattr(rds, "promote_read_replica", refuse)
    with pytest.raises(FailoverError, match="streamflix-db-replica") as info:
        PromoteDb().run(ctx_for(aws, world))
    assert "rerun" in (info.value.fix or "")


def test_scale_ecs_to_primary_capacity_and_raise_autoscaling_minimum(
    aws: ClientFactory, world: Topology
) -> None:
    aas = aws.client("application-autoscaling", DR)
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/streamflix-test/app",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=10,
    )
    ctx = ctx_for(aws, world)
    step = ScaleEcs()
    assert not step.check_done(ctx)
    step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx)
    svc = aws.client("ecs", DR).describe_services(cluster="streamflix-test", services=["app"])["services"][0]
    assert svc["desiredCount"] == 2
    target = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
    assert target["MinCapacity"] == 2


def _failover_dns(aws: ClientFactory, *, pin: bool = True, inverted: bool = False) -> tuple[str, str, str]:
    """The records as the template makes them: PRIMARY (alias to the primary ALB) uses the CALCULATED
    PrimaryRoutingHealthCheck (HTTPS check + the CLOUDWATCH_METRIC pin check), SECONDARY aliases the
    DR ALB. Returns (zone id, routing check id, pin check id)."""
    r53 = aws.client("route53", DR)
    zone = r53.create_hosted_zone(Name="streamflix.example.", CallerReference="x")["HostedZone"]["Id"].split(
        "/"
    )[-1]
    https = r53.create_health_check(
        CallerReference="hc",
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": "primary.streamflix.example",
            "ResourcePath": "/health",
            "RequestInterval": 30,
            "FailureThreshold": 3,
            "Inverted": inverted,
        },
    )["HealthCheck"]["Id"]
    children = [https]
    pin_id = ""
    if pin:
        pin_id = r53.create_health_check(
            CallerReference="pin",
            HealthCheckConfig={
                "Type": "CLOUDWATCH_METRIC",
                "AlarmIdentifier": {"Region": DR, "Name": "streamflix-failover-pin-test"},
                "InsufficientDataHealthStatus": "Healthy",
            },
        )["HealthCheck"]["Id"]
        children.append(pin_id)
    routing = r53.create_health_check(
        CallerReference="routing",
        HealthCheckConfig={
            "Type": "CALCULATED",
            "ChildHealthChecks": children,
            "HealthThreshold": len(children),
            "Inverted": inverted,
        },
    )["HealthCheck"]["Id"]
    changes = []
    for ident, role, target, extra in (
        ("primary", "PRIMARY", "primary-alb.eu-west-2.elb.amazonaws.com.", {"HealthCheckId": routing}),
        ("secondary", "SECONDARY", "dr-alb.us-east-1.elb.amazonaws.com.", {}),
    ):
        changes.append(
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": "watch.streamflix.example.",
                    "Type": "A",
                    "SetIdentifier": ident,
                    "Failover": role,
                    "AliasTarget": {
                        "HostedZoneId": "Z35SXDOTRQ7X7K",
                        "DNSName": target,
                        "EvaluateTargetHealth": True,
                    },
                    **extra,
                },
            }
        )
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return zone, routing, pin_id


class _Route53Answers:
    """Route 53 with TestDNSAnswer and GetHealthCheckStatus as failover routing computes them (plain
    moto has neither): the pin check is unhealthy once StreamFlixDR/FailoverPin >= 1 (Environment =
    the suffix) is in us-east-1's CloudWatch; while it is healthy, the PRIMARY alias is the answer."""

    def __init__(
        self, aws: ClientFactory, suffix: str, pin_id: str, stuck: bool = False, no_test_dns: bool = False
    ) -> None:
        self.real = aws.client("route53", DR)
        self.aws = aws
        self.suffix = suffix
        self.pin_id = pin_id
        self.stuck = stuck
        self.no_test_dns = no_test_dns

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _pinned(self) -> bool:
        if self.stuck:
            return False
        stats = self.aws.client("cloudwatch", DR).get_metric_statistics(
            Namespace="StreamFlixDR",
            MetricName="FailoverPin",
            Dimensions=[{"Name": "Environment", "Value": self.suffix}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return any(p["Maximum"] >= 1 for p in stats)

    def test_dns_answer(self, **kw: Any) -> dict[str, Any]:
        if self.no_test_dns:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "TestDNSAnswer")
        target = (
            "dr-alb.us-east-1.elb.amazonaws.com"
            if self._pinned()
            else "primary-alb.eu-west-2.elb.amazonaws.com"
        )
        return {
            "RecordName": kw["RecordName"],
            "RecordType": "A",
            "RecordData": [target],
            "ResponseCode": "NOERROR",
        }

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:
        status = (
            "Failure: alarm in ALARM" if HealthCheckId == self.pin_id and self._pinned() else "Success: OK"
        )
        return {"HealthCheckObservations": [{"Region": DR, "StatusReport": {"Status": status}}]}


def test_switch_dns_pins_failover_with_a_metric_and_checks_what_route53_answers(
    aws: ClientFactory, topology: Topology
) -> None:
    zone, _routing, pin = _failover_dns(aws)
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    ctx = ctx_for(_FakeFactory(aws, route53=_Route53Answers(aws, t.suffix, pin)), t)
    step = SwitchDns()
    assert not step.check_done(ctx)  # Route 53 answers with the primary
    outcome = step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx) and "DR load balancer" in outcome.message and outcome.warnings == []
    # the pin, in the DR region, with the environment's dimension
    points = aws.client("cloudwatch", DR).list_metrics(Namespace="StreamFlixDR", MetricName="FailoverPin")[
        "Metrics"
    ]
    assert points and points[0]["Dimensions"] == [{"Name": "Environment", "Value": "test"}]
    # nothing inverted anywhere
    r53 = aws.client("route53", DR)
    for hc in r53.list_health_checks()["HealthChecks"]:
        assert not hc["HealthCheckConfig"].get("Inverted"), hc["Id"]


def test_switch_dns_fails_when_route53_still_answers_the_primary(
    aws: ClientFactory, topology: Topology
) -> None:
    zone, _, pin = _failover_dns(aws)
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    ctx = ctx_for(_FakeFactory(aws, route53=_Route53Answers(aws, t.suffix, pin, stuck=True)), t)
    with pytest.raises(FailoverError, match="still answers"):
        SwitchDns().run(ctx)


def test_switch_dns_warns_when_route53_cannot_answer_test_dns_answer(
    aws: ClientFactory, topology: Topology
) -> None:
    zone, _, pin = _failover_dns(aws)
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    r53 = _Route53Answers(aws, t.suffix, pin, no_test_dns=True)
    ctx = ctx_for(_FakeFactory(aws, route53=r53), t)
    outcome = SwitchDns().run(ctx)
    assert any("not confirmed" in w and "reads unhealthy" in w for w in outcome.warnings)
    assert not SwitchDns().check_done(ctx)  # no answer from Route 53 is not "done"


def test_switch_dns_fails_when_the_pin_check_stays_healthy(aws: ClientFactory, topology: Topology) -> None:
    # plain moto: no TestDNSAnswer and every health check reports Success, whatever its alarm
    zone, _, _ = _failover_dns(aws)
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    with pytest.raises(FailoverError, match="still reads healthy"):
        SwitchDns().run(ctx_for(aws, t))


def test_switch_dns_refuses_an_inverted_primary_health_check(aws: ClientFactory, topology: Topology) -> None:
    zone, _, pin = _failover_dns(aws, inverted=True)
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    with pytest.raises(FailoverError, match="inverted"):
        SwitchDns().run(ctx_for(_FakeFactory(aws, route53=_Route53Answers(aws, t.suffix, pin)), t))


def test_switch_dns_without_domain_is_skipped_with_warning(aws: ClientFactory, topology: Topology) -> None:
    outcome = SwitchDns().run(ctx_for(aws, replace(topology, app_url="http://dr-alb")))
    assert outcome.skipped and "http://dr-alb" in outcome.warnings[0]


# -- steps whose APIs plain moto lacks: fakes that follow the AWS API reference
class _FakeFactory:
    def __init__(self, real: ClientFactory, **fakes: Any) -> None:
        self.real = real
        self.fakes = fakes

    def client(self, service: str, region: str) -> Any:
        return self.fakes.get(service.replace("-", "_")) or self.real.client(service, region)


def _not_found(code: str, op: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 404}}, op
    )


class FakeEfs:
    def __init__(self, last_sync: datetime, refuse_all: bool = False) -> None:
        self.replicating = True
        self.last_sync = last_sync
        self.refuse_all = refuse_all
        self.deletes: list[dict[str, Any]] = []

    def describe_replication_configurations(self, FileSystemId: str) -> dict[str, Any]:
        if not self.replicating:
            raise _not_found("ReplicationNotFound", "DescribeReplicationConfigurations")
        return {
            "Replications": [
                {
                    "SourceFileSystemId": "fs-src",
                    "Destinations": [
                        {
                            "FileSystemId": FileSystemId,
                            "Status": "ENABLED",
                            "LastReplicatedTimestamp": self.last_sync,
                        }
                    ],
                }
            ]
        }

    def delete_replication_configuration(self, **kw: Any) -> None:
        self.deletes.append(kw)
        if self.refuse_all and "DeletionMode" not in kw:
            raise ClientError(
                {"Error": {"Code": "BadRequest", "Message": "source region unreachable"}},
                "DeleteReplicationConfiguration",
            )
        self.replicating = False

    def describe_file_systems(self, FileSystemId: str) -> dict[str, Any]:
        return {
            "FileSystems": [
                {
                    "FileSystemId": FileSystemId,
                    "FileSystemProtection": {
                        "ReplicationOverwriteProtection": "REPLICATING" if self.replicating else "ENABLED"
                    },
                }
            ]
        }


@pytest.mark.parametrize("refuse_all", [False, True], ids=["both-sides", "local-only-when-source-down"])
def test_failover_efs_deletes_replication_and_measures_rpo(
    aws: ClientFactory, topology: Topology, refuse_all: bool
) -> None:
    clock = FakeClock(1_800_000_000.0)
    efs = FakeEfs(datetime.fromtimestamp(clock.now() - 42, UTC), refuse_all=refuse_all)
    ctx = ctx_for(_FakeFactory(aws, efs=efs), replace(topology, target_file_system_id="fs-dr"), clock)
    step = FailoverEfs()
    assert not step.check_done(ctx)
    outcome = step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx)
    assert outcome.metrics["rpo_seconds"] == pytest.approx(42)
    assert efs.deletes[0]["SourceFileSystemId"] == "fs-dr"
    assert (efs.deletes[-1].get("DeletionMode") == "LOCAL_CONFIGURATION_ONLY") is refuse_all


class FakeElastiCache:
    def __init__(self, refuse_failover: bool = False) -> None:
        self.roles = {"rg-primary": "PRIMARY", "rg-dr": "SECONDARY"}
        self.refuse_failover = refuse_failover
        self.calls: list[str] = []

    def describe_global_replication_groups(self, **_: Any) -> dict[str, Any]:
        return {
            "GlobalReplicationGroups": [
                {"Members": [{"ReplicationGroupId": k, "Role": v} for k, v in self.roles.items()]}
            ]
        }

    def failover_global_replication_group(self, **kw: Any) -> None:
        self.calls.append("failover")
        assert kw["PrimaryRegion"] == DR and kw["PrimaryReplicationGroupId"] == "rg-dr"
        if self.refuse_failover:
            raise ClientError(
                {"Error": {"Code": "InvalidGlobalReplicationGroupState", "Message": "primary down"}},
                "FailoverGlobalReplicationGroup",
            )
        self.roles = {"rg-primary": "SECONDARY", "rg-dr": "PRIMARY"}

    def disassociate_global_replication_group(self, **kw: Any) -> None:
        self.calls.append("disassociate")
        self.roles.pop(kw["ReplicationGroupId"])


@pytest.mark.parametrize("refuse", [False, True], ids=["coordinated", "disassociate-when-primary-down"])
def test_failover_redis_promotes_secondary(aws: ClientFactory, topology: Topology, refuse: bool) -> None:
    ec = FakeElastiCache(refuse_failover=refuse)
    t = replace(topology, global_datastore_id="ldgnf-global", target_redis_group_id="rg-dr")
    ctx = ctx_for(_FakeFactory(aws, elasticache=ec), t)
    step = FailoverRedis()
    assert not step.check_done(ctx)
    outcome = step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx)
    assert ec.calls == (["failover", "disassociate"] if refuse else ["failover"])
    assert bool(outcome.warnings) is refuse


def test_redis_without_global_datastore_starts_empty_with_warning(
    aws: ClientFactory, topology: Topology
) -> None:
    outcome = FailoverRedis().run(ctx_for(aws, topology))
    assert outcome.skipped and "starts empty" in outcome.warnings[0]
    assert outcome.metrics == {"rpo_seconds": None}


class FakeSecrets:
    def __init__(self) -> None:
        self.primary = {"db": PRIMARY, "redis": PRIMARY}
        self.stopped: list[str] = []

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        region = self.primary[SecretId]
        return {"Name": SecretId, **({"PrimaryRegion": region} if region != DR else {})}

    def stop_replication_to_replica(self, SecretId: str) -> None:
        self.stopped.append(SecretId)
        self.primary[SecretId] = DR


def test_stop_secret_replication(aws: ClientFactory, topology: Topology) -> None:
    sm = FakeSecrets()
    ctx = ctx_for(_FakeFactory(aws, secretsmanager=sm), replace(topology, secret_names=("db", "redis")))
    step = StopSecretReplication()
    assert not step.check_done(ctx)
    step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx) and sm.stopped == ["db", "redis"]


def test_latency_model_is_slept_scaled_and_booked(
    aws: ClientFactory, world: Topology, clear_replica_link: None
) -> None:
    slept: list[float] = []
    latency = Latency(actions=load_model(), scale=1 / 60, enabled=True, sleep=slept.append)
    ctx = ctx_for(aws, world, latency=latency)
    PromoteDb().run(ctx)
    assert slept == [pytest.approx(300 / 60)]
    assert latency.take_waited() == 300
    assert latency.take_waited() == 0


def test_latency_model_file_has_a_source_for_every_action() -> None:
    model = load_model()
    for step in (
        FencePrimary(),
        PromoteDb(),
        FailoverEfs(),
        FailoverRedis(),
        StopSecretReplication(),
        ScaleEcs(),
        SwitchDns(),
    ):
        for action in step.actions:
            assert action in model, action
            assert model[action].source and model[action].seconds > 0


def test_full_runbook_on_moto_resumes_nothing_twice(
    aws: ClientFactory, world: Topology, clear_replica_link: None, tmp_path: Any
) -> None:
    from .conftest import make_runner  # noqa: PLC0415

    runner = make_runner(aws, world, FakeClock(), tmp_path, stages=None)  # None: the real steps
    result = runner.run()
    assert result.succeeded, result.error
    statuses = {s.step: s.status.value for s in result.steps}
    assert statuses["promote-db"] == "done" and statuses["scale-ecs"] == "done"
    assert statuses["failover-redis"] == "skipped" and statuses["switch-dns"] == "skipped"
    db = aws.client("rds", DR).describe_db_instances(DBInstanceIdentifier="streamflix-db-replica")[
        "DBInstances"
    ][0]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier")
    assert any("starts empty" in w for w in result.warnings)


class FakeRds:
    """A replica that still reports its source for a few describes after PromoteReadReplica; once
    standalone it reports ``after_status`` (AWS: backing-up while it takes the post-promotion backup)."""

    def __init__(self, lag_describes: int, after_status: str = "available") -> None:
        self.promoted = False
        self.lag_describes = lag_describes
        self.after_status = after_status
        self.calls: list[str] = []

    def describe_db_instances(self, DBInstanceIdentifier: str) -> dict[str, Any]:
        self.calls.append("describe")
        standalone = self.promoted and self.lag_describes <= 0
        if self.promoted:
            self.lag_describes -= 1
        status = self.after_status if standalone else "available"
        db: dict[str, Any] = {"DBInstanceIdentifier": DBInstanceIdentifier, "DBInstanceStatus": status}
        if not standalone:
            db["ReadReplicaSourceDBInstanceIdentifier"] = "arn:aws:rds:eu-west-2:1:db:primary"
        return {"DBInstances": [db]}

    def promote_read_replica(self, **_: Any) -> None:
        self.calls.append("promote")
        self.promoted = True


def test_promote_waits_until_the_replica_link_is_gone(aws: ClientFactory, topology: Topology) -> None:
    rds = FakeRds(lag_describes=3)
    clock = FakeClock()
    ctx = ctx_for(
        _FakeFactory(aws, rds=rds),
        replace(topology, target_db_instance_id="db-replica"),
        clock,
        timeouts=Timeouts(waiter_delay=10, waiter_max_attempts=10),
    )
    step = PromoteDb()
    step.run(ctx)
    step.verify(ctx)
    assert rds.calls.count("promote") == 1
    assert clock.now() - 1_800_000_000.0 >= 30  # polled (fake) 10 s apart until standalone


@pytest.mark.parametrize("status", ["backing-up", "modifying"])
def test_promote_counts_a_standalone_instance_backing_up_as_promoted(
    aws: ClientFactory, topology: Topology, status: str
) -> None:
    # A replica without backups sits in backing-up after promotion, possibly for longer than the Lambda
    # lives; it already takes connections and writes, so the step is done when the link is gone.
    rds = FakeRds(lag_describes=1, after_status=status)
    clock = FakeClock()
    ctx = ctx_for(
        _FakeFactory(aws, rds=rds),
        replace(topology, target_db_instance_id="db-replica"),
        clock,
        timeouts=Timeouts(waiter_delay=10, waiter_max_attempts=3, promote_poll_seconds=60),
    )
    step = PromoteDb()
    step.run(ctx)
    step.verify(ctx)
    assert step.check_done(ctx)
    assert clock.now() - 1_800_000_000.0 <= 20  # did not wait for "available"


def test_promote_that_never_finishes_times_out_with_a_rerun_hint(
    aws: ClientFactory, topology: Topology
) -> None:
    rds = FakeRds(lag_describes=1000)
    ctx = ctx_for(
        _FakeFactory(aws, rds=rds),
        replace(topology, target_db_instance_id="db-replica"),
        FakeClock(),
        timeouts=Timeouts(waiter_delay=10, waiter_max_attempts=3, promote_poll_seconds=30),
    )
    with pytest.raises(FailoverError, match="did not happen within 30 s") as info:
        PromoteDb().run(ctx)
    assert "rerun" in (info.value.fix or "")


def test_operator_can_skip_the_fence(
    aws: ClientFactory, world: Topology, clear_replica_link: None, tmp_path: Any
) -> None:
    from streamflix_dr.constants import StepId  # noqa: PLC0415
    from streamflix_dr.runbook.steps import default_stages  # noqa: PLC0415

    from .conftest import make_runner  # noqa: PLC0415

    stages = default_stages({StepId.FENCE_PRIMARY: "--skip-fence: fence by hand"})
    runner = make_runner(aws, world, FakeClock(), tmp_path, stages=stages)
    assert runner.plan().steps[0].description.startswith("SKIPPED by the operator (--skip-fence")
    result = runner.run()
    assert result.succeeded, result.error
    fence = result.step("fence-primary")
    assert (
        fence is not None
        and fence.status.value == "skipped"
        and fence.warnings == ["--skip-fence: fence by hand"]
    )
    svc = aws.client("ecs", PRIMARY).describe_services(cluster="streamflix-test", services=["app"])[
        "services"
    ][0]
    assert svc["desiredCount"] == 2  # untouched


def test_fence_refused_by_an_answering_primary_stops_the_failover(
    aws: ClientFactory, world: Topology
) -> None:
    # The region answers but refuses: failing over now could leave two writers, so the step fails.
    missing = replace(world, source_ecs_service="no-such-service")
    with pytest.raises(FailoverError, match="fencing the old primary failed") as info:
        FencePrimary().run(ctx_for(aws, missing))
    assert "--skip-fence" in (info.value.fix or "")


def _scaling_activity(aws: ClientFactory, region: str, resource_id: str) -> None:
    """What Application Auto Scaling does on a scaling activity: put the service back inside its
    scalable target's [min, max] (errata §4). Plain moto does not; this stands for it."""
    aas = aws.client("application-autoscaling", region)
    target = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])[
        "ScalableTargets"
    ][0]
    _, cluster, service = resource_id.split("/")
    ecs = aws.client("ecs", region)
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    wanted = min(max(svc["desiredCount"], target["MinCapacity"]), target["MaxCapacity"])
    ecs.update_service(cluster=cluster, service=service, desiredCount=wanted)


def test_fence_holds_after_a_scaling_activity(aws: ClientFactory, world: Topology) -> None:
    FencePrimary().run(ctx_for(aws, world))
    _scaling_activity(aws, PRIMARY, "service/streamflix-test/app")
    svc = aws.client("ecs", PRIMARY).describe_services(cluster="streamflix-test", services=["app"])[
        "services"
    ][0]
    # with min 2 left in place (the old fence), the activity would have brought 2 writers back
    assert svc["desiredCount"] == 0


class _ScalesBack:
    """ECS whose service is scaled back up behind the fence's back (a scheduled action, a pipeline)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_services(self, **kw: Any) -> dict[str, Any]:
        resp = self.real.describe_services(**kw)
        for svc in resp["services"]:
            svc["desiredCount"] = 2
        return dict(resp)


def test_fence_that_does_not_hold_stops_the_failover(aws: ClientFactory, world: Topology) -> None:
    ecs = _ScalesBack(aws.client("ecs", PRIMARY))
    with pytest.raises(FailoverError, match="scaled it back"):
        FencePrimary().run(ctx_for(_FakeFactory(aws, ecs=ecs), world))


def test_fence_without_a_fence_group_says_new_connections_still_reach_the_db(
    aws: ClientFactory, world: Topology
) -> None:
    outcome = FencePrimary().run(ctx_for(aws, replace(world, source_db_fence_security_group_id="")))
    assert any("still accepts new connections" in w for w in outcome.warnings)


def test_fence_books_the_longer_branch_of_the_model(aws: ClientFactory, world: Topology) -> None:
    latency = Latency(actions=load_model(), scale=1 / 6000, enabled=True, sleep=lambda _s: None)
    FencePrimary().run(ctx_for(aws, world, latency=latency))
    model = load_model()
    ecs = model["application_autoscaling.register_scalable_target"].seconds + model["ecs.stop_tasks"].seconds
    db = model["rds.modify_parameter_group"].seconds + model["rds.modify_db_instance_security_groups"].seconds
    assert latency.take_waited() == max(ecs, db)


def test_verify_serving_without_healthy_targets_is_not_serving(aws: ClientFactory, world: Topology) -> None:
    from streamflix_dr.errors import NotServingError  # noqa: PLC0415
    from streamflix_dr.runbook.steps import VerifyServing  # noqa: PLC0415

    elbv2 = aws.client("elbv2", DR)
    elbv2.deregister_targets(
        TargetGroupArn=world.target_group_arn, Targets=[{"Id": "10.0.0.10", "Port": 443}]
    )
    with pytest.raises(NotServingError, match="no healthy target") as info:
        VerifyServing().run(ctx_for(aws, world))
    assert info.value.exit_code == 6


def test_verify_serving_needs_the_health_check_answered(aws: ClientFactory, world: Topology) -> None:
    from streamflix_dr.errors import NotServingError  # noqa: PLC0415
    from streamflix_dr.runbook.steps import VerifyServing  # noqa: PLC0415

    # healthy targets, but the app URL does not answer (nothing listens on port 9 here)
    with pytest.raises(NotServingError, match="does not answer its health check"):
        VerifyServing().run(ctx_for(aws, replace(world, app_url="http://127.0.0.1:9")))
    assert "healthy target" in VerifyServing().run(ctx_for(aws, world)).message


def test_a_run_that_does_not_serve_ends_as_not_serving(
    aws: ClientFactory, world: Topology, clear_replica_link: None, tmp_path: Any
) -> None:
    from streamflix_dr.errors import NotServingError  # noqa: PLC0415

    from .conftest import make_runner  # noqa: PLC0415

    aws.client("elbv2", DR).deregister_targets(
        TargetGroupArn=world.target_group_arn, Targets=[{"Id": "10.0.0.10", "Port": 443}]
    )
    result = make_runner(aws, world, FakeClock(), tmp_path, stages=None).run()
    assert not result.succeeded and result.not_serving
    with pytest.raises(NotServingError):
        result.raise_for_status()


class _SlowSecurityGroups:
    """RDS as AWS answers right after ModifyDBInstance: the old group 'removing', the new 'adding'."""

    def __init__(self, real: Any, old: str, fence: str, describes: int) -> None:
        self.real = real
        self.old = old
        self.fence = fence
        self.describes = describes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_db_instances(self, **kw: Any) -> dict[str, Any]:
        resp = dict(self.real.describe_db_instances(**kw))
        if self.describes > 0 and any(
            g["VpcSecurityGroupId"] != self.old
            for d in resp["DBInstances"]
            for g in d.get("VpcSecurityGroups", [])
        ):
            self.describes -= 1
            for d in resp["DBInstances"]:
                d["VpcSecurityGroups"] = [
                    {"VpcSecurityGroupId": self.old, "Status": "removing"},
                    *[{**g, "Status": "adding"} for g in d["VpcSecurityGroups"]],
                ]
        return resp


def test_fence_waits_for_the_old_security_group_to_go(aws: ClientFactory, world: Topology) -> None:
    rds = _SlowSecurityGroups(
        aws.client("rds", PRIMARY), "sg-old", world.source_db_fence_security_group_id, describes=2
    )
    clock = FakeClock()
    outcome = FencePrimary().run(ctx_for(_FakeFactory(aws, rds=rds), world, clock))
    assert not outcome.skipped and rds.describes == 0
    assert clock.now() > 1_800_000_000.0  # polled (fake time) until only the fence group was left


def test_fence_reads_the_fence_group_from_the_primary_stack_in_cloud(
    aws: ClientFactory, world: Topology
) -> None:
    # The Lambda's topology has no primary outputs: the fence reads DbFenceSecurityGroupId from the
    # primary stack, which answers whenever the fence can run at all.
    import json  # noqa: PLC0415

    fence_sg = world.source_db_fence_security_group_id
    aws.client("cloudformation", PRIMARY).create_stack(
        StackName="streamflix-dr-primary-test",
        TemplateBody=json.dumps(
            {
                "Resources": {
                    "Marker": {
                        "Type": "AWS::SSM::Parameter",
                        "Properties": {"Name": "/fence-test/marker", "Type": "String", "Value": "x"},
                    }
                },
                "Outputs": {"DbFenceSecurityGroupId": {"Value": fence_sg}},
            }
        ),
    )
    outcome = FencePrimary().run(ctx_for(aws, replace(world, source_db_fence_security_group_id="")))
    assert outcome.warnings == []
    db = aws.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="streamflix-db")[
        "DBInstances"
    ][0]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [fence_sg]


def test_fence_finds_the_fence_group_by_name_in_cloud(aws: ClientFactory, world: Topology) -> None:
    # The Lambda is given the group's name (STREAMFLIX_DB_FENCE_SECURITY_GROUP_NAME) and may
    # ec2:DescribeSecurityGroups; it has no cloudformation:DescribeStacks on the primary stack, so the
    # name is how the in-cloud fence finds the group on AWS. No primary stack exists in this test.
    fence_sg = world.source_db_fence_security_group_id
    name = aws.client("ec2", PRIMARY).describe_security_groups(GroupIds=[fence_sg])["SecurityGroups"][0][
        "GroupName"
    ]
    topology = replace(world, source_db_fence_security_group_id="", source_db_fence_security_group_name=name)
    outcome = FencePrimary().run(ctx_for(aws, topology))
    assert outcome.warnings == []
    db = aws.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="streamflix-db")[
        "DBInstances"
    ][0]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [fence_sg]


def test_the_lambda_topology_reads_the_fence_group_name() -> None:
    from streamflix_dr.runbook.topology import ENV_DB_FENCE_SECURITY_GROUP_NAME  # noqa: PLC0415

    environ = {
        "STREAMFLIX_PRIMARY_REGION": PRIMARY,
        "STREAMFLIX_DR_REGION": DR,
        "STREAMFLIX_SUFFIX": "test",
        "STREAMFLIX_JOURNAL_TABLE": "streamflix-dr-journal-test",
        ENV_DB_FENCE_SECURITY_GROUP_NAME: "streamflix-db-fence-test",
    }
    assert Topology.from_environ(environ).source_db_fence_security_group_name == "streamflix-db-fence-test"
