"""The AWS behaviours a failback relies on, through boto3 against the emulator.

RDS rename and replica preconditions come from ``failback_apis`` (installed here until install.py lists
it); EFS replication into an existing file system, Global Datastore failover back and re-adding a member,
and secret re-replication with overwrite come from the existing extension modules: these tests pin the
failback's use of them. Each fails against plain moto (see each test's docstring for how).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import engines, failback_apis, rds_replication, regional_state
from streamflix_dr_emulator.client import DataPlaneClient
from streamflix_dr_emulator.engines import efs_fs, elasticache_hooks

PRIMARY = "eu-west-2"
DR = "us-east-1"
ACCOUNT = "123456789012"
WAIT_SECONDS = 30.0


@pytest.fixture
def engines_on(endpoint: str) -> Iterator[str]:
    """The real engines for one test (EFS directories, Valkey): data lives nowhere else."""
    engines.enable(True)
    try:
        yield endpoint
    finally:
        engines.shutdown_all()
        engines.enable(False)


@pytest.fixture(autouse=True)
def _failback_apis(endpoint: str) -> Iterator[None]:
    failback_apis.install()
    yield
    # Leave the emulator as found: these tests move the emulated clock (a clock left ahead of real time
    # puts AWS timestamps in the client's future).
    DataPlaneClient(endpoint).reset()


def make_db(endpoint: str, region: str = PRIMARY, *, backups: int = 7) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).create_db_instance(
            DBInstanceIdentifier=uid("db"),
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="app",
            MasterUserPassword="password-123",
            AllocatedStorage=20,
            BackupRetentionPeriod=backups,
            Tags=[{"Key": "Environment", "Value": "test"}],
        )["DBInstance"]
    )


def replica_of(
    endpoint: str, source: dict[str, Any], region: str, db_id: str | None = None
) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).create_db_instance_read_replica(
            DBInstanceIdentifier=db_id or uid("rep"),
            SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion=source["DBInstanceArn"].split(":")[3],
        )["DBInstance"]
    )


def describe(endpoint: str, region: str, db_id: str) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    )


def rename(endpoint: str, region: str, db_id: str, new: str, **kw: Any) -> dict[str, Any]:
    return dict(
        aws(endpoint, "rds", region).modify_db_instance(
            DBInstanceIdentifier=db_id, NewDBInstanceIdentifier=new, **({"ApplyImmediately": True} | kw)
        )["DBInstance"]
    )


def make_fs(endpoint: str, region: str) -> str:
    return str(
        aws(endpoint, "efs", region).create_file_system(CreationToken=uid("tok"), Encrypted=True)[
            "FileSystemId"
        ]
    )


def protection(endpoint: str, region: str, fs_id: str) -> str:
    fs = aws(endpoint, "efs", region).describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    return str(fs["FileSystemProtection"]["ReplicationOverwriteProtection"])


# --- rename --------------------------------------------------------------------------------------------


def test_rename_changes_identifier_arn_and_endpoint_and_reads_renaming_until_effective(endpoint: str) -> None:
    """Plain moto: the instance stays ``available`` through the rename."""
    db = make_db(endpoint)
    new = f"{db['DBInstanceIdentifier']}-old-1"

    renamed = rename(endpoint, PRIMARY, db["DBInstanceIdentifier"], new)

    assert renamed["DBInstanceStatus"] == "renaming"
    assert renamed["DBInstanceArn"].endswith(f":db:{new}")
    assert renamed["Endpoint"]["Address"].startswith(f"{new}.")
    with pytest.raises(ClientError) as e:
        describe(endpoint, PRIMARY, db["DBInstanceIdentifier"])
    assert error_of(e) == ("DBInstanceNotFound", 404)
    DataPlaneClient(endpoint).advance_clock(failback_apis.RENAME_SECONDS)
    assert describe(endpoint, PRIMARY, new)["DBInstanceStatus"] == "available"
    tags = aws(endpoint, "rds", PRIMARY).list_tags_for_resource(ResourceName=renamed["DBInstanceArn"])[
        "TagList"
    ]
    assert {"Key": "Environment", "Value": "test"} in tags


def test_an_instance_being_renamed_cannot_be_modified_or_replicated(endpoint: str) -> None:
    """Plain moto: no renaming state, both calls succeed."""
    db = make_db(endpoint)
    new = f"{db['DBInstanceIdentifier']}-x"
    renamed = rename(endpoint, PRIMARY, db["DBInstanceIdentifier"], new)

    with pytest.raises(ClientError) as e:
        aws(endpoint, "rds", PRIMARY).modify_db_instance(DBInstanceIdentifier=new, BackupRetentionPeriod=3)
    assert error_of(e) == ("InvalidDBInstanceState", 400)
    with pytest.raises(ClientError) as e:
        replica_of(endpoint, renamed, DR)
    assert error_of(e) == ("InvalidDBInstanceState", 400)


@pytest.mark.parametrize("taken", ["other", "itself"])
def test_rename_to_an_existing_identifier_is_refused(endpoint: str, taken: str) -> None:
    """Plain moto: accepted (renaming onto another instance dropped it from the region)."""
    db = make_db(endpoint)
    target = make_db(endpoint)["DBInstanceIdentifier"] if taken == "other" else db["DBInstanceIdentifier"]

    with pytest.raises(ClientError) as e:
        rename(endpoint, PRIMARY, db["DBInstanceIdentifier"], target)

    assert error_of(e) == ("DBInstanceAlreadyExists", 400)
    assert describe(endpoint, PRIMARY, target)["DBInstanceIdentifier"] == target


@pytest.mark.parametrize("bad", ["1starts-with-digit", "ends-with-hyphen-", "two--hyphens", "x" * 64])
def test_rename_to_an_invalid_identifier_is_refused(endpoint: str, bad: str) -> None:
    """Plain moto: any string becomes the identifier."""
    db = make_db(endpoint)
    with pytest.raises(ClientError) as e:
        rename(endpoint, PRIMARY, db["DBInstanceIdentifier"], bad)
    assert error_of(e) == ("InvalidParameterValue", 400)


def test_a_rename_deferred_to_the_maintenance_window_fails_loudly(endpoint: str) -> None:
    """Plain moto: renamed at once, which AWS does only with ApplyImmediately."""
    db = make_db(endpoint)
    with pytest.raises(ClientError) as e:
        rename(
            endpoint,
            PRIMARY,
            db["DBInstanceIdentifier"],
            f"{db['DBInstanceIdentifier']}-later",
            ApplyImmediately=False,
        )
    assert error_of(e) == ("InvalidParameterCombination", 400)
    assert describe(endpoint, PRIMARY, db["DBInstanceIdentifier"])["DBInstanceStatus"] == "available"


def test_a_replica_stays_associated_with_its_renamed_source(endpoint: str) -> None:
    """Plain moto: the replica keeps the old ARN, so a new instance under that name became its source."""
    src = make_db(endpoint)
    rep = replica_of(endpoint, src, DR)
    new = f"{src['DBInstanceIdentifier']}-old-2"

    renamed = rename(endpoint, PRIMARY, src["DBInstanceIdentifier"], new)

    assert (
        describe(endpoint, DR, rep["DBInstanceIdentifier"])["ReadReplicaSourceDBInstanceIdentifier"]
        == (renamed["DBInstanceArn"])
    )
    DataPlaneClient(endpoint).advance_clock(failback_apis.RENAME_SECONDS)
    assert describe(endpoint, PRIMARY, new)["ReadReplicaDBInstanceIdentifiers"] == [rep["DBInstanceArn"]]


def test_a_stack_names_its_instance_by_identifier_across_a_rename_and_a_new_instance(
    endpoint: str, stacks: Any
) -> None:
    """CloudFormation stores the physical id (the identifier). Plain moto: the stack followed the renamed
    object, so DescribeStackResources showed the renamed instance and a stack delete deleted it."""
    name = uid("cfdb")
    stack = stacks.create(
        {
            "Resources": {
                "Db": {
                    "Type": "AWS::RDS::DBInstance",
                    "DeletionPolicy": "Delete",
                    "Properties": {
                        "DBInstanceIdentifier": name,
                        "Engine": "postgres",
                        "DBInstanceClass": "db.r6g.large",
                        "AllocatedStorage": "20",
                        "MasterUsername": "app",
                        "MasterUserPassword": "password-123",
                        "BackupRetentionPeriod": 7,
                    },
                }
            }
        },
        region=PRIMARY,
    )
    source = make_db(endpoint, DR)
    rename(endpoint, PRIMARY, name, f"{name}-old-1")
    dp = DataPlaneClient(endpoint)
    dp.advance_clock(failback_apis.RENAME_SECONDS)
    replica_of(endpoint, source, PRIMARY, name)

    cfn = aws(endpoint, "cloudformation", PRIMARY)
    res = cfn.describe_stack_resources(StackName=stack["StackName"])["StackResources"]
    assert [r["PhysicalResourceId"] for r in res if r["LogicalResourceId"] == "Db"] == [name]
    cfn.delete_stack(StackName=stack["StackName"])
    assert describe(endpoint, PRIMARY, f"{name}-old-1")["DBInstanceIdentifier"] == f"{name}-old-1"


# --- replica preconditions -----------------------------------------------------------------------------


def test_a_replica_of_a_source_without_backups_is_refused_with_aws_text(endpoint: str) -> None:
    """Plain moto: created."""
    src = make_db(endpoint, backups=0)
    with pytest.raises(ClientError) as e:
        replica_of(endpoint, src, DR)
    assert error_of(e) == ("InvalidDBInstanceState", 400)
    assert e.value.response["Error"]["Message"] == failback_apis.BACKUPS_NOT_ENABLED


def test_a_replica_cannot_take_an_existing_identifier(endpoint: str) -> None:
    """Plain moto: the existing instance was silently replaced."""
    src = make_db(endpoint)
    existing = make_db(endpoint, DR)
    with pytest.raises(ClientError) as e:
        replica_of(endpoint, src, DR, existing["DBInstanceIdentifier"])
    assert error_of(e) == ("DBInstanceAlreadyExists", 400)
    assert not describe(endpoint, DR, existing["DBInstanceIdentifier"]).get(
        "ReadReplicaSourceDBInstanceIdentifier"
    )


def test_a_replica_is_created_with_backups_disabled(endpoint: str) -> None:
    """Plain moto: the replica copies the source's retention (7)."""
    rep = replica_of(endpoint, make_db(endpoint), DR)
    assert describe(endpoint, DR, rep["DBInstanceIdentifier"])["BackupRetentionPeriod"] == 0


# --- the RDS round trip --------------------------------------------------------------------------------


# A promotion's phases in emulated seconds (rds_replication: modifying, rebooting, backing-up), plus a margin.
_PROMOTION_SECONDS = sum(rds_replication.DEFAULT_PROMOTION.values()) + 5


def test_rds_failback_round_trip_under_the_original_identifiers(endpoint: str) -> None:
    """Fail over, rename the diverged primary aside, replicate the promoted DR instance back under the
    original identifier, promote it, then rebuild the DR replica. Plain moto: no promotion link clearing,
    a replica over an existing name silently replaced it. (The rows of such a round trip live in the
    PostgreSQL engines: tests/emulator/engines/test_postgres_rds.py replicates and promotes them.)"""
    x = make_db(endpoint)
    x_id = x["DBInstanceIdentifier"]
    y = replica_of(endpoint, x, DR, x_id)  # same identifier in both regions, as the template does
    aws(endpoint, "rds", DR).promote_read_replica(DBInstanceIdentifier=x_id, BackupRetentionPeriod=7)
    advance(endpoint, _PROMOTION_SECONDS)  # modifying, rebooting, the first backup: available again
    assert not describe(endpoint, DR, x_id).get("ReadReplicaSourceDBInstanceIdentifier")

    old = rename(endpoint, PRIMARY, x_id, f"{x_id}-old-1")
    advance(endpoint, failback_apis.RENAME_SECONDS)
    back = replica_of(endpoint, describe(endpoint, DR, x_id), PRIMARY, x_id)

    assert back["ReadReplicaSourceDBInstanceIdentifier"] == y["DBInstanceArn"]
    assert old["DBInstanceArn"] != back["DBInstanceArn"]
    assert describe(endpoint, PRIMARY, f"{x_id}-old-1")["DBInstanceArn"] == old["DBInstanceArn"]
    assert describe(endpoint, DR, x_id)["ReadReplicaDBInstanceIdentifiers"] == [back["DBInstanceArn"]]

    aws(endpoint, "rds", PRIMARY).promote_read_replica(DBInstanceIdentifier=x_id, BackupRetentionPeriod=7)
    advance(endpoint, _PROMOTION_SECONDS)
    rename(endpoint, DR, x_id, f"{x_id}-old-2")
    advance(endpoint, failback_apis.RENAME_SECONDS)
    again = replica_of(endpoint, describe(endpoint, PRIMARY, x_id), DR, x_id)

    assert again["ReadReplicaSourceDBInstanceIdentifier"] == back["DBInstanceArn"]
    assert not describe(endpoint, PRIMARY, x_id).get("ReadReplicaSourceDBInstanceIdentifier")


def advance(endpoint: str, seconds: float) -> None:
    DataPlaneClient(endpoint).advance_clock(seconds)


def test_replication_progress_shows_to_a_reader_without_any_data_plane_request(endpoint: str) -> None:
    """A failback drain only reads LastReplicatedTimestamp and ReplicaLag after the fence. Before: nothing
    pumped the data plane, so no sync and no ReplicaLag datapoint after the fence ever showed. Each read
    pumps on its own."""
    dp = DataPlaneClient(endpoint)
    src = make_db(endpoint)
    rep = replica_of(endpoint, src, DR)
    fs_a, fs_b = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    aws(endpoint, "efs", DR).update_file_system_protection(
        FileSystemId=fs_b, ReplicationOverwriteProtection="DISABLED"
    )
    aws(endpoint, "efs", PRIMARY).create_replication_configuration(
        SourceFileSystemId=fs_a, Destinations=[{"Region": DR, "FileSystemId": fs_b}]
    )
    fence = dp.advance_clock(0)
    regional_state.advance(120)  # time passes; no data-plane request, no pump

    cw = aws(endpoint, "cloudwatch", DR)
    points = cw.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": rep["DBInstanceIdentifier"]}],
        StartTime=regional_state.now_datetime() - timedelta(minutes=5),
        EndTime=regional_state.now_datetime() + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert points and max(p["Timestamp"].timestamp() for p in points) >= fence
    regional_state.advance(120)  # more time, still no data-plane request
    efs = aws(endpoint, "efs", PRIMARY).describe_replication_configurations(FileSystemId=fs_a)[
        "Replications"
    ][0]
    assert efs["Destinations"][0]["LastReplicatedTimestamp"].timestamp() > fence + 60


# --- EFS, Global Datastore, secrets (existing modules, as the failback uses them) --------------------------


def test_efs_replicates_back_into_the_existing_primary_file_system(engines_on: str) -> None:
    """The DR file system becomes the source, the primary's the destination (protection DISABLED first,
    REPLICATING while a destination, ENABLED and writable after). Plain moto has no EFS replication API.
    The files are the EFS engine's directories."""
    endpoint = engines_on
    dp = DataPlaneClient(endpoint)
    fs_a, fs_b = make_fs(endpoint, PRIMARY), make_fs(endpoint, DR)
    efs_fs.write_file(ACCOUNT, PRIMARY, fs_a, "diverged-on-the-old-primary.txt", "stale")
    efs_fs.write_file(ACCOUNT, DR, fs_b, "written-in-dr.txt", "dr")
    efs_dr, efs_primary = aws(endpoint, "efs", DR), aws(endpoint, "efs", PRIMARY)
    with pytest.raises(ClientError) as e:
        efs_dr.create_replication_configuration(
            SourceFileSystemId=fs_b, Destinations=[{"Region": PRIMARY, "FileSystemId": fs_a}]
        )
    assert error_of(e)[0] == "ConflictException"  # protection still ENABLED

    efs_primary.update_file_system_protection(FileSystemId=fs_a, ReplicationOverwriteProtection="DISABLED")
    efs_dr.create_replication_configuration(
        SourceFileSystemId=fs_b, Destinations=[{"Region": PRIMARY, "FileSystemId": fs_a}]
    )
    assert protection(endpoint, PRIMARY, fs_a) == "REPLICATING"
    dp.sync()
    rep = efs_dr.describe_replication_configurations(FileSystemId=fs_b)["Replications"][0]
    assert rep["Destinations"][0]["LastReplicatedTimestamp"] is not None
    efs_dr.delete_replication_configuration(SourceFileSystemId=fs_b)

    assert protection(endpoint, PRIMARY, fs_a) == "ENABLED"
    # The destination was rewritten to match the source (EFS UG "Replicating to an existing file system").
    assert efs_fs.list_files(ACCOUNT, PRIMARY, fs_a) == {"written-in-dr.txt": "dr"}
    efs_fs.write_file(ACCOUNT, PRIMARY, fs_a, "after-failback.txt", "ok")  # writable again


def _redis(endpoint: str, region: str, rg_id: str) -> redis.Redis:
    rg = aws(endpoint, "elasticache", region).describe_replication_groups(ReplicationGroupId=rg_id)[
        "ReplicationGroups"
    ][0]
    address = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return redis.Redis(host=address["Address"], port=int(address["Port"]), socket_timeout=10)


def _caught_up(region: str, rg_id: str) -> None:
    for node in elasticache_hooks.nodes(ACCOUNT, region, rg_id):
        node.wait_replicated(WAIT_SECONDS)


def test_global_datastore_fails_back_and_a_disassociated_member_rejoins_empty_with_a_full_sync(
    engines_on: str,
) -> None:
    """Plain moto has no Global Datastore API. The keys are the Valkey engines'."""
    endpoint = engines_on
    dp = DataPlaneClient(endpoint)
    ec_p, ec_d = aws(endpoint, "elasticache", PRIMARY), aws(endpoint, "elasticache", DR)
    p_rg = uid("rg")
    ec_p.create_replication_group(
        ReplicationGroupId=p_rg,
        ReplicationGroupDescription="p",
        NumCacheClusters=2,
        CacheNodeType="cache.r7g.large",
        Engine="redis",
        EngineVersion="7.1",
    )
    gid = ec_p.create_global_replication_group(
        GlobalReplicationGroupIdSuffix=uid("g"), PrimaryReplicationGroupId=p_rg
    )["GlobalReplicationGroup"]["GlobalReplicationGroupId"]
    d_rg = uid("rg")
    ec_d.create_replication_group(
        ReplicationGroupId=d_rg, ReplicationGroupDescription="d", GlobalReplicationGroupId=gid
    )
    ec_d.failover_global_replication_group(
        GlobalReplicationGroupId=gid, PrimaryRegion=DR, PrimaryReplicationGroupId=d_rg
    )
    _redis(endpoint, DR, d_rg).set("k", "written-in-dr")
    _caught_up(PRIMARY, p_rg)  # the demoted old primary replicates from the DR group

    # Still a member: fail back with another failover.
    ec_p.failover_global_replication_group(
        GlobalReplicationGroupId=gid, PrimaryRegion=PRIMARY, PrimaryReplicationGroupId=p_rg
    )
    assert _redis(endpoint, PRIMARY, p_rg).get("k") == b"written-in-dr"

    # A disassociated member keeps its keys only as a standalone group; re-added it starts from the primary.
    ec_p.disassociate_global_replication_group(
        GlobalReplicationGroupId=gid, ReplicationGroupId=d_rg, ReplicationGroupRegion=DR
    )
    _redis(endpoint, DR, d_rg).set("stale", "only-in-the-detached-group")  # standalone: writable
    ec_d.delete_replication_group(ReplicationGroupId=d_rg, RetainPrimaryCluster=False)
    with pytest.raises(ClientError) as e:  # the id is free only once the deletion has finished
        ec_d.create_replication_group(
            ReplicationGroupId=d_rg, ReplicationGroupDescription="d", GlobalReplicationGroupId=gid
        )
    assert error_of(e)[0] == "ReplicationGroupAlreadyExists"
    dp.advance_clock(failback_apis.DELETE_SECONDS)
    with pytest.raises(ClientError) as e:
        ec_d.describe_replication_groups(ReplicationGroupId=d_rg)
    assert error_of(e) == ("ReplicationGroupNotFoundFault", 404)
    ec_d.create_replication_group(
        ReplicationGroupId=d_rg, ReplicationGroupDescription="d", GlobalReplicationGroupId=gid
    )
    _caught_up(DR, d_rg)

    members = ec_d.describe_global_replication_groups(GlobalReplicationGroupId=gid, ShowMemberInfo=True)[
        "GlobalReplicationGroups"
    ][0]["Members"]
    assert {(m["ReplicationGroupRegion"], m["Role"]) for m in members} == {
        (PRIMARY, "PRIMARY"),
        (DR, "SECONDARY"),
    }
    rejoined = _redis(endpoint, DR, d_rg)
    assert rejoined.get("k") == b"written-in-dr"
    assert rejoined.get("stale") is None


def test_secret_replicates_again_over_a_standalone_copy_only_with_force_overwrite(endpoint: str) -> None:
    """Plain moto has no StopReplicationToReplica, so the DR copy never becomes standalone."""
    sm_p, sm_d = aws(endpoint, "secretsmanager", PRIMARY), aws(endpoint, "secretsmanager", DR)
    name = uid("secret")
    sm_p.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": DR}])
    sm_d.stop_replication_to_replica(SecretId=name)
    sm_p.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[DR])
    sm_p.put_secret_value(SecretId=name, SecretString="v2-from-dr")

    refused = sm_p.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": DR}])
    assert refused["ReplicationStatus"][0]["Status"] == "Failed"
    assert "PrimaryRegion" not in sm_d.describe_secret(SecretId=name) or (
        sm_d.describe_secret(SecretId=name)["PrimaryRegion"] == DR
    )
    sm_p.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[DR])
    done = sm_p.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": DR}], ForceOverwriteReplicaSecret=True
    )

    assert done["ReplicationStatus"][0]["Status"] == "InSync"
    assert sm_d.describe_secret(SecretId=name)["PrimaryRegion"] == PRIMARY
    assert sm_d.get_secret_value(SecretId=name)["SecretString"] == "v2-from-dr"
