"""Teardown of the main deployment (runs last: files are collected in name order). Nothing is left behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError
from integration_support import EMULATOR_ONLY, Deployment, emulator_timeouts

from streamflix_dr.config import load_environment
from streamflix_dr.deploy.destroy import destroy, leftovers
from streamflix_dr.deploy.orchestrator import deploy
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


# ---- issue 8: destroy after a failover, with and without the Global Datastore ----------------------------


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from streamflix_dr.cli.main import main  # noqa: PLC0415

    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("gds", [False, True], ids=["no-gds", "gds"])
def test_destroy_after_a_failover_leaves_nothing(
    target: Deployment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    gds: bool,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    doc = yaml.safe_load((Path(__file__).parents[2] / "environments" / "dev.yaml").read_text())
    doc.update(suffix="dfog" if gds else "dfo", global_datastore=gds)
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    env = load_environment(str(env_file))
    deploy(
        env,
        target.factory,
        confirm=lambda _p: True,
        timeouts=emulator_timeouts(),
        outputs_dir=tmp_path / "out",
    )
    ep = ["--env", str(env_file), "--endpoint-url", str(target.endpoint), "--yes"]
    dirs = ["--journal-dir", str(tmp_path / "journal"), "--reports-dir", str(tmp_path / "reports")]
    code, _, err = _cli(["failover", *ep, "--force", *dirs], capsys)
    assert code in (0, 1, 6), err  # whatever verify-serving says, the stores have been failed over
    code, out, err = _cli(["status", *ep[:-1], "--json"], capsys)
    status_doc = json.loads(out)
    assert status_doc["failed_over"] is True, err
    if gds:
        redis = next(s for s in status_doc["stores"] if s["store"] == "redis")
        assert redis["primary_region"] == env.dr_region  # the DR group is now the datastore's PRIMARY
    code, out, err = _cli(["destroy", *ep, "--poll-interval", "0.2"], capsys)
    assert code == 0, err + out
    assert f"nothing carrying suffix {env.suffix!r} is left" in out
    left, unchecked = leftovers(env, target.factory)
    assert left == [] and unchecked == []
    # The promoted secret no longer blocks a new deploy of the same environment.
    sm = target.factory.client("secretsmanager", env.dr_region)
    assert not [s["Name"] for s in sm.list_secrets()["SecretList"] if env.suffix in s["Name"].split("/")]
