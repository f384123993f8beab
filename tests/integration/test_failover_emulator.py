"""The failover runbook against the project's emulator (moto + the EFS, Global Datastore, Secrets and
RDS extensions), on resources created directly with boto3: the steps' real API calls, a region outage,
the latency model, and what data survives. The data lives in the emulator's real engines (PostgreSQL,
Valkey, EFS directories), switched on for the one test that writes and reads data; the others test the
control plane with the engines off."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.report.model import build_report
from streamflix_dr.runbook.latency import Latency, Timeouts, load_model
from streamflix_dr.runbook.session import build_runner
from streamflix_dr.runbook.topology import Topology

pytestmark = pytest.mark.integration

PRIMARY, DR = "eu-west-2", "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


@dataclass
class World:
    factory: ClientFactory
    topology: Topology
    dp: Any
    endpoint: str


def _table(f: ClientFactory, name: str) -> None:
    f.client("dynamodb", DR).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )


def build_resources(f: ClientFactory, s: str, *, registered_target: bool = True) -> Topology:
    """Both regions' resources for suffix ``s``, made directly with boto3 (no CloudFormation).

    ``registered_target``: a target registered with the DR target group (the emulator reports it
    healthy), standing for DR tasks that registered; without it the DR region does not serve."""
    table = f"streamflix-dr-journal-{s}"
    _table(f, table)
    for region in (PRIMARY, DR):
        f.client("rds", region).create_db_parameter_group(
            DBParameterGroupName=f"pg-{s}", DBParameterGroupFamily="postgres16", Description="app"
        )
    arn = f.client("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier=f"db-{s}",
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        MasterUsername="app",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
        DBParameterGroupName=f"pg-{s}",
    )["DBInstance"]["DBInstanceArn"]
    f.client("rds", DR).create_db_instance_read_replica(
        DBInstanceIdentifier=f"db-{s}-replica",
        SourceDBInstanceIdentifier=arn,
        SourceRegion=PRIMARY,
        DBParameterGroupName=f"pg-{s}",
    )
    src_fs = f.client("efs", PRIMARY).create_file_system(CreationToken=f"src-{s}")["FileSystemId"]
    dr_efs = f.client("efs", DR)
    dst_fs = dr_efs.create_file_system(CreationToken=f"dst-{s}")["FileSystemId"]
    dr_efs.update_file_system_protection(FileSystemId=dst_fs, ReplicationOverwriteProtection="DISABLED")
    f.client("efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=src_fs, Destinations=[{"Region": DR, "FileSystemId": dst_fs}]
    )
    ec_p = f.client("elasticache", PRIMARY)
    ec_p.create_replication_group(
        ReplicationGroupId=f"rg-{s}",
        ReplicationGroupDescription="p",
        CacheNodeType="cache.r7g.large",
        Engine="redis",
        NumCacheClusters=2,
    )
    gid = ec_p.create_global_replication_group(
        GlobalReplicationGroupIdSuffix=f"g{s}", PrimaryReplicationGroupId=f"rg-{s}"
    )["GlobalReplicationGroup"]["GlobalReplicationGroupId"]
    f.client("elasticache", DR).create_replication_group(
        ReplicationGroupId=f"rg-{s}-dr",
        ReplicationGroupDescription="s",
        GlobalReplicationGroupId=gid,
        NumCacheClusters=2,
    )
    f.client("secretsmanager", PRIMARY).create_secret(
        Name=f"streamflix/{s}/db", SecretString=json.dumps({"p": 1}), AddReplicaRegions=[{"Region": DR}]
    )
    for region, count in ((PRIMARY, 2), (DR, 1)):
        ecs = f.client("ecs", region)
        ecs.create_cluster(clusterName=f"c-{s}")
        ecs.register_task_definition(
            family=f"app-{s}", containerDefinitions=[{"name": "a", "image": "x", "memory": 512}]
        )
        ecs.create_service(cluster=f"c-{s}", serviceName="app", taskDefinition=f"app-{s}", desiredCount=count)
    # The primary's autoscaling (min 2, as the template) and its no-rules DB fence group.
    f.client("application-autoscaling", PRIMARY).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/c-{s}/app",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2,
        MaxCapacity=4,
    )
    ec2_p = f.client("ec2", PRIMARY)
    vpc_p = ec2_p.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    fence_sg = ec2_p.create_security_group(GroupName=f"db-fence-{s}", Description="no rules", VpcId=vpc_p)[
        "GroupId"
    ]
    vpc_dr = f.client("ec2", DR).create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    elbv2 = f.client("elbv2", DR)
    tg = elbv2.create_target_group(
        Name=f"app-tg-{s}", Protocol="HTTPS", Port=443, VpcId=vpc_dr, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    if registered_target:
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.41.0.10", "Port": 443}])
    return Topology(
        suffix=s,
        source_region=PRIMARY,
        target_region=DR,
        journal_table=table,
        source_db_fence_security_group_id=fence_sg,
        target_group_arn=tg,
        target_db_instance_id=f"db-{s}-replica",
        source_db_arn=arn,
        target_file_system_id=dst_fs,
        source_file_system_id=src_fs,
        global_datastore_id=gid,
        target_redis_group_id=f"rg-{s}-dr",
        source_redis_group_id=f"rg-{s}",
        target_ecs_cluster=f"c-{s}",
        target_ecs_service="app",
        source_ecs_cluster=f"c-{s}",
        source_ecs_service="app",
        desired_count=2,
        secret_names=(f"streamflix/{s}/db",),
    )


def _world(emulator_endpoint: str | None) -> Iterator[World]:
    if emulator_endpoint is None:
        pytest.skip("needs the emulator (creates and fails regions)")
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    f = ClientFactory(
        Target(endpoint_url=emulator_endpoint, access_key_id="testing", secret_access_key="testing")
    )
    topo = build_resources(f, uuid.uuid4().hex[:6])
    dp = DataPlaneClient(emulator_endpoint)
    try:
        yield World(f, topo, dp, emulator_endpoint)
    finally:
        dp.restore_region(PRIMARY)


@pytest.fixture
def world(emulator_endpoint: str | None) -> Iterator[World]:
    """The resources with the engines off: the control plane only."""
    yield from _world(emulator_endpoint)


@pytest.fixture(scope="module")
def engines_running(emulator_endpoint: str | None) -> Iterator[None]:
    """The real engines, started once for the module's tests that use them."""
    if emulator_endpoint is None:
        pytest.skip("needs the emulator's engines")
    from streamflix_dr_emulator import engines  # noqa: PLC0415
    from streamflix_dr_emulator.engines import efs_fs  # noqa: PLC0415

    interval = efs_fs.configure()["sync_interval_seconds"]
    # No scheduled EFS sync during the tests: the only syncs are the ones they ask for.
    efs_fs.configure(sync_interval_seconds=24 * 3600)
    engines.enable(True)
    try:
        yield
    finally:
        engines.shutdown_all()
        engines.enable(False)
        efs_fs.configure(sync_interval_seconds=interval)


@pytest.fixture
def engine_world(emulator_endpoint: str | None, engines_running: None) -> Iterator[World]:
    """Fresh resources (their own suffix) on the module's real engines."""
    yield from _world(emulator_endpoint)


def _endpoint(w: World, service: str, region: str, resource_id: str) -> tuple[str, int]:
    if service == "rds":
        db = w.factory.client("rds", region).describe_db_instances(DBInstanceIdentifier=resource_id)[
            "DBInstances"
        ][0]
        return db["Endpoint"]["Address"], int(db["Endpoint"]["Port"])
    rg = w.factory.client("elasticache", region).describe_replication_groups(ReplicationGroupId=resource_id)[
        "ReplicationGroups"
    ][0]
    address = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return address["Address"], int(address["Port"])


def _pg(w: World, region: str, db_id: str) -> Any:
    """A TLS connection (verify-full with the run's CA) to the instance's endpoint, as an app makes it."""
    import psycopg  # noqa: PLC0415

    from streamflix_dr_emulator.engines import rds_hooks  # noqa: PLC0415

    host, port = _endpoint(w, "rds", region, db_id)
    return psycopg.connect(
        host=host,
        port=port,
        user="app",
        password="password123",
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=str(rds_hooks.ca().ca_file),
        connect_timeout=10,
        autocommit=True,
    )


def _redis(w: World, region: str, rg_id: str) -> Any:
    import redis  # noqa: PLC0415

    host, port = _endpoint(w, "elasticache", region, rg_id)
    return redis.Redis(host=host, port=port, socket_timeout=10, socket_connect_timeout=10)


def _wait_for(check: Any, what: str, seconds: float = 60.0) -> None:
    """Poll ``check`` until it holds (bounded); fail naming ``what``. Not a timing assertion."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


def _write(w: World) -> None:
    """Five rows, files and keys on the primary, then wait until RDS and Redis have replicated them (they
    replicate continuously) and sync EFS once (it replicates at sync instants only)."""
    from streamflix_dr_emulator.engines import efs_fs, elasticache_hooks  # noqa: PLC0415

    t = w.topology
    with _pg(w, PRIMARY, t.source_db_instance_id) as conn:
        conn.execute("CREATE TABLE titles (id text PRIMARY KEY)")
        for i in range(5):
            conn.execute("INSERT INTO titles VALUES (%s)", (str(i),))
    cache = _redis(w, PRIMARY, t.source_redis_group_id)
    for i in range(5):
        efs_fs.write_file(ACCOUNT, PRIMARY, t.source_file_system_id, f"media/{i}.txt", f"file {i}")
        cache.set(f"k{i}", "v")
    with _pg(w, DR, t.target_db_instance_id) as replica:

        def replicated() -> bool:
            try:
                return bool(replica.execute("SELECT count(*) FROM titles").fetchone()[0] == 5)
            except Exception:  # the table itself has not replayed yet
                return False

        _wait_for(replicated, "the five rows replicating to the DR replica")
    for node in elasticache_hooks.nodes(ACCOUNT, DR, t.target_redis_group_id):
        node.wait_replicated(60.0)
    w.dp.sync()  # EFS copies the five files; ReplicaLag gets a datapoint from the PostgreSQL replica


def test_failover_with_primary_region_down(engine_world: World, tmp_path: Path) -> None:
    from streamflix_dr_emulator.engines import efs_fs  # noqa: PLC0415

    world = engine_world
    _write(world)
    # written after the last sync: RDS and Redis replicate within seconds, EFS only at its next sync
    efs_fs.write_file(ACCOUNT, PRIMARY, world.topology.source_file_system_id, "media/late.txt", "late")
    time.sleep(1.5)  # real time, not the emulated clock: RPO is measured with this machine's clock
    world.dp.fail_region(PRIMARY)
    latency = Latency(actions=load_model(), scale=1 / 600, enabled=True, sleep=time.sleep)
    runner = build_runner(
        world.factory,
        world.topology,
        journal_dir=tmp_path,
        latency=latency,
        timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
    )
    result = runner.run()
    assert result.succeeded, result.error
    statuses = {s.step: s.status.value for s in result.steps}
    assert statuses["fence-primary"] == "skipped"
    assert any("fencing skipped" in w for w in result.warnings)
    # the DNS switch started only after the fence had finished; the promotion did not wait for it
    fence, dns, promote = (result.step(s) for s in ("fence-primary", "switch-dns", "promote-db"))
    assert fence and dns and promote and fence.ended_at and dns.started_at and promote.started_at
    assert dns.started_at >= fence.ended_at and promote.started_at < fence.ended_at
    assert all(
        statuses[k] == "done"
        for k in (
            "promote-db",
            "failover-efs",
            "failover-redis",
            "stop-secret-replication",
            "scale-ecs",
            "verify-serving",
        )
    )
    t = world.topology
    f = world.factory
    db = f.client("rds", DR).describe_db_instances(DBInstanceIdentifier=t.target_db_instance_id)[
        "DBInstances"
    ][0]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier")
    assert f.client("secretsmanager", DR).describe_secret(SecretId=t.secret_names[0]).get(
        "PrimaryRegion"
    ) in (None, DR)
    # the data: rows and keys replicated, the late file not; the DR side now takes writes
    with _pg(world, DR, t.target_db_instance_id) as conn:
        assert conn.execute("SELECT count(*) FROM titles").fetchone()[0] == 5
        conn.execute("INSERT INTO titles VALUES ('after')")  # promoted: no longer read-only
    dr_cache = _redis(world, DR, t.target_redis_group_id)
    assert dr_cache.get("k4") == b"v"
    dr_cache.set("after", "x")  # disassociated from the datastore: writable on its own
    files = efs_fs.list_files(ACCOUNT, DR, t.target_file_system_id)
    assert sorted(files) == [f"media/{i}.txt" for i in range(5)]
    efs_fs.write_file(ACCOUNT, DR, t.target_file_system_id, "after.txt", "x")  # replication deleted
    # RPO was measured for every store, and the report's modelled RTO fits the 10-minute aim
    doc = build_report(result, kind="failover", rto_target_seconds=900)
    assert doc["rpo_seconds"]["rds"] is not None and doc["rpo_seconds"]["efs"] is not None
    assert doc["rto_modelled_seconds"] <= 600, doc["rto_modelled_seconds"]
    assert doc["rto_met"] and doc["rto_read_modelled_seconds"] < doc["rto_write_modelled_seconds"]


def test_the_fence_holds_on_a_live_postgresql_primary(engine_world: World, tmp_path: Path) -> None:
    """The primary region answers: after the failover, a write on the old primary's PostgreSQL, through
    its endpoint with TLS as the app makes it, is refused as a read-only transaction (SQLSTATE 25006),
    also on a session opened before the fence; the promoted DR instance takes it."""
    import psycopg  # noqa: PLC0415

    w = engine_world
    t = w.topology
    with _pg(w, PRIMARY, t.source_db_instance_id) as conn:
        conn.execute("CREATE TABLE titles (id text PRIMARY KEY)")
        conn.execute("INSERT INTO titles VALUES ('before')")
        conn.commit()
    with _pg(w, DR, t.target_db_instance_id) as replica:

        def replicated() -> bool:
            try:
                return replica.execute("SELECT count(*) FROM titles").fetchone()[0] == 1
            except psycopg.Error:  # the table itself has not replayed yet
                replica.rollback()
                return False

        _wait_for(replicated, "the row replicating to the DR replica")
    old_session = _pg(w, PRIMARY, t.source_db_instance_id)
    try:
        result = build_runner(
            w.factory,
            t,
            journal_dir=tmp_path,
            timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
        ).run()
        assert result.succeeded, result.error
        assert result.step("fence-primary").status.value == "done"
        for conn in (old_session, _pg(w, PRIMARY, t.source_db_instance_id)):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as refused:
                conn.execute("INSERT INTO titles VALUES ('after-fence')")
            assert refused.value.sqlstate == "25006"
            conn.rollback()
    finally:
        old_session.close()
    with _pg(w, DR, t.target_db_instance_id) as dr:
        dr.execute("INSERT INTO titles VALUES ('after-failover')")  # the promoted instance takes writes
        rows = {r[0] for r in dr.execute("SELECT id FROM titles").fetchall()}
    assert rows == {"before", "after-failover"}, rows


def test_failover_fences_a_primary_that_answers_and_rerun_is_a_no_op(world: World, tmp_path: Path) -> None:
    runner = build_runner(
        world.factory,
        world.topology,
        journal_dir=tmp_path,
        timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
    )
    result = runner.run()
    assert result.succeeded, result.error
    t = world.topology
    svc = world.factory.client("ecs", PRIMARY).describe_services(
        cluster=t.source_ecs_cluster, services=["app"]
    )["services"][0]
    assert svc["desiredCount"] == 0
    params = world.factory.client("rds", PRIMARY).describe_db_parameters(
        DBParameterGroupName=f"pg-{t.suffix}", Source="user"
    )["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}["default_transaction_read_only"] == "on"
    # the fence holds the scaling too, and the DB sits behind the no-rules group
    target = world.factory.client("application-autoscaling", PRIMARY).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{t.source_ecs_cluster}/app"]
    )["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 0)
    db = world.factory.client("rds", PRIMARY).describe_db_instances(
        DBInstanceIdentifier=t.source_db_instance_id
    )["DBInstances"][0]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [t.source_db_fence_security_group_id]
    # a second failover is a new operation whose steps all find their work done in AWS
    again = build_runner(
        world.factory,
        replace(t),
        journal_dir=tmp_path,
        timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
    ).run()
    assert again.succeeded and again.operation_id != result.operation_id
    by = {s.step: s for s in again.steps}
    for step in ("promote-db", "failover-efs", "failover-redis", "stop-secret-replication", "scale-ecs"):
        assert by[step].runs == 0, step


class _Injector:
    """Answers chosen API calls with an AWS error before they reach the emulator (botocore's before-send),
    so the retry and failure paths run exactly as against AWS."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.plan: dict[str, list[tuple[str, int]]] = {}
        self.seen: dict[str, int] = {}
        self.protocol: dict[str, str] = {}

    def add(self, service: str, region: str, operation: str, code: str, times: int) -> None:
        self.plan.setdefault(operation, []).extend([(code, 400)] * times)
        client = self.factory.client(service, region)
        self.protocol[operation] = client.meta.service_model.protocol
        client.meta.events.register_first(
            f"before-send.{client.meta.service_model.service_id.hyphenize()}", self._hook
        )

    def _hook(self, request: Any, event_name: str = "", **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse  # noqa: PLC0415

        op = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
        if not self.plan.get(op):
            return None
        code, status = self.plan[op].pop(0)
        self.seen[op] = self.seen.get(op, 0) + 1
        if self.protocol[op] == "json":
            body = json.dumps({"__type": f"com.amazonaws#{code}", "message": code}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.0"}
        else:
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} injected"
                "</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            ).encode()
            headers = {"Content-Type": "text/xml"}
        return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def test_throttling_mid_failover_is_absorbed(world: World, tmp_path: Path) -> None:
    inject = _Injector(world.factory)
    inject.add("rds", DR, "PromoteReadReplica", "Throttling", 2)
    inject.add("ecs", DR, "UpdateService", "ThrottlingException", 2)
    inject.add("dynamodb", DR, "PutItem", "ThrottlingException", 2)
    result = build_runner(
        world.factory,
        world.topology,
        journal_dir=tmp_path,
        timeouts=Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100),
    ).run()
    assert result.succeeded, result.error
    assert inject.seen == {"PromoteReadReplica": 2, "UpdateService": 2, "PutItem": 2}
    assert result.step("promote-db").runs == 1  # type: ignore[union-attr]


def test_promotion_error_is_reported_and_the_rerun_resumes(world: World, tmp_path: Path) -> None:
    inject = _Injector(world.factory)
    # not retryable: the replica is busy (PromoteReadReplica fails while backing-up)
    inject.add("rds", DR, "PromoteReadReplica", "InvalidDBInstanceState", 1)
    timeouts = Timeouts(fence_seconds=5, waiter_delay=0.05, waiter_max_attempts=100)
    first = build_runner(world.factory, world.topology, journal_dir=tmp_path, timeouts=timeouts).run()
    assert not first.succeeded
    assert "promote-db" in first.error and world.topology.target_db_instance_id in first.error
    assert "InvalidDBInstanceState" in first.error
    assert first.step("promote-db").status.value == "failed"  # type: ignore[union-attr]
    # DNS does not wait for the promotion (only for the fence); verify-serving, after the stage, never ran
    verify = first.step("verify-serving")
    assert verify is None or verify.status.value == "pending"
    done_first = {s.step for s in first.steps if s.status.value in ("done", "skipped")}
    assert {"fence-primary", "failover-efs", "scale-ecs"} <= done_first
    second = build_runner(world.factory, world.topology, journal_dir=tmp_path, timeouts=timeouts).run()
    assert second.succeeded and second.operation_id == first.operation_id
    assert second.step("failover-efs").attempts == 1  # type: ignore[union-attr]
    assert second.step("promote-db").attempts == 2  # type: ignore[union-attr]
    assert all(s.runs <= 1 for s in second.steps if s.step != "promote-db")
