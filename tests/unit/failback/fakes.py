"""An in-memory AWS for the failback steps: the few calls they make, with the states that matter.

Each fake client keeps AWS's preconditions that the steps rely on (rename needs a free identifier, a
replica's source needs backups, protection cannot change on a destination, a member cannot be deleted),
answering with AWS's error codes, so a step that skips a precondition fails here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

PRIMARY = "eu-west-2"
DR = "us-east-1"
ACCOUNT = "123456789012"


def err(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Fake",
    )


class Killed(BaseException):
    """A kill -9 in the middle of a call (BaseException: the runner lets it through)."""


@dataclass
class World:
    """The state of both regions."""

    clock: Any
    dbs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    tags: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    params: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    fs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    reps: list[dict[str, Any]] = field(default_factory=list)
    gds: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    rgs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    secrets: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    services: dict[str, dict[str, dict[str, int]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    targets: dict[str, dict[str, tuple[int, int]]] = field(default_factory=lambda: {PRIMARY: {}, DR: {}})
    metrics: list[tuple[str, str, str, tuple[tuple[str, str], ...], float, float]] = field(
        default_factory=list
    )
    lb: dict[str, str] = field(default_factory=lambda: {PRIMARY: "primary-lb.example", DR: "dr-lb.example"})
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    # (service, method) -> hook run before the call (raise Killed to simulate a kill)
    hooks: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    # Drain behaviour: what the replicas report after the fence.
    replica_lag_after_fence: float = 0.0
    efs_syncs_after_fence: bool = True

    def arn(self, region: str, db_id: str) -> str:
        return f"arn:aws:rds:{region}:{ACCOUNT}:db:{db_id}"

    def put_db(self, region: str, db_id: str, **kw: Any) -> dict[str, Any]:
        db = {
            "DBInstanceIdentifier": db_id,
            "DBInstanceArn": self.arn(region, db_id),
            "DBInstanceStatus": "available",
            "BackupRetentionPeriod": 7,
            "VpcSecurityGroups": [{"VpcSecurityGroupId": f"sg-db-{region}"}],
            "DBParameterGroups": [{"DBParameterGroupName": f"pg-{region}"}],
            "DeletionProtection": False,
            **kw,
        }
        self.dbs[region][db_id] = db
        self.tags.setdefault(db["DBInstanceArn"], [{"Key": "Environment", "Value": "test"}])
        return db

    def metric(self, region: str, ns: str, name: str, dims: dict[str, str], value: float, at: float) -> None:
        self.metrics.append((region, ns, name, tuple(sorted(dims.items())), at, value))

    def called(self, service: str, method: str) -> list[str]:
        return [r for s, m, r in self.calls if (s, m) == (service, method)]


class Waiter:
    def __init__(self, check: Callable[[dict[str, Any]], bool]) -> None:
        self.check = check

    def wait(self, **kwargs: Any) -> None:
        kwargs.pop("WaiterConfig", None)
        if not self.check(kwargs):
            raise WaiterError("fake", "not reached", {})


class Paginator:
    def __init__(self, fn: Callable[..., dict[str, Any]]) -> None:
        self.fn = fn

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return [self.fn(**kwargs)]


class FakeClient:
    """Dispatches ``client.method(**kw)`` to ``World`` handlers named ``<service>_<method>``."""

    def __init__(self, world: World, service: str, region: str, handlers: Any) -> None:
        self.world, self.service, self.region, self.h = world, service, region, handlers

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.h, f"{self.service.replace('-', '_')}_{name}", None)
        if fn is None:
            raise AttributeError(f"fake {self.service} has no {name}")

        def call(**kwargs: Any) -> Any:
            self.world.calls.append((self.service, name, self.region))
            hook = self.world.hooks.get((self.service, name))
            if hook:
                hook(kwargs)
            return fn(self.region, **kwargs)

        return call

    def get_waiter(self, name: str) -> Waiter:
        w = self.world

        def available(kw: dict[str, Any]) -> bool:
            db = w.dbs[self.region].get(kw["DBInstanceIdentifier"])
            return bool(db and db["DBInstanceStatus"] == "available")

        return Waiter(available)

    def get_paginator(self, name: str) -> Paginator:
        return Paginator(getattr(self, name))


class Handlers:
    """AWS semantics for the calls the failback makes."""

    def __init__(self, world: World) -> None:
        self.w = world

    # --- RDS ------------------------------------------------------------------------------------------
    def rds_describe_db_instances(
        self, region: str, DBInstanceIdentifier: str = "", **_: Any
    ) -> dict[str, Any]:
        if DBInstanceIdentifier:
            db = self.w.dbs[region].get(DBInstanceIdentifier)
            if db is None:
                raise err("DBInstanceNotFound", f"DBInstance {DBInstanceIdentifier} not found.", 404)
            return {"DBInstances": [dict(db)]}
        return {"DBInstances": [dict(d) for d in self.w.dbs[region].values()]}

    def rds_modify_db_instance(self, region: str, DBInstanceIdentifier: str, **kw: Any) -> dict[str, Any]:
        db = self.w.dbs[region].get(DBInstanceIdentifier)
        if db is None:
            raise err("DBInstanceNotFound", status=404)
        new = kw.get("NewDBInstanceIdentifier")
        if new:
            if new in self.w.dbs[region]:
                raise err("DBInstanceAlreadyExists", "DB instance already exists")
            if not kw.get("ApplyImmediately"):
                raise AssertionError("a rename without ApplyImmediately waits for the maintenance window")
            del self.w.dbs[region][DBInstanceIdentifier]
            old_arn = db["DBInstanceArn"]
            db["DBInstanceIdentifier"] = new
            db["DBInstanceArn"] = self.w.arn(region, new)
            self.w.tags[db["DBInstanceArn"]] = self.w.tags.pop(old_arn, [])
            self.w.dbs[region][new] = db
        if "BackupRetentionPeriod" in kw:
            db["BackupRetentionPeriod"] = kw["BackupRetentionPeriod"]
        if "VpcSecurityGroupIds" in kw:
            db["VpcSecurityGroups"] = [{"VpcSecurityGroupId": g} for g in kw["VpcSecurityGroupIds"]]
        if "DeletionProtection" in kw:
            db["DeletionProtection"] = kw["DeletionProtection"]
        return {"DBInstance": dict(db)}

    def rds_create_db_instance_read_replica(self, region: str, **kw: Any) -> dict[str, Any]:
        db_id = kw["DBInstanceIdentifier"]
        if db_id in self.w.dbs[region]:
            raise err("DBInstanceAlreadyExists", "DB instance already exists")
        src_arn = kw["SourceDBInstanceIdentifier"]
        parts = src_arn.split(":")
        src = self.w.dbs[parts[3]].get(parts[-1])
        if src is None:
            raise err("DBInstanceNotFound", status=404)
        if not src.get("BackupRetentionPeriod"):
            raise err(
                "InvalidDBInstanceState", "Automated backups are not enabled for this database instance."
            )
        if parts[3] != region and not str(kw.get("KmsKeyId", "")).startswith(f"arn:aws:kms:{region}:"):
            raise err("InvalidParameterCombination", "KmsKeyId of the destination region is required")
        db = self.w.put_db(
            region,
            db_id,
            ReadReplicaSourceDBInstanceIdentifier=src_arn,
            BackupRetentionPeriod=0,
            KmsKeyId=kw["KmsKeyId"],
            VpcSecurityGroups=[{"VpcSecurityGroupId": g} for g in kw["VpcSecurityGroupIds"]],
            DBParameterGroups=[
                {"DBParameterGroupName": kw.get("DBParameterGroupName", "default.postgres16")}
            ],
        )
        self.w.tags[db["DBInstanceArn"]] = list(kw.get("Tags") or [])
        return {"DBInstance": dict(db)}

    def rds_promote_read_replica(self, region: str, DBInstanceIdentifier: str, **kw: Any) -> dict[str, Any]:
        db = self.w.dbs[region][DBInstanceIdentifier]
        if not db.get("ReadReplicaSourceDBInstanceIdentifier"):
            raise err("InvalidDBInstanceState", "not a read replica")
        db.pop("ReadReplicaSourceDBInstanceIdentifier")
        db["BackupRetentionPeriod"] = kw.get("BackupRetentionPeriod", 1)
        return {"DBInstance": dict(db)}

    def rds_delete_db_instance(self, region: str, DBInstanceIdentifier: str, **kw: Any) -> dict[str, Any]:
        db = self.w.dbs[region].pop(DBInstanceIdentifier)
        assert kw.get("FinalDBSnapshotIdentifier"), "renamed instances are deleted with a final snapshot"
        return {"DBInstance": db}

    def rds_list_tags_for_resource(self, region: str, ResourceName: str) -> dict[str, Any]:
        return {"TagList": list(self.w.tags.get(ResourceName, []))}

    def rds_add_tags_to_resource(self, region: str, ResourceName: str, Tags: list[dict[str, str]]) -> None:
        cur = [t for t in self.w.tags.get(ResourceName, []) if t["Key"] not in {x["Key"] for x in Tags}]
        self.w.tags[ResourceName] = cur + list(Tags)

    def rds_remove_tags_from_resource(self, region: str, ResourceName: str, TagKeys: list[str]) -> None:
        self.w.tags[ResourceName] = [t for t in self.w.tags.get(ResourceName, []) if t["Key"] not in TagKeys]

    def rds_modify_db_parameter_group(self, region: str, DBParameterGroupName: str, Parameters: Any) -> None:
        group = self.w.params.setdefault((region, DBParameterGroupName), {})
        for p in Parameters:
            group[p["ParameterName"]] = p["ParameterValue"]

    def rds_describe_db_parameters(self, region: str, DBParameterGroupName: str, **_: Any) -> dict[str, Any]:
        group = self.w.params.get((region, DBParameterGroupName), {})
        return {"Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in group.items()]}

    # --- EFS ------------------------------------------------------------------------------------------
    def _rep_of(self, region: str, fs_id: str) -> dict[str, Any] | None:
        for r in self.w.reps:
            if (r["src_region"], r["src"]) == (region, fs_id):
                return r
            # A configuration deleted on one side only stays visible on the other side alone.
            if (r["dst_region"], r["dst"]) == (region, fs_id) and not r.get("local_only"):
                return r
        return None

    def efs_describe_replication_configurations(self, region: str, FileSystemId: str) -> dict[str, Any]:
        r = self._rep_of(region, FileSystemId)
        if r is None:
            raise err("ReplicationNotFound", status=404)
        if not r.get("local_only") and self.w.efs_syncs_after_fence:
            r["last"] = self.w.clock.now()
        dest: dict[str, Any] = {"FileSystemId": r["dst"], "Region": r["dst_region"], "Status": r["status"]}
        if r.get("last") is not None:
            dest["LastReplicatedTimestamp"] = datetime.fromtimestamp(r["last"], UTC)
        return {
            "Replications": [
                {
                    "SourceFileSystemId": r["src"],
                    "SourceFileSystemRegion": r["src_region"],
                    "Destinations": [dest],
                }
            ]
        }

    def efs_create_replication_configuration(
        self, region: str, SourceFileSystemId: str, Destinations: Any
    ) -> None:
        d = Destinations[0]
        if self._rep_of(region, SourceFileSystemId) or self._rep_of(d["Region"], d["FileSystemId"]):
            raise err("ReplicationAlreadyExists", status=409)
        if self.w.fs[d["Region"]][d["FileSystemId"]]["protection"] != "DISABLED":
            raise err("ConflictException", "protection ENABLED", 409)
        self.w.reps.append(
            {
                "src_region": region,
                "src": SourceFileSystemId,
                "dst_region": d["Region"],
                "dst": d["FileSystemId"],
                "status": "ENABLED",
                "last": None,
            }
        )

    def efs_delete_replication_configuration(self, region: str, SourceFileSystemId: str, **kw: Any) -> None:
        r = self._rep_of(region, SourceFileSystemId)
        if r is None:
            raise err("ReplicationNotFound", status=404)
        self.w.reps.remove(r)
        self.w.fs[r["dst_region"]][r["dst"]]["protection"] = "ENABLED"

    def efs_update_file_system_protection(self, region: str, FileSystemId: str, **kw: Any) -> None:
        r = self._rep_of(region, FileSystemId)
        if r is not None and r["dst"] == FileSystemId:
            raise err("ReplicationAlreadyExists", "cannot change protection of a destination", 409)
        self.w.fs[region][FileSystemId]["protection"] = kw["ReplicationOverwriteProtection"]

    def efs_describe_file_systems(self, region: str, FileSystemId: str) -> dict[str, Any]:
        r = self._rep_of(region, FileSystemId)
        prot = (
            "REPLICATING" if r and r["dst"] == FileSystemId else self.w.fs[region][FileSystemId]["protection"]
        )
        return {
            "FileSystems": [
                {
                    "FileSystemId": FileSystemId,
                    "FileSystemProtection": {"ReplicationOverwriteProtection": prot},
                }
            ]
        }

    # --- ElastiCache ------------------------------------------------------------------------------------
    def elasticache_describe_global_replication_groups(
        self, region: str, GlobalReplicationGroupId: str, **_: Any
    ) -> Any:
        members = self.w.gds.get(GlobalReplicationGroupId)
        if members is None:
            raise err("GlobalReplicationGroupNotFoundFault", status=404)
        return {
            "GlobalReplicationGroups": [
                {
                    "Members": [
                        {
                            "ReplicationGroupId": m["rg"],
                            "ReplicationGroupRegion": m["region"],
                            "Role": m["role"],
                        }
                        for m in members
                    ]
                }
            ]
        }

    def elasticache_failover_global_replication_group(self, region: str, **kw: Any) -> None:
        members = self.w.gds[kw["GlobalReplicationGroupId"]]
        target = next(
            m
            for m in members
            if (m["region"], m["rg"]) == (kw["PrimaryRegion"], kw["PrimaryReplicationGroupId"])
        )
        for m in members:
            m["role"] = "SECONDARY"
        target["role"] = "PRIMARY"

    def elasticache_describe_replication_groups(self, region: str, ReplicationGroupId: str) -> Any:
        rg = self.w.rgs[region].get(ReplicationGroupId)
        if rg is None:
            raise err("ReplicationGroupNotFoundFault", status=404)
        return {
            "ReplicationGroups": [
                {
                    "ReplicationGroupId": ReplicationGroupId,
                    "Description": "cache",
                    "MemberClusters": [f"{ReplicationGroupId}-001", f"{ReplicationGroupId}-002"],
                }
            ]
        }

    def elasticache_describe_cache_clusters(self, region: str, CacheClusterId: str) -> Any:
        return {
            "CacheClusters": [
                {
                    "CacheSubnetGroupName": f"csg-{region}",
                    "SecurityGroups": [{"SecurityGroupId": f"sg-redis-{region}"}],
                }
            ]
        }

    def elasticache_delete_replication_group(self, region: str, ReplicationGroupId: str, **_: Any) -> None:
        for members in self.w.gds.values():
            if any((m["region"], m["rg"]) == (region, ReplicationGroupId) for m in members):
                raise err("InvalidReplicationGroupState", "member of a global datastore")
        del self.w.rgs[region][ReplicationGroupId]

    def elasticache_create_replication_group(self, region: str, **kw: Any) -> None:
        assert "CacheNodeType" not in kw and "Engine" not in kw, "inherited from the primary (errata §3)"
        if kw["ReplicationGroupId"] in self.w.rgs[region]:
            raise err("ReplicationGroupAlreadyExistsFault")
        self.w.rgs[region][kw["ReplicationGroupId"]] = {"keys": "full sync"}
        self.w.gds[kw["GlobalReplicationGroupId"]].append(
            {"rg": kw["ReplicationGroupId"], "region": region, "role": "SECONDARY"}
        )

    # --- Secrets Manager --------------------------------------------------------------------------------
    def secretsmanager_describe_secret(self, region: str, SecretId: str) -> Any:
        s = self.w.secrets[region].get(SecretId)
        if s is None:
            raise err("ResourceNotFoundException", status=400)
        out: dict[str, Any] = {"Name": SecretId}
        if s.get("primary_region"):
            out["PrimaryRegion"] = s["primary_region"]
        if s.get("replicas"):
            out["ReplicationStatus"] = [{"Region": r, "Status": st} for r, st in s["replicas"].items()]
        return out

    def secretsmanager_get_secret_value(self, region: str, SecretId: str) -> Any:
        s = self.w.secrets[region][SecretId]
        if s.get("primary_region") and s["primary_region"] != region:
            return {"SecretString": self.w.secrets[s["primary_region"]][SecretId]["value"]}
        return {"SecretString": s["value"]}

    def secretsmanager_put_secret_value(self, region: str, SecretId: str, SecretString: str) -> None:
        s = self.w.secrets[region][SecretId]
        assert not s.get("primary_region") or s["primary_region"] == region, "replicas are read-only"
        s["value"] = SecretString

    def secretsmanager_remove_regions_from_replication(
        self, region: str, SecretId: str, RemoveReplicaRegions: Any
    ) -> None:
        for r in RemoveReplicaRegions:
            self.w.secrets[region][SecretId].get("replicas", {}).pop(r, None)

    def secretsmanager_replicate_secret_to_regions(
        self, region: str, SecretId: str, AddReplicaRegions: Any, **kw: Any
    ) -> None:
        src = self.w.secrets[region][SecretId]
        for r in AddReplicaRegions:
            existing = self.w.secrets[r["Region"]].get(SecretId)
            if existing is not None and not kw.get("ForceOverwriteReplicaSecret"):
                src.setdefault("replicas", {})[r["Region"]] = "Failed"
                continue
            self.w.secrets[r["Region"]][SecretId] = {"value": None, "primary_region": region}
            src.setdefault("replicas", {})[r["Region"]] = "InSync"
            src["primary_region"] = region

    # --- ECS / Application Auto Scaling ------------------------------------------------------------------
    def ecs_describe_services(self, region: str, cluster: str, services: list[str]) -> Any:
        svc = self.w.services[region].get(services[0])
        if svc is None:
            return {"services": []}
        return {
            "services": [
                {"serviceName": services[0], "desiredCount": svc["desired"], "runningCount": svc["desired"]}
            ]
        }

    def ecs_update_service(self, region: str, cluster: str, service: str, desiredCount: int) -> None:
        rid = f"service/{cluster}/{service}"
        low, high = self.w.targets[region].get(rid, (0, 10**6))
        self.w.services[region][service]["desired"] = min(max(desiredCount, low), high)

    def application_autoscaling_describe_scalable_targets(
        self, region: str, ResourceIds: list[str], **_: Any
    ) -> Any:
        t = self.w.targets[region].get(ResourceIds[0])
        return {"ScalableTargets": [] if t is None else [{"MinCapacity": t[0], "MaxCapacity": t[1]}]}

    def application_autoscaling_register_scalable_target(
        self, region: str, ResourceId: str, MinCapacity: int, MaxCapacity: int, **_: Any
    ) -> None:
        self.w.targets[region][ResourceId] = (MinCapacity, MaxCapacity)

    def elbv2_describe_target_health(self, region: str, TargetGroupArn: str) -> Any:
        return {"TargetHealthDescriptions": [{"TargetHealth": {"State": "healthy"}}]}

    # --- CloudWatch / Route 53 / CFN ---------------------------------------------------------------------
    def cloudwatch_get_metric_statistics(self, region: str, **kw: Any) -> Any:
        dims = tuple(sorted((d["Name"], d["Value"]) for d in kw["Dimensions"]))
        start = kw["StartTime"].timestamp()
        pts = [
            {"Timestamp": datetime.fromtimestamp(at, UTC), "Maximum": v}
            for (r, ns, name, d, at, v) in self.w.metrics
            if (r, ns, name, d) == (region, kw["Namespace"], kw["MetricName"], dims) and at >= start
        ]
        if kw["MetricName"] == "ReplicaLag" and region == PRIMARY:
            # The replica reports what the test set, at "now".
            pts.append(
                {
                    "Timestamp": datetime.fromtimestamp(self.w.clock.now(), UTC),
                    "Maximum": self.w.replica_lag_after_fence,
                }
            )
        return {"Datapoints": pts}

    def cloudwatch_put_metric_data(self, region: str, Namespace: str, MetricData: Any) -> None:
        for m in MetricData:
            dims = {d["Name"]: d["Value"] for d in m["Dimensions"]}
            self.w.metric(region, Namespace, m["MetricName"], dims, m["Value"], self.w.clock.now())

    def _pin(self) -> float | None:
        pins = [
            v for (r, ns, name, _, _, v) in self.w.metrics if (ns, name) == ("StreamFlixDR", "FailoverPin")
        ]
        return pins[-1] if pins else None

    def route53_list_resource_record_sets(self, region: str, **_: Any) -> Any:
        return {"ResourceRecordSets": []}

    def route53_test_dns_answer(self, region: str, **_: Any) -> Any:
        return {"RecordData": [self.w.lb[PRIMARY] if self._pin() == 0 else self.w.lb[DR]]}

    def cloudformation_describe_stacks(self, region: str, StackName: str) -> Any:
        return {"Stacks": [{"StackName": StackName}]}

    def cloudformation_describe_stack_resources(self, region: str, StackName: str) -> Any:
        logical = (
            {"DbInstance": "streamflix-db-test", "FileSystem": "fs-primary"}
            if region == PRIMARY
            else {
                "DbReplica": "streamflix-db-test",
                "FileSystem": "fs-dr",
            }
        )
        return {
            "StackResources": [{"LogicalResourceId": k, "PhysicalResourceId": v} for k, v in logical.items()]
        }


@dataclass
class FakeFactory:
    """``client(service, region)``: fakes for AWS services, a real (moto) client for DynamoDB."""

    world: World
    dynamo_factory: Any

    def __post_init__(self) -> None:
        self.h = Handlers(self.world)

    def client(self, service: str, region: str) -> Any:
        if service == "dynamodb":
            return self.dynamo_factory.client(service, region)
        return FakeClient(self.world, service, region, self.h)
