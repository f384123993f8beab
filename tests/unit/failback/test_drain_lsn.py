"""The exact RDS drain: WAL positions of both engines, read through ``WalProbe`` (stubbed here: the unit
tests have no engines), and the fall-back on ReplicaLag when the engines are out of reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import DB, FakeClock, make_runner
from fakes import DR, PRIMARY, World

from streamflix_dr.failback import rds
from streamflix_dr.failback.base import FailbackStepId, FailbackTopology, Phase
from streamflix_dr.runbook.journal import OperationStatus, StepStatus


def test_lsn_text_is_read_as_high_and_low_32_bits() -> None:
    assert rds._lsn("0/0") == 0
    assert rds._lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert rds._lsn("1/0") > rds._lsn("0/FFFFFFFF")


def _positions(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[int, int] | None]) -> list[int]:
    """WalProbe.positions answers these in turn (the last one from then on); returns the call count."""
    calls = [0]

    def positions(self: rds.WalProbe) -> tuple[int, int] | None:
        calls[0] += 1
        answer = answers[min(calls[0] - 1, len(answers) - 1)]
        if answer is None:
            self.why_not = "no route to the engines"
        return answer

    monkeypatch.setattr(rds.WalProbe, "positions", positions)
    return calls


def test_drained_when_the_replica_has_replayed_the_position_read_after_the_fence(
    factory: Any,
    topology: FailbackTopology,
    world: World,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT]).run().succeeded
    # ReplicaLag would say "not drained": the WAL positions are the evidence that counts.
    world.replica_lag_after_fence = 12.0
    calls = _positions(monkeypatch, [(1000, 600), (1040, 900), (1100, 1000), (1200, 1000)])

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run()

    assert result.succeeded, result.error
    rec = result.step(FailbackStepId.DRAIN_RDS.value)
    assert rec is not None and rec.status is StepStatus.DONE
    # The target is the source's position at the first reading (after the fence), not a later one.
    assert rec.metrics["source_lsn"] == 1000 and rec.metrics["replayed_lsn"] == 1000
    assert rec.metrics["lsn_bytes_behind"] == 0 and rec.metrics["lost_seconds"] == 0.0
    assert calls[0] == 3
    assert "ReadReplicaSourceDBInstanceIdentifier" not in world.dbs[PRIMARY][DB]


def test_refused_while_the_replica_has_not_replayed_up_to_the_fence(
    factory: Any,
    topology: FailbackTopology,
    world: World,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT]).run().succeeded
    world.replica_lag_after_fence = 0.0  # the coarse metric says 0: the exact test must still refuse
    _positions(monkeypatch, [(5000, 4000)])

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run()

    assert result.status is OperationStatus.FAILED
    rec = result.step(FailbackStepId.DRAIN_RDS.value)
    assert rec is not None and rec.status is StepStatus.FAILED
    assert "1000 bytes behind" in rec.message and "--force" in rec.message
    assert world.called("rds", "promote_read_replica") == []
    assert world.dbs[PRIMARY][DB]["ReadReplicaSourceDBInstanceIdentifier"] == world.arn(DR, DB)


def test_out_of_reach_engines_fall_back_on_replica_lag_and_say_so(
    factory: Any,
    topology: FailbackTopology,
    world: World,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT]).run().succeeded
    world.replica_lag_after_fence = 12.0
    _positions(monkeypatch, [None])

    result = make_runner(factory, topology, clock, tmp_path, [Phase.CUTBACK]).run()

    rec = result.step(FailbackStepId.DRAIN_RDS.value)
    assert rec is not None and rec.status is StepStatus.FAILED
    assert "lag 12 s" in rec.message and "no route to the engines" in rec.message
