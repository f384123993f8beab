"""The real steps against moto (RDS, ECS, Route 53, autoscaling) and small fakes where moto has no API."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto.rds.models import RDSBackend

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
    """moto 5.2.5 leaves ReadReplicaSourceDBInstanceIdentifier after promotion; AWS clears it
    [API PromoteReadReplica]. The project's emulator fixes this; plain moto here gets the same fix."""
    original = RDSBackend.promote_read_replica

    def promote(self: Any, db_kwargs: dict[str, Any]) -> Any:
        db = original(self, db_kwargs)
        db.source_db_instance_identifier = None
        return db

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote)


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
    return replace(
        topology,
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
    params = aws.client("rds", PRIMARY).describe_db_parameters(
        DBParameterGroupName="streamflix-pg", Source="user"
    )["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}[READ_ONLY_PARAMETER] == "on"
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


def test_switch_dns_inverts_the_primary_health_check(aws: ClientFactory, topology: Topology) -> None:
    r53 = aws.client("route53", DR)
    zone = r53.create_hosted_zone(Name="streamflix.example.", CallerReference="x")["HostedZone"]["Id"].split(
        "/"
    )[-1]
    hc = r53.create_health_check(
        CallerReference="hc",
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": "primary.streamflix.example",
            "ResourcePath": "/health",
            "RequestInterval": 30,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "watch.streamflix.example.",
                        "Type": "A",
                        "SetIdentifier": "primary",
                        "Failover": "PRIMARY",
                        "HealthCheckId": hc,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "watch.streamflix.example.",
                        "Type": "A",
                        "SetIdentifier": "secondary",
                        "Failover": "SECONDARY",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.2"}],
                    },
                },
            ]
        },
    )
    t = replace(topology, hosted_zone_id=zone, domain_name="watch.streamflix.example")
    ctx = ctx_for(aws, t)
    step = SwitchDns()
    assert not step.check_done(ctx)
    step.run(ctx)
    step.verify(ctx)
    assert r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]["Inverted"] is True


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
    """A replica that still reports its source for a few describes after PromoteReadReplica."""

    def __init__(self, lag_describes: int) -> None:
        self.promoted = False
        self.lag_describes = lag_describes
        self.calls: list[str] = []

    def describe_db_instances(self, DBInstanceIdentifier: str) -> dict[str, Any]:
        self.calls.append("describe")
        standalone = self.promoted and self.lag_describes <= 0
        if self.promoted:
            self.lag_describes -= 1
        db: dict[str, Any] = {"DBInstanceIdentifier": DBInstanceIdentifier, "DBInstanceStatus": "available"}
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


def test_promote_that_never_finishes_times_out_with_a_rerun_hint(
    aws: ClientFactory, topology: Topology
) -> None:
    rds = FakeRds(lag_describes=1000)
    ctx = ctx_for(
        _FakeFactory(aws, rds=rds),
        replace(topology, target_db_instance_id="db-replica"),
        FakeClock(),
        timeouts=Timeouts(waiter_delay=10, waiter_max_attempts=3),
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
