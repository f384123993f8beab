"""Teardown of the main deployment (runs last: files are collected in name order). Nothing is left behind."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from integration_support import EMULATOR_ONLY, Deployment, emulator_timeouts

from streamflix_dr.deploy.destroy import destroy
from streamflix_dr.deploy.stacks import StackEvent

pytestmark = [pytest.mark.integration, EMULATOR_ONLY]


@pytest.mark.parametrize("variant", ["deployment", "deployment_dns_gds"], ids=["dev", "dev-dns-gds"])
def test_destroy_leaves_nothing_behind(request: pytest.FixtureRequest, variant: str):
    deployment: Deployment = request.getfixturevalue(variant)
    env, factory = deployment.env, deployment.factory
    fs_ids = {}
    for region in (env.primary_region, env.dr_region):
        out = (deployment.result.outputs if deployment.result else {}).get(region, {})
        fs_ids[region] = out.get("FileSystemId")
    events: list[StackEvent] = []
    started = time.monotonic()
    result = destroy(
        env, factory, confirm=lambda _p: True, on_event=events.append, timeouts=emulator_timeouts()
    )
    seconds = time.monotonic() - started
    steps = [(s.step, s.region, s.action) for s in result.steps]
    assert ("delete dr stack", env.dr_region, "done") in steps
    assert ("delete primary stack", env.primary_region, "done") in steps
    names = [s[0] for s in steps]
    assert (
        names.index("primary update DrFileSystemId=''")
        < names.index("Redis secondary disassociated")
        < names.index("delete dr stack")
        < names.index("delete primary stack")
        < names.index("artifact bucket removed")
    )
    if env.global_datastore:
        assert ("Redis secondary disassociated", env.dr_region, "done") in steps
    assert any(e.status == "DELETE_COMPLETE" and e.logical_id == e.stack for e in events)

    mine = {fs for fs in fs_ids.values() if fs}
    for region in (env.primary_region, env.dr_region):
        cfn = factory.client("cloudformation", region)
        live = [
            s["StackName"]
            for s in cfn.describe_stacks()["Stacks"]
            if s["StackName"].endswith(f"-{env.suffix}") and s["StackStatus"] != "DELETE_COMPLETE"
        ]
        assert live == [], f"{region}: stacks left {live}"
        efs = factory.client("efs", region)
        left = {f["FileSystemId"] for f in efs.describe_file_systems()["FileSystems"]} & mine
        assert not left, f"{region}: file systems left {left}"
        if fs_ids[region]:
            try:
                reps = efs.describe_replication_configurations(FileSystemId=fs_ids[region])["Replications"]
            except ClientError as e:
                assert e.response["Error"]["Code"] in ("ReplicationNotFound", "FileSystemNotFound"), e
                reps = []
            assert reps == [], f"{region}: replication left {reps}"
        dbs = [
            d["DBInstanceIdentifier"]
            for d in factory.client("rds", region).describe_db_instances()["DBInstances"]
        ]
        assert not [d for d in dbs if d.endswith(env.suffix)], f"{region}: DB instances left {dbs}"
        ec = factory.client("elasticache", region)
        groups = [g["ReplicationGroupId"] for g in ec.describe_replication_groups()["ReplicationGroups"]]
        assert not [g for g in groups if env.suffix in g], f"{region}: caches left {groups}"
        backup = factory.client("backup", region)
        vaults = [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]]
        assert not [v for v in vaults if v.endswith(env.suffix)], f"{region}: backup vaults left {vaults}"
        plans = [p["BackupPlanName"] for p in backup.list_backup_plans()["BackupPlansList"]]
        assert not [p for p in plans if p.endswith(env.suffix)], f"{region}: backup plans left {plans}"
    buckets = [b["Name"] for b in factory.client("s3", env.primary_region).list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.endswith(f"-{env.suffix}")], f"buckets left: {buckets}"
    print(
        f"{env.name}/{env.suffix}: destroy of both regions {seconds:.2f}s (deploy {deployment.seconds:.2f}s)"
    )

    again = destroy(env, factory, confirm=lambda _p: True, timeouts=emulator_timeouts())
    assert [s.action for s in again.steps] == ["already-gone"]
