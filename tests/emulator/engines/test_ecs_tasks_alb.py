"""ECS tasks as real app processes behind a load balancer that answers, on real PostgreSQL, Valkey and EFS.

One primary region (eu-west-2: DB instance, Valkey group, EFS, service desired 2 behind an ALB) and one
DR region (us-east-1: the DB's cross-region read replica, a Valkey group, the EFS replication
destination, service desired 1 behind its own ALB) are built once for the module through the APIs, as
the template builds them; the tests run in file order (the last one fails the DR region).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg
import pytest
from api_support import aws, uid

from streamflix_dr_emulator import engines, regional_state
from streamflix_dr_emulator.engines import alb, ecs_tasks, efs_fs, rds_hooks

PRIMARY = "eu-west-2"
DR = "us-east-1"
ACCOUNT = "123456789012"
USER = "streamflix"
PASSWORD = "pw-Secret-123"
TOKEN = "streamflix-auth-token-0123456789"
PORT = 8443
WAIT = 90.0
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


@dataclass
class Side:
    region: str
    cluster: str
    service: str
    target_group: str
    dns_name: str
    db_id: str
    repo: str
    fs_id: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    endpoint: str
    primary: Side
    dr: Side

    def client(self, service: str, region: str) -> Any:
        return aws(self.endpoint, service, region)


def wait_for(check: Callable[[], Any], what: str, seconds: float = WAIT) -> Any:
    """Poll ``check`` until it returns a truthy value (bounded); fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds}s")
        time.sleep(0.1)


def request(
    dns_name: str,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 15,
    listener_port: int = 80,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """A real request through the load balancer's HTTP listener (port 80 of the template)."""
    host, port, _ = alb.endpoint(dns_name, listener_port)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        world_last_headers.clear()
        world_last_headers.update(response.getheaders())
        return response.status, response.read()
    finally:
        conn.close()


world_last_headers: dict[str, str] = {}


def _network(world_endpoint: str, region: str) -> tuple[str, list[str]]:
    ec2 = aws(world_endpoint, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    return vpc, subnets


def _secrets(endpoint: str, region: str, suffix: str) -> tuple[str, str]:
    sm = aws(endpoint, "secretsmanager", region)
    db = sm.create_secret(
        Name=f"streamflix-db-{suffix}", SecretString=json.dumps({"username": USER, "password": PASSWORD})
    )["ARN"]
    sm.create_secret(Name=f"streamflix-redis-auth-{suffix}", SecretString=TOKEN)
    return db, f"streamflix-redis-auth-{suffix}"  # one by ARN, one by name, as the template does


def _redis(endpoint: str, region: str) -> tuple[str, int]:
    rg_id = uid("vk")
    ec = aws(endpoint, "elasticache", region)
    ec.create_replication_group(
        ReplicationGroupId=rg_id,
        ReplicationGroupDescription="app test",
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
        TransitEncryptionMode="required",
        AuthToken=TOKEN,
        CacheNodeType="cache.r7g.large",
        Engine="redis",
        EngineVersion="7.1",
    )
    rg = ec.describe_replication_groups(ReplicationGroupId=rg_id)["ReplicationGroups"][0]
    address = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return address["Address"], int(address["Port"])


def _service_side(
    endpoint: str,
    region: str,
    suffix: str,
    *,
    role: str,
    db: dict[str, Any],
    db_secret: str,
    redis_secret: str,
    redis: tuple[str, int],
    fs_id: str,
    desired: int,
) -> Side:
    vpc, subnets = _network(endpoint, region)
    repo = f"streamflix-{suffix}"
    ecr = aws(endpoint, "ecr", region)
    ecr.create_repository(repositoryName=repo)
    ecr.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    elb = aws(endpoint, "elbv2", region)
    tg = elb.create_target_group(
        Name=f"tg-{suffix}",
        Protocol="HTTPS",
        ProtocolVersion="HTTP1",
        Port=PORT,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckProtocol="HTTPS",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=15,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=3,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(
        Name=f"alb-{suffix}", Subnets=subnets, Scheme="internet-facing", Type="application"
    )["LoadBalancers"][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    ecs = aws(endpoint, "ecs", region)
    cluster = f"cluster-{suffix}"
    ecs.create_cluster(clusterName=cluster)
    td = ecs.register_task_definition(
        family=f"streamflix-app-{suffix}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        volumes=[
            {
                "name": "media",
                "efsVolumeConfiguration": {"fileSystemId": fs_id, "transitEncryption": "ENABLED"},
            }
        ],
        containerDefinitions=[
            {
                "name": "app",
                "image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{repo}:v1",
                "essential": True,
                "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
                "mountPoints": [{"sourceVolume": "media", "containerPath": "/data", "readOnly": False}],
                "environment": [
                    {"name": "STREAMFLIX_ROLE", "value": role},
                    {"name": "STREAMFLIX_REGION", "value": region},
                    {"name": "PORT", "value": str(PORT)},
                    {"name": "DB_HOST", "value": db["Address"]},
                    {"name": "DB_PORT", "value": str(db["Port"])},
                    {"name": "REDIS_HOST", "value": redis[0]},
                    {"name": "REDIS_PORT", "value": str(redis[1])},
                ],
                "secrets": [
                    {"name": "DB_SECRET", "valueFrom": db_secret},
                    {"name": "REDIS_AUTH_TOKEN", "valueFrom": redis_secret},
                ],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service = f"svc-{suffix}"
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=td,
        desiredCount=desired,
        launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": tg, "containerName": "app", "containerPort": PORT}],
    )
    return Side(
        region, cluster, service, tg, lb["DNSName"], "", repo, fs_id, {"lb_arn": lb["LoadBalancerArn"]}
    )


@pytest.fixture(scope="module")
def world(engines_on: str) -> Iterator[World]:
    endpoint = engines_on
    ecs_tasks.install()
    alb.install()
    # 15 s intervals become 0.75 s: the same check counts and thresholds, twenty times faster.
    ecs_tasks.configure(time_scale=0.05, max_tasks_per_service=2)
    suffix = uid("a")
    rds_p, rds_d = aws(endpoint, "rds", PRIMARY), aws(endpoint, "rds", DR)
    group = uid("pg")
    for rds in (rds_p, rds_d):
        rds.create_db_parameter_group(
            DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="app tests"
        )
    primary_db = rds_p.create_db_instance(
        DBInstanceIdentifier=uid("db"),
        DBName="streamflix",
        Engine="postgres",
        EngineVersion="16.9",
        DBInstanceClass="db.r6g.large",
        MasterUsername=USER,
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
        DBParameterGroupName=group,
    )["DBInstance"]
    replica_id = uid("replica")
    rds_d.create_db_instance_read_replica(
        DBInstanceIdentifier=replica_id,
        SourceDBInstanceIdentifier=primary_db["DBInstanceArn"],
        SourceRegion=PRIMARY,
        DBParameterGroupName=group,
    )
    p_ep = rds_p.describe_db_instances(DBInstanceIdentifier=primary_db["DBInstanceIdentifier"])[
        "DBInstances"
    ][0]["Endpoint"]
    d_ep = rds_d.describe_db_instances(DBInstanceIdentifier=replica_id)["DBInstances"][0]["Endpoint"]
    efs_p = aws(endpoint, "efs", PRIMARY)
    fs_p = efs_p.create_file_system(CreationToken=uid("fs"), Encrypted=True)["FileSystemId"]
    rep = efs_p.create_replication_configuration(SourceFileSystemId=fs_p, Destinations=[{"Region": DR}])
    fs_d = rep["Destinations"][0]["FileSystemId"]
    primary = _service_side(
        endpoint,
        PRIMARY,
        suffix,
        role="primary",
        db=p_ep,
        db_secret=_secrets(endpoint, PRIMARY, suffix)[0],
        redis_secret=f"streamflix-redis-auth-{suffix}",
        redis=_redis(endpoint, PRIMARY),
        fs_id=fs_p,
        desired=2,
    )
    primary.db_id = primary_db["DBInstanceIdentifier"]
    primary.extra["db"] = p_ep
    dr = _service_side(
        endpoint,
        DR,
        suffix,
        role="dr",
        db=d_ep,
        db_secret=_secrets(endpoint, DR, suffix)[0],
        redis_secret=f"streamflix-redis-auth-{suffix}",
        redis=_redis(endpoint, DR),
        fs_id=fs_d,
        desired=1,
    )
    dr.db_id = replica_id
    try:
        yield World(endpoint, primary, dr)
    finally:
        # The session emulator keeps its state: leave no service that would start tasks in a later module.
        for side in (primary, dr):
            with contextlib.suppress(Exception):
                aws(endpoint, "ecs", side.region).delete_service(
                    cluster=side.cluster, service=side.service, force=True
                )
        ecs_tasks.forget_all()
        alb.forget_all()
        ecs_tasks.configure(time_scale=1.0)


def health_states(world: World, side: Side) -> list[str]:
    answer = world.client("elbv2", side.region).describe_target_health(TargetGroupArn=side.target_group)
    return sorted(d["TargetHealth"]["State"] for d in answer["TargetHealthDescriptions"])


def test_service_with_desired_two_runs_two_registered_healthy_app_processes(world: World) -> None:
    side = world.primary
    wait_for(lambda: health_states(world, side) == ["healthy", "healthy"], "two healthy targets")
    tasks = ecs_tasks.tasks(PRIMARY, side.service)
    assert len(tasks) == 2
    assert all(t.process.poll() is None for t in tasks)
    targets = world.client("elbv2", PRIMARY).describe_target_health(TargetGroupArn=side.target_group)
    registered = sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in targets["TargetHealthDescriptions"])
    assert registered == sorted((t.address, t.port) for t in tasks)
    svc = world.client("ecs", PRIMARY).describe_services(cluster=side.cluster, services=[side.service])[
        "services"
    ][0]
    assert svc["desiredCount"] == 2
    (described,) = [d for d in ecs_tasks.describe(PRIMARY) if d["service"] == side.service]
    assert (described["desiredCount"], described["realTasks"]) == (2, 2)


def test_request_through_the_alb_reaches_both_tasks_and_writes_a_title_to_postgres(world: World) -> None:
    side = world.primary
    pids = set()
    for _ in range(4):
        status, body = request(side.dns_name, "GET", "/health")
        assert status == 200, body
        doc = json.loads(body)
        assert doc["failed"] == []
        assert doc["checks"]["db"]["read_only"] is False
        pids.add(doc["pid"])
    assert pids == {t.process.pid for t in ecs_tasks.tasks(PRIMARY, side.service)}  # round robin over both
    title_id = uid("t")
    status, body = request(
        side.dns_name, "POST", "/titles", json.dumps({"id": title_id, "name": "Up"}).encode()
    )
    assert status == 201, body
    ep = side.extra["db"]
    with psycopg.connect(
        host=ep["Address"],
        port=ep["Port"],
        user=USER,
        password=PASSWORD,
        dbname="streamflix",
        sslmode="verify-full",
        sslrootcert=str(rds_hooks.ca().ca_file),
        autocommit=True,
    ) as conn:
        row = conn.execute("SELECT name FROM titles WHERE id = %s", (title_id,)).fetchone()
    assert row == ("Up",)
    status, body = request(side.dns_name, "GET", f"/titles/{title_id}")
    assert (status, json.loads(body)["name"]) == (200, "Up")
    world.primary.extra["title"] = title_id


def test_sessions_and_media_are_acknowledged_by_valkey_and_the_file_system(world: World) -> None:
    side = world.primary
    assert request(side.dns_name, "PUT", "/sessions/s1", b"user=42")[0] == 201
    assert request(side.dns_name, "GET", "/sessions/s1") == (200, b"user=42")
    assert request(side.dns_name, "PUT", "/media/posters/a.jpg", b"\x89JPEG")[0] == 201
    assert request(side.dns_name, "GET", "/media/posters/a.jpg") == (200, b"\x89JPEG")
    media = ecs_tasks.tasks(PRIMARY, side.service)[0].media_dir
    assert media is not None
    assert (media / "posters" / "a.jpg").read_bytes() == b"\x89JPEG"


def test_dr_task_on_the_replica_is_healthy_serves_reads_and_refuses_writes_with_503(world: World) -> None:
    side = world.dr
    wait_for(lambda: health_states(world, side) == ["healthy"], "the DR target healthy")
    status, body = request(side.dns_name, "GET", "/health")
    doc = json.loads(body)
    assert status == 200, body
    assert doc["checks"]["db"] == {"ok": True, "read_only": True, "in_recovery": True}
    assert doc["checks"]["fs"]["read_only"] is True  # the EFS replication destination
    title_id = world.primary.extra["title"]
    wait_for(lambda: request(side.dns_name, "GET", f"/titles/{title_id}")[0] == 200, "the title replicated")
    status, body = request(side.dns_name, "POST", "/titles", json.dumps({"name": "Down"}).encode())
    assert status == 503
    assert json.loads(body)["error"] == "read-only"
    assert json.loads(body)["code"] == "25006"
    status, body = request(side.dns_name, "PUT", "/media/x.bin", b"x")
    assert (status, json.loads(body)["error"]) == (503, "read-only")


def test_missing_image_starts_no_process(world: World) -> None:
    side = world.primary
    ecs = world.client("ecs", PRIMARY)
    td = ecs.describe_services(cluster=side.cluster, services=[side.service])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    container = dict(definition["containerDefinitions"][0])
    container["image"] = container["image"].replace(":v1", ":v2-not-pushed")
    td2 = ecs.register_task_definition(
        family=definition["family"] + "-x",
        containerDefinitions=[container],
        volumes=definition["volumes"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    name = uid("noimg")
    ecs.create_service(cluster=side.cluster, serviceName=name, taskDefinition=td2, desiredCount=1)
    (described,) = [d for d in ecs_tasks.describe(PRIMARY) if d["service"] == name]
    assert described["realTasks"] == 0
    assert "CannotPullContainerError" in (described["failure"] or "")
    ecs.delete_service(cluster=side.cluster, service=name, force=True)


def test_unhealthy_after_the_threshold_on_the_emulated_clock_and_the_alb_fails_open(world: World) -> None:
    """A task whose database port is closed: its /health answers 503, it turns unhealthy exactly at the
    third consecutive failed check (UnhealthyThresholdCount 3), each check made due by advancing the
    emulated clock one 15 s interval (time_scale 1), and the ALB, with no healthy target, fails open."""
    suffix = uid("u")
    closed = {"Address": world.primary.extra["db"]["Address"], "Port": 9}  # discard port: nothing listens
    ecs_tasks.configure(time_scale=1.0)
    try:
        side = _service_side(
            world.endpoint,
            PRIMARY,
            suffix,
            role="primary",
            db=closed,
            db_secret=_secrets(world.endpoint, PRIMARY, suffix)[0],
            redis_secret=f"streamflix-redis-auth-{suffix}",
            redis=_redis(world.endpoint, PRIMARY),
            fs_id=world.primary.fs_id,
            desired=1,
        )
        (task,) = ecs_tasks.tasks(PRIMARY, side.service)
        health = task.health[side.target_group]
        wait_for(lambda: health.checks >= 1, "the check made at registration")
        assert health.state == "initial"
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def answers() -> bool:
            conn = http.client.HTTPSConnection(task.address, task.port, timeout=5, context=context)
            try:
                conn.request("GET", "/health")
                return conn.getresponse().status == 503
            except OSError:
                return False
            finally:
                conn.close()

        wait_for(answers, "the app answering 503 (its database is unreachable)")
        while health.state == "initial":
            before = health.checks
            assert before < 3, "still initial after three failed checks"
            regional_state.advance(15)
            wait_for(lambda b=before: health.checks > b, "the check the clock made due")
        assert (health.state, health.checks, health.failures) == ("unhealthy", 3, 3)
        described = world.client("elbv2", PRIMARY).describe_target_health(TargetGroupArn=side.target_group)
        (target,) = described["TargetHealthDescriptions"]
        assert target["TargetHealth"] == {
            "State": "unhealthy",
            "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [503]",
        }
        status, body = request(side.dns_name, "GET", "/health")
        assert status == 503
        assert json.loads(body)["failed"] == ["db"]  # the app's answer: the ALB failed open to the target
        world.client("ecs", PRIMARY).delete_service(cluster=side.cluster, service=side.service, force=True)
        assert task.process.poll() is not None
    finally:
        ecs_tasks.configure(time_scale=0.05)


def test_cloudformation_task_definition_and_service_start_a_task_as_the_template_declares(
    world: World,
) -> None:
    """The template's shapes (CloudFormation keys: Environment, Secrets by ARN and by name,
    EFSVolumeConfiguration.FilesystemId, PortMappings, MountPoints, LoadBalancers) reach the process."""
    suffix = uid("c")
    db_secret = _secrets(world.endpoint, PRIMARY, suffix)[0]
    redis = _redis(world.endpoint, PRIMARY)
    db = world.primary.extra["db"]
    repo = f"streamflix-{suffix}"
    aws(world.endpoint, "ecr", PRIMARY).create_repository(repositoryName=repo)
    aws(world.endpoint, "ecr", PRIMARY).put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    vpc, subnets = _network(world.endpoint, PRIMARY)
    env = {
        "STREAMFLIX_ROLE": "primary",
        "STREAMFLIX_REGION": PRIMARY,
        "PORT": str(PORT),
        "DB_HOST": db["Address"],
        "DB_PORT": str(db["Port"]),
        "REDIS_HOST": redis[0],
        "REDIS_PORT": str(redis[1]),
    }
    template = {
        "Resources": {
            "TargetGroup": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Name": f"tg-{suffix}",
                    "VpcId": vpc,
                    "TargetType": "ip",
                    "Protocol": "HTTPS",
                    "Port": PORT,
                    "HealthCheckProtocol": "HTTPS",
                    "HealthCheckPath": "/health",
                    "HealthCheckIntervalSeconds": 15,
                    "HealthyThresholdCount": 2,
                    "UnhealthyThresholdCount": 3,
                    "Matcher": {"HttpCode": "200"},
                },
            },
            "LoadBalancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Name": f"alb-{suffix}", "Subnets": subnets, "Type": "application"},
            },
            "HttpListener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "LoadBalancer"},
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
                },
            },
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": f"cluster-{suffix}"}},
            "AccessPoint": {
                "Type": "AWS::EFS::AccessPoint",
                "Properties": {
                    "FileSystemId": world.primary.fs_id,
                    "PosixUser": {"Uid": "1000", "Gid": "1000"},
                    "RootDirectory": {
                        "Path": f"/{suffix}",
                        "CreationInfo": {"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "0750"},
                    },
                },
            },
            "TaskDefinition": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": f"streamflix-app-{suffix}",
                    "RequiresCompatibilities": ["FARGATE"],
                    "NetworkMode": "awsvpc",
                    "Cpu": "256",
                    "Memory": "512",
                    "Volumes": [
                        {
                            "Name": "media",
                            "EFSVolumeConfiguration": {
                                "FilesystemId": world.primary.fs_id,
                                "TransitEncryption": "ENABLED",
                                "AuthorizationConfig": {
                                    "AccessPointId": {"Ref": "AccessPoint"},
                                    "IAM": "ENABLED",
                                },
                            },
                        }
                    ],
                    "ContainerDefinitions": [
                        {
                            "Name": "app",
                            "Image": f"{ACCOUNT}.dkr.ecr.{PRIMARY}.amazonaws.com/{repo}:v1",
                            "Essential": True,
                            "PortMappings": [{"ContainerPort": PORT, "Protocol": "tcp"}],
                            "MountPoints": [
                                {"SourceVolume": "media", "ContainerPath": "/data", "ReadOnly": False}
                            ],
                            "Environment": [{"Name": k, "Value": v} for k, v in env.items()],
                            "Secrets": [
                                {"Name": "DB_SECRET", "ValueFrom": db_secret},
                                {"Name": "REDIS_AUTH_TOKEN", "ValueFrom": f"streamflix-redis-auth-{suffix}"},
                            ],
                        }
                    ],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "DependsOn": ["HttpListener"],
                "Properties": {
                    "ServiceName": f"svc-{suffix}",
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "TaskDefinition"},
                    "LaunchType": "FARGATE",
                    "DesiredCount": 1,
                    "LoadBalancers": [
                        {
                            "ContainerName": "app",
                            "ContainerPort": PORT,
                            "TargetGroupArn": {"Ref": "TargetGroup"},
                        }
                    ],
                },
            },
        },
        "Outputs": {
            "TargetGroup": {"Value": {"Ref": "TargetGroup"}},
            "DnsName": {"Value": {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}},
            "Cluster": {"Value": {"Ref": "Cluster"}},
        },
    }
    cfn = aws(world.endpoint, "cloudformation", PRIMARY)
    stack_name = uid("app")
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    (task,) = [t for t in ecs_tasks.tasks(PRIMARY) if t.cluster == outputs["Cluster"]]
    # The access point's root directory, created at the first mount with CreationInfo's permissions.
    assert (
        task.media_dir is not None and task.media_dir.name == suffix and task.media_dir.parent.name == "root"
    )
    assert task.media_dir.stat().st_mode & 0o7777 == 0o750
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def health() -> dict[str, Any] | None:
        conn = http.client.HTTPSConnection(task.address, task.port, timeout=5, context=context)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            return dict(json.loads(response.read())) if response.status == 200 else None
        except OSError:
            return None
        finally:
            conn.close()

    doc = wait_for(health, "the CloudFormation-made task healthy on every store")
    assert (doc["role"], doc["region"], doc["failed"]) == ("primary", PRIMARY, [])
    services = aws(world.endpoint, "ecs", PRIMARY).describe_services(
        cluster=outputs["Cluster"], services=[f"svc-{suffix}"]
    )["services"]
    if services[0].get(
        "loadBalancers"
    ):  # moto 5.2.5 drops them; the emulator's ecs_load_balancers keeps them
        wait_for(
            lambda: (
                health_states(world, Side(PRIMARY, "", "", outputs["TargetGroup"], "", "", "", ""))
                == ["healthy"]
            ),
            "the target healthy",
        )
        assert request(outputs["DnsName"], "GET", "/health")[0] == 200
    cfn.delete_stack(StackName=stack_name)
    assert task.process.poll() is not None


def test_a_task_whose_process_dies_is_replaced_and_registered_again(world: World) -> None:
    side = world.primary
    victim, survivor = ecs_tasks.tasks(PRIMARY, side.service)
    victim.process.kill()

    def replaced() -> list[ecs_tasks.AppTask] | None:
        now = ecs_tasks.tasks(PRIMARY, side.service)
        return now if len(now) == 2 and victim not in now else None

    tasks = wait_for(replaced, "ECS replacing the stopped task")
    assert survivor in tasks
    wait_for(lambda: health_states(world, side) == ["healthy", "healthy"], "the replacement healthy")
    events = world.client("ecs", PRIMARY).describe_services(cluster=side.cluster, services=[side.service])[
        "services"
    ][0]["events"]
    assert any(
        victim.task_id in e["message"] and "Essential container exited" in e["message"] for e in events
    )


def test_a_secret_that_does_not_resolve_starts_no_task(world: World) -> None:
    side = world.primary
    ecs = world.client("ecs", PRIMARY)
    td = ecs.describe_services(cluster=side.cluster, services=[side.service])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    container = dict(definition["containerDefinitions"][0])
    container["secrets"] = [{"name": "DB_SECRET", "valueFrom": f"streamflix-db-{uid('absent')}"}]
    td2 = ecs.register_task_definition(
        family=definition["family"] + "-s",
        containerDefinitions=[container],
        volumes=definition["volumes"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    name = uid("nosecret")
    ecs.create_service(cluster=side.cluster, serviceName=name, taskDefinition=td2, desiredCount=1)
    try:
        (described,) = [d for d in ecs_tasks.describe(PRIMARY) if d["service"] == name]
        assert described["realTasks"] == 0
        assert "ResourceInitializationError" in (described["failure"] or "")
        events = ecs.describe_services(cluster=side.cluster, services=[name])["services"][0]["events"]
        assert any("ResourceInitializationError" in e["message"] for e in events)
    finally:
        ecs.delete_service(cluster=side.cluster, service=name, force=True)


def test_redirect_listener_answers_the_configured_redirect(world: World) -> None:
    side = world.dr
    world.client("elbv2", DR).create_listener(
        LoadBalancerArn=side.extra["lb_arn"],
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    status, _ = request(
        side.dns_name, "GET", "/titles?since=0", listener_port=8080, headers={"Host": side.dns_name}
    )
    assert status == 301
    assert world_last_headers["Location"] == f"https://{side.dns_name}/titles?since=0"


def test_extension_endpoints_say_where_each_alb_answers_and_how_many_tasks_are_real(world: World) -> None:
    status, doc = alb.http_handler("GET", f"/{world.dr.dns_name}", {}, ACCOUNT)
    assert status == 200
    host, port, protocol = alb.endpoint(world.dr.dns_name)
    assert doc["url"] == f"{protocol.lower()}://{host}:{port}"
    assert alb.http_handler("GET", "/nope.elb.amazonaws.com", {}, ACCOUNT)[0] == 404
    status, doc = ecs_tasks.http_handler("GET", f"/{PRIMARY}", {}, ACCOUNT)
    (svc,) = [s for s in doc["services"] if s["service"] == world.primary.service]
    assert (status, svc["desiredCount"], svc["realTasks"], svc["maxRealTasks"]) == (200, 2, 2, 2)


def test_real_processes_are_bounded_while_describe_services_keeps_the_desired_count(world: World) -> None:
    side = world.primary
    ecs = world.client("ecs", PRIMARY)
    ecs.update_service(cluster=side.cluster, service=side.service, desiredCount=6)
    try:
        svc = ecs.describe_services(cluster=side.cluster, services=[side.service])["services"][0]
        assert svc["desiredCount"] == 6
        (described,) = [d for d in ecs_tasks.describe(PRIMARY) if d["service"] == side.service]
        assert (described["desiredCount"], described["realTasks"]) == (6, 2)
        assert len(ecs_tasks.tasks(PRIMARY, side.service)) == 2
    finally:
        ecs.update_service(cluster=side.cluster, service=side.service, desiredCount=2)


def test_an_access_point_on_the_destination_mounts_once_replication_brought_its_directory(
    world: World,
) -> None:
    side = world.dr
    directory = uid("ap")
    access_point = world.client("efs", DR).create_access_point(
        FileSystemId=side.fs_id,
        RootDirectory={
            "Path": f"/{directory}",
            "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "0750"},
        },
    )["AccessPointId"]
    ecs = world.client("ecs", DR)
    td = ecs.describe_services(cluster=side.cluster, services=[side.service])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    volume = definition["volumes"][0]
    volume["efsVolumeConfiguration"]["authorizationConfig"] = {
        "accessPointId": access_point,
        "iam": "ENABLED",
    }
    td2 = ecs.register_task_definition(
        family=definition["family"] + "-ap",
        containerDefinitions=definition["containerDefinitions"],
        volumes=[volume],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    name = uid("apsvc")
    ecs.create_service(cluster=side.cluster, serviceName=name, taskDefinition=td2, desiredCount=1)
    try:
        (described,) = [d for d in ecs_tasks.describe(DR) if d["service"] == name]
        assert described["realTasks"] == 0
        assert "read-only" in (described["failure"] or "")
        # The source's first mount creates the directory; the next sync brings it to the destination.
        efs_fs.write_file(ACCOUNT, PRIMARY, world.primary.fs_id, f"{directory}/hello.txt", "hi")
        efs_fs.sync()
        ecs.update_service(cluster=side.cluster, service=name, desiredCount=1, forceNewDeployment=True)
        (task,) = ecs_tasks.tasks(DR, name)
        assert task.media_dir is not None
        assert (task.media_dir / "hello.txt").read_text() == "hi"
    finally:
        ecs.delete_service(cluster=side.cluster, service=name, force=True)


def test_scaling_to_zero_deregisters_and_stops_the_processes(world: World) -> None:
    side = world.primary
    tasks = ecs_tasks.tasks(PRIMARY, side.service)
    assert len(tasks) == 2
    world.client("ecs", PRIMARY).update_service(cluster=side.cluster, service=side.service, desiredCount=0)
    assert health_states(world, side) == []
    assert all(t.process.poll() is not None for t in tasks)
    assert ecs_tasks.tasks(PRIMARY, side.service) == []
    assert request(side.dns_name, "GET", "/health")[0] == 503  # no target: the ALB's own 503


def test_fail_region_makes_the_alb_stop_answering(world: World) -> None:
    side = world.dr
    assert request(side.dns_name, "GET", "/health")[0] == 200
    engines.fail_region(DR)
    try:
        with pytest.raises(ConnectionRefusedError):
            request(side.dns_name, "GET", "/health", timeout=5)
        (task,) = ecs_tasks.tasks(DR, side.service)
        assert psutil.Process(task.process.pid).status() == psutil.STATUS_STOPPED  # the task answers nothing
    finally:
        engines.restore_region(DR)
    wait_for(lambda: request(side.dns_name, "GET", "/health")[0] == 200, "the DR ALB answering again")


def test_https_listener_presents_a_certificate_for_the_dns_name(world: World) -> None:
    side = world.dr
    elb = world.client("elbv2", DR)
    lb_arn = side.extra["lb_arn"]
    cert = world.client("acm", DR).request_certificate(DomainName="streamflix.example.com")["CertificateArn"]
    elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": side.target_group}],
    )
    host, port, protocol = alb.endpoint(side.dns_name)
    assert protocol == "HTTPS"
    context = ssl.create_default_context(cafile=str(alb.certificate_authority().ca_file))
    conn = http.client.HTTPSConnection(host, port, timeout=15, context=context)
    conn.request("GET", "/health", headers={"Host": side.dns_name})
    response = conn.getresponse()
    assert response.status == 200
    peer = conn.sock.getpeercert() if isinstance(conn.sock, ssl.SSLSocket) else None
    assert peer is not None
    assert ("DNS", side.dns_name) in peer["subjectAltName"]
    conn.close()
