"""The three failback phases through the failover runner, against the fake AWS: what each phase leaves
behind, the refusal to promote an undrained store, --force with the loss shown, and resume after a kill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import DB, FakeClock, make_runner
from fakes import DR, PRIMARY, Killed, World

from streamflix_dr.failback.base import FailbackStepId, FailbackTopology, Phase
from streamflix_dr.failback.report import build_failback_report
from streamflix_dr.runbook.journal import OperationStatus, StepStatus


def tags(world: World, region: str, db_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in world.tags[world.dbs[region][db_id]["DBInstanceArn"]]}


def run_phases(
    factory: Any, topology: FailbackTopology, clock: FakeClock, tmp_path: Path, *phases: Phase
) -> Any:
    return make_runner(factory, topology, clock, tmp_path, list(phases)).run()


def test_reprotect_rebuilds_every_store_towards_the_primary(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    result = run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT)

    assert result.succeeded, result.error
    assert result.operation_id.startswith("failback-")
    assert result.direction == "failback"
    # RDS: the diverged primary renamed aside (tagged, kept), the original id now a replica of the DR DB.
    olds = [d for d in world.dbs[PRIMARY] if d.startswith(f"{DB}-old-")]
    assert len(olds) == 1
    assert tags(world, PRIMARY, olds[0])["streamflix-dr:renamed-from"] == DB
    new = world.dbs[PRIMARY][DB]
    assert new["ReadReplicaSourceDBInstanceIdentifier"] == world.arn(DR, DB)
    assert new["KmsKeyId"] == topology.primary.kms_key_arn
    # The template's security group, not the fence group the old instance carried.
    assert new["VpcSecurityGroups"] == [{"VpcSecurityGroupId": "sg-db-eu-west-2"}]
    assert new["BackupRetentionPeriod"] == 7
    assert tags(world, PRIMARY, DB)["Environment"] == "test"
    # EFS: the leftover configuration gone, the DR file system replicating into the primary's.
    assert [(r["src"], r["dst"]) for r in world.reps] == [("fs-dr", "fs-primary")]
    # Redis: still a secondary, nothing rebuilt.
    assert world.called("elasticache", "create_replication_group") == []
    # Secrets: the DR value copied back, the primary region primary again, DR a replica in sync.
    assert world.secrets[PRIMARY]["db-secret"]["value"] == "pw-rotated-in-dr"
    assert world.secrets[DR]["db-secret"]["primary_region"] == PRIMARY
    assert world.secrets[PRIMARY]["db-secret"]["replicas"] == {DR: "InSync"}
    # DNS untouched: still pinned to DR.
    assert world.called("cloudwatch", "put_metric_data") == []


def test_reprotect_stops_the_old_primary_service_that_came_back_with_its_region(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    # The failover could not fence eu-west-2 (it was down): its service comes back at full capacity.
    world.services[PRIMARY][topology.primary.ecs_service] = {"desired": 4}

    result = run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT)

    assert result.succeeded, result.error
    assert world.services[PRIMARY][topology.primary.ecs_service]["desired"] == 0
    rec = result.step(FailbackStepId.FENCE_OLD_PRIMARY.value)
    assert rec is not None and "4 task(s) were running" in rec.message
    # ...and the cut-back brings it back once eu-west-2 holds the data.
    assert run_phases(factory, topology, clock, tmp_path, Phase.CUTBACK).succeeded
    assert world.services[PRIMARY][topology.primary.ecs_service]["desired"] == 4


def test_reprotect_recreates_a_disassociated_redis_member_as_a_new_secondary(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    world.gds["gds-test"] = [{"rg": "redis-dr", "region": DR, "role": "PRIMARY"}]

    result = run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT)

    assert result.succeeded, result.error
    assert world.called("elasticache", "delete_replication_group") == [PRIMARY]
    assert {"rg": "redis-primary", "region": PRIMARY, "role": "SECONDARY"} in world.gds["gds-test"]
    rec = result.step(FailbackStepId.REPROTECT_REDIS.value)
    assert rec is not None and any("re-synced" in w for w in rec.warnings)


def test_reprotect_enables_backups_on_a_source_without_them(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    world.dbs[DR][DB]["BackupRetentionPeriod"] = 0

    result = run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT)

    assert result.succeeded, result.error
    assert world.dbs[DR][DB]["BackupRetentionPeriod"] == 7


def test_full_cycle_returns_to_the_original_topology_with_nothing_lost(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    result = run_phases(factory, topology, clock, tmp_path, *Phase)

    assert result.succeeded, result.error
    # Primary region: standalone DB, writable (parameter off, template SG), EFS source, Redis primary.
    primary_db = world.dbs[PRIMARY][DB]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in primary_db
    assert world.params[(PRIMARY, "pg-eu-west-2")]["default_transaction_read_only"] == "off"
    assert [(r["src"], r["dst"]) for r in world.reps] == [("fs-primary", "fs-dr")]
    roles = {m["region"]: m["role"] for m in world.gds["gds-test"]}
    assert roles == {PRIMARY: "PRIMARY", DR: "SECONDARY"}
    # DR region: a new replica under the original id; the DR group writable again for the next failover.
    assert world.dbs[DR][DB]["ReadReplicaSourceDBInstanceIdentifier"] == world.arn(PRIMARY, DB)
    assert world.params[(DR, "pg-us-east-1")]["default_transaction_read_only"] == "off"
    # Renamed-aside instances deleted (final snapshots asserted by the fake), capacity and DNS back.
    assert [d for r in (PRIMARY, DR) for d in world.dbs[r] if "-old-" in d] == []
    assert world.services[PRIMARY]["svc-primary"]["desired"] == 4
    assert world.targets[PRIMARY]["service/cluster/svc-primary"] == (2, 8)
    assert world.services[DR]["svc-dr"]["desired"] == 1
    assert world.targets[DR]["service/cluster/svc-dr"] == (1, 2)
    assert "streamflix-dr:fenced-at" not in tags(world, DR, DB)
    doc = build_failback_report(result, environment="test")
    assert doc["lost"] == {"rds": 0.0, "efs": 0.0, "redis": None, "secrets": 0.0}
    assert set(doc["phases"]) == {"reprotect", "cutback", "reprotect-original"}
    assert doc["write_unavailable_wall_seconds"] is not None and doc["write_unavailable_wall_seconds"] > 0


def test_cutback_refuses_to_promote_while_rds_has_not_drained(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT).succeeded
    world.replica_lag_after_fence = 12.0

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run()

    assert result.status is OperationStatus.FAILED
    rec = result.step(FailbackStepId.DRAIN_RDS.value)
    assert rec is not None and rec.status is StepStatus.FAILED
    assert "lag 12 s" in rec.message and "--force" in rec.message
    # Nothing promoted, nothing failed back, DNS still pinned to DR.
    assert world.dbs[PRIMARY][DB]["ReadReplicaSourceDBInstanceIdentifier"] == world.arn(DR, DB)
    assert world.called("rds", "promote_read_replica") == []
    assert world.called("efs", "delete_replication_configuration") == [
        PRIMARY
    ]  # the reprotect's leftover only
    assert world.called("cloudwatch", "put_metric_data") == []


def test_cutback_refuses_while_efs_has_not_synced_after_the_fence(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT).succeeded
    world.efs_syncs_after_fence = False

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run()

    assert result.status is OperationStatus.FAILED
    rec = result.step(FailbackStepId.DRAIN_EFS.value)
    assert rec is not None and rec.status is StepStatus.FAILED
    assert world.called("rds", "promote_read_replica") == []


def test_cutback_with_force_promotes_and_reports_the_loss(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT).succeeded
    world.replica_lag_after_fence = 12.0

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK], force=True).run()

    assert result.succeeded, result.error
    doc = build_failback_report(result, environment="test")
    assert doc["lost"]["rds"] == 12.0
    assert any("--force: up to 12 s of RDS writes" in w for w in doc["warnings"])
    assert "ReadReplicaSourceDBInstanceIdentifier" not in world.dbs[PRIMARY][DB]


def test_dns_moves_only_after_promotion_and_before_the_dr_scales_down(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert run_phases(factory, topology, clock, tmp_path, Phase.REPROTECT).succeeded
    world.calls.clear()

    assert make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run().succeeded

    order = [(s, m, r) for s, m, r in world.calls]
    promote = order.index(("rds", "promote_read_replica", PRIMARY))
    pin = order.index(("cloudwatch", "put_metric_data", DR))
    dr_scale = [i for i, c in enumerate(order) if c == ("ecs", "update_service", DR)]
    primary_scale = order.index(("ecs", "update_service", PRIMARY))
    assert dr_scale[0] < promote < primary_scale < pin < dr_scale[-1]


KILL_POINTS = [
    (Phase.REPROTECT, ("rds", "create_db_instance_read_replica")),
    (Phase.CUTBACK, ("rds", "promote_read_replica")),
    (Phase.REPROTECT_ORIGINAL, ("efs", "create_replication_configuration")),
]


@pytest.mark.parametrize(("phase", "call"), KILL_POINTS, ids=[p.value for p, _ in KILL_POINTS])
def test_a_killed_phase_resumes_with_the_same_command_without_repeating_actions(
    factory: Any,
    topology: FailbackTopology,
    world: World,
    clock: FakeClock,
    tmp_path: Path,
    phase: Phase,
    call: tuple[str, str],
) -> None:
    before = list(Phase)[: list(Phase).index(phase)]
    if before:
        assert run_phases(factory, topology, clock, tmp_path, *before).succeeded
    killed = {"done": False}

    def kill_after_the_call(kwargs: dict[str, Any]) -> None:
        if not killed["done"]:
            killed["done"] = True
            # The action reaches AWS, then the process dies before it hears back.
            getattr(factory.h, f"{call[0]}_{call[1]}")(
                PRIMARY, **kwargs
            )  # all three calls go to the primary region
            raise Killed

    world.hooks[call] = kill_after_the_call
    with pytest.raises(Killed):
        make_runner(factory, topology, clock, tmp_path, [phase], owner="first").run()
    world.hooks.clear()
    calls_before = len(world.called(*call))
    clock.advance(301)  # the dead run's lease runs out

    result = make_runner(factory, topology, clock, tmp_path, [phase], owner="second").run()

    assert result.succeeded, result.error
    assert result.resumed
    # The action the dead run made is found in AWS (check_done), not made again.
    assert len(world.called(*call)) == calls_before
    if phase is Phase.REPROTECT:
        assert len([d for d in world.dbs[PRIMARY] if "-old-" in d]) == 1
