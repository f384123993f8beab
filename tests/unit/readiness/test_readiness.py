"""Readiness checks on moto: a ready DR region passes; each broken piece fails with its check id and a fix."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streamflix_dr.readiness.core import ReadinessTarget, Status, run_readiness

from .conftest import DR, NOW, Factory, FakeEfs


def _run(factory: Any, target: ReadinessTarget) -> Any:
    return run_readiness(factory, target, now=NOW.timestamp())


def _by_id(report: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in report.findings:
        out.setdefault(f.check_id, []).append(f)
    return out


def test_ready_region_passes(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, target = ready
    report = _run(factory, target)
    fails = [f for f in report.findings if f.status is Status.FAIL]
    assert report.ready, fails
    assert report.exit_code == 0
    ids = set(_by_id(report))
    assert {
        "RDS001",
        "RDS002",
        "EFS001",
        "EFS002",
        "REDIS001",
        "SEC001",
        "KMS001",
        "ECR001",
        "ECS001",
        "ALARM001",
        "AUTO001",
        "AUTO002",
        "AUTO003",
    } <= ids
    # Global Datastore off is a warning, not a failure
    assert _by_id(report)["REDIS001"][0].status is Status.WARN
    doc = report.to_dict()
    assert doc["ready"] is True and doc["counts"]["fail"] == 0 and doc["findings"][0]["region"] == DR


def test_replica_lag_over_threshold_fails(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, target = ready
    report = _run(factory, replace(target, max_replica_lag_seconds=1))
    lag = _by_id(report)["RDS002"][0]
    assert lag.status is Status.FAIL and "over the 1 s threshold" in lag.message and lag.fix
    assert report.exit_code == 3


@pytest.mark.parametrize(
    ("efs", "check_id", "text"),
    [
        (FakeEfs(exists=False), "EFS001", "no replication"),
        (FakeEfs(status="ERROR"), "EFS001", "status is ERROR"),
        (FakeEfs(sync_age=3600), "EFS002", "last sync 3600 s ago"),
    ],
    ids=["no-replication", "replication-error", "sync-too-old"],
)
def test_efs_problems_fail(
    ready: tuple[Factory, ReadinessTarget], efs: FakeEfs, check_id: str, text: str
) -> None:
    factory, target = ready
    report = _run(Factory(factory.real, efs), target)
    finding = next(f for f in report.findings if f.check_id == check_id and f.status is Status.FAIL)
    assert text in finding.message and finding.fix


def test_missing_pieces_fail_with_their_ids(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, target = ready
    broken = replace(
        target,
        db_instance_id="nope",
        image_tag="v2",
        warm_count=3,
        alarm_names=("absent",),
        secret_names=("absent/secret",),
        journal_table="absent",
    )
    report = _run(factory, broken)
    failed = {f.check_id for f in report.findings if f.status is Status.FAIL}
    assert {"RDS001", "ECR001", "ECS001", "ALARM001", "SEC001", "AUTO003"} <= failed
    assert not report.ready


def test_disabled_kms_key_fails(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, target = ready
    factory.real.client("kms", DR).disable_key(KeyId=target.kms_key_arn.split("/")[-1])
    kms = _by_id(_run(factory, target))["KMS001"][0]
    assert kms.status is Status.FAIL and "Disabled" in kms.message


def test_unknown_outputs_say_which_output_is_missing(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, _ = ready
    report = _run(factory, ReadinessTarget(region=DR, primary_region="eu-west-2", suffix="x"))
    rds = _by_id(report)["RDS001"][0]
    assert rds.status is Status.FAIL and "DbInstanceIdentifier" in rds.message


def test_from_outputs_maps_stack_outputs() -> None:
    t = ReadinessTarget.from_outputs(
        {
            "DbInstanceIdentifier": "db",
            "FileSystemId": "fs-1",
            "GlobalDatastoreId": "g",
            "KmsKeyArn": "k",
            "DbSecretName": "s1",
            "RedisAuthSecretName": "s2",
            "JournalTableName": "j",
        },
        region=DR,
        primary_region="eu-west-2",
        suffix="x",
        global_datastore=False,
    )
    assert t.db_instance_id == "db" and t.file_system_id == "fs-1" and t.secret_names == ("s1", "s2")
    assert t.global_datastore_id == "" and t.journal_table == "j"


def test_never_deployed_environment_is_a_not_ready_report_with_json(
    ready: tuple[Factory, ReadinessTarget],
) -> None:
    from streamflix_dr.config import load_environment  # noqa: PLC0415
    from streamflix_dr.runbook.session import readiness_report  # noqa: PLC0415

    factory, _ = ready
    env = replace(load_environment("dev"), suffix="neverdeployed")
    report = readiness_report(factory, env, now=NOW.timestamp())
    assert not report.ready and report.exit_code == 3
    doc = report.to_dict()
    assert doc["ready"] is False and doc["findings"][0]["check_id"] == "STACK001"
    assert "streamflix-dr-dr-neverdeployed" in doc["findings"][0]["resource"]
    assert "deploy" in doc["findings"][0]["fix"]


def test_global_datastore_on_but_unknown_is_not_told_to_turn_it_on(
    ready: tuple[Factory, ReadinessTarget],
) -> None:
    factory, target = ready
    report = _run(factory, replace(target, global_datastore_id="", global_datastore_enabled=True))
    redis = _by_id(report)["REDIS001"][0]
    assert redis.status is Status.FAIL and "turns the Global Datastore on" in redis.message
    assert "global_datastore: true" not in redis.fix


def test_promoted_replica_points_at_what_exists(ready: tuple[Factory, ReadinessTarget]) -> None:
    factory, target = ready
    # an instance that is not a replica: what readiness sees after a failover
    factory.client("rds", DR).create_db_instance(
        DBInstanceIdentifier="standalone",
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        MasterUsername="app",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    rds = _by_id(_run(factory, replace(target, db_instance_id="standalone")))["RDS001"][0]
    assert rds.status is Status.FAIL and "fail back" not in rds.fix and "docs/failover.md" in rds.fix
