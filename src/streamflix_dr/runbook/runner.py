"""The runner: ordering (a DAG of stages), concurrency, the journal, the lock, timing.

    [ fence-primary -> switch-dns | promote-db | failover-efs | failover-redis | stop-secret-replication
      | scale-ecs ] -> verify-serving

Inside a parallel stage a step starts when the steps it names in ``after`` have finished.

A rerun of an unfinished operation resumes it: steps the journal records as finished are not run
again, and each step's ``check_done`` asks AWS whether its action already happened before acting.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from streamflix_dr.constants import StepId
from streamflix_dr.errors import ConcurrentRunError, FailoverError, NotServingError
from streamflix_dr.runbook.journal import (
    Journal,
    OperationRecord,
    OperationStatus,
    RunLock,
    StepRecord,
    StepStatus,
)
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, default_stages
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What the runner reports while it works (the CLI renders these)."""

    LOCKED = "locked"
    RESUMED = "resumed"
    STEP_STARTED = "step-started"
    STEP_ALREADY_FINISHED = "step-already-finished"
    STEP_FINISHED = "step-finished"
    STEP_FAILED = "step-failed"
    WARNING = "warning"
    # Still running after a while: which steps, for how long (an operator never watches a silent screen).
    WAITING = "waiting"
    FINISHED = "finished"


@dataclass(frozen=True)
class RunEvent:
    """One progress event."""

    kind: EventKind
    message: str
    step: str | None = None
    at: float = 0.0


# What must hold for the DR region to answer reads (DR service scaled, DNS at DR; the replica is
# readable from the start) and, on top of that, to accept writes (promotion done, EFS writable).
READ_STEPS: tuple[str, ...] = (StepId.SCALE_ECS.value, StepId.SWITCH_DNS.value)
WRITE_STEPS: tuple[str, ...] = (*READ_STEPS, StepId.PROMOTE_DB.value, StepId.FAILOVER_EFS.value)


@dataclass(frozen=True)
class PlannedStep:
    """A step as the plan shows it."""

    step: str
    stage: str
    parallel: bool
    description: str
    expected_seconds: float
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The steps in order, what runs in parallel, and the expected durations (from the latency model)."""

    direction: str
    steps: tuple[PlannedStep, ...]

    @property
    def stages(self) -> list[tuple[str, bool, list[PlannedStep]]]:
        out: list[tuple[str, bool, list[PlannedStep]]] = []
        for s in self.steps:
            if not out or out[-1][0] != s.stage:
                out.append((s.stage, s.parallel, []))
            out[-1][2].append(s)
        return out

    def timeline(self) -> dict[str, tuple[float, float]]:
        """Step -> (start, end) by the latency model: stages one after the other; inside a parallel
        stage a step starts when its ``after`` steps end, a serial stage runs its steps in order."""
        out: dict[str, tuple[float, float]] = {}
        cursor = 0.0
        for _, parallel, steps in self.stages:
            stage_end = cursor
            prev_end = cursor
            for p in steps:
                if parallel:
                    start = max((out[d][1] for d in p.after if d in out), default=cursor)
                else:
                    start = prev_end
                out[p.step] = (start, start + p.expected_seconds)
                prev_end = out[p.step][1]
                stage_end = max(stage_end, prev_end)
            cursor = stage_end
        return out

    @property
    def expected_seconds(self) -> float:
        """The critical path through the DAG."""
        return max((end for _, end in self.timeline().values()), default=0.0)

    @property
    def expected_read_seconds(self) -> float:
        """When the DR region answers reads, by the latency model."""
        return ready_at(self.timeline(), READ_STEPS)

    @property
    def expected_write_seconds(self) -> float:
        """When the DR region accepts writes, by the latency model."""
        return ready_at(self.timeline(), WRITE_STEPS)

    @property
    def serial_seconds(self) -> float:
        return sum(s.expected_seconds for s in self.steps)


@dataclass
class RunResult:
    """What a run did: the operation, each step's record, and how long it took."""

    operation_id: str
    direction: str
    status: OperationStatus
    plan: Plan
    started_at: float
    ended_at: float
    steps: list[StepRecord]
    resumed: bool = False
    error: str = ""
    time_scale: float = 1.0
    warnings: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status is OperationStatus.SUCCEEDED

    @property
    def not_serving(self) -> bool:
        """True when the run got as far as verify-serving and the DR region does not serve."""
        rec = self.step(StepId.VERIFY_SERVING.value)
        return bool(rec and rec.status is StepStatus.FAILED and rec.metrics.get("serving") == 0.0)

    def raise_for_status(self) -> None:
        """Raise ``NotServingError`` (exit 6) or ``FailoverError`` for a run that did not succeed."""
        if self.succeeded:
            return
        if self.not_serving:
            raise NotServingError(
                f"failover {self.operation_id} ran, but {self.direction.split('->')[-1]} does not serve: "
                f"{self.error.rstrip('.')}.",
                fix="the journal is kept; fix the cause (see the message) and rerun the same command",
            )
        raise FailoverError(
            f"failover {self.operation_id} stopped: {self.error.rstrip('.')}.",
            fix="the journal is kept; fix the cause and rerun the same command to resume",
        )

    def step(self, step_id: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == step_id), None)


def ready_at(timeline: dict[str, tuple[float, float]], steps: tuple[str, ...]) -> float:
    """The time every one of ``steps`` has ended (steps absent from the timeline do not count)."""
    return max((timeline[s][1] for s in steps if s in timeline), default=0.0)


def new_operation_id(now: float, direction: str) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "failover" if direction else "op"
    return f"{kind}-{stamp}-{uuid.uuid4().hex[:6]}"


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runner:
    """Runs the failover DAG with a journal and a lock. Never prints: reports through ``on_event``."""

    def __init__(
        self,
        factory: Any,
        topology: Topology,
        *,
        journal: Journal,
        lock: RunLock,
        clock: Clock | None = None,
        latency: Latency | None = None,
        timeouts: Timeouts | None = None,
        stages: list[tuple[str, list[Step], bool]] | None = None,
        owner: str | None = None,
        lease_seconds: float = 300.0,
        heartbeat_seconds: float = 30.0,
        progress_seconds: float = 10.0,
        poll_seconds: float = 0.05,
        on_event: Callable[[RunEvent], None] | None = None,
    ) -> None:
        self.topology = topology
        self.journal = journal
        self.lock = lock
        self.clock = clock or Clock()
        self.latency = latency or Latency.off()
        self.ctx = StepContext(
            factory=factory,
            topology=topology,
            clock=self.clock,
            latency=self.latency,
            timeouts=timeouts or Timeouts(),
        )
        self.stages = stages if stages is not None else default_stages()
        self.owner = owner or default_owner()
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.progress_seconds = progress_seconds
        self._started_steps: dict[str, float] = {}
        self._steps_lock = threading.Lock()
        self._last_progress: float | None = None
        self.poll_seconds = poll_seconds
        self.on_event = on_event
        self._last_renew = 0.0
        self.last_operation_id = ""

    # -- plan ---------------------------------------------------------------------------------------------
    def plan(self) -> Plan:
        steps = tuple(
            PlannedStep(
                step=s.id.value,
                stage=name,
                parallel=parallel,
                description=s.describe(self.topology),
                expected_seconds=s.expected_seconds(self.latency),
                after=tuple(d.value for d in s.after),
            )
            for name, group, parallel in self.stages
            for s in group
        )
        return Plan(direction=self.topology.direction, steps=steps)

    def _emit(self, kind: EventKind, message: str, step: str | None = None) -> None:
        if self.on_event:
            self.on_event(RunEvent(kind=kind, message=message, step=step, at=self.clock.now()))

    # -- operation and lock -------------------------------------------------------------------------------
    def resolve_operation(self, operation_id: str | None) -> tuple[str, bool]:
        """The operation to run: the given one, the unfinished one of this direction, or a new one."""
        if operation_id:
            return operation_id, self.journal.get_operation(operation_id) is not None
        held = self.lock.read()
        if held and held.status is not OperationStatus.SUCCEEDED:
            if held.direction != self.topology.direction:
                raise ConcurrentRunError(
                    f"operation {held.operation_id} ({held.direction}) is unfinished.",
                    fix=f"finish it first (rerun it with --operation-id {held.operation_id})",
                )
            return held.operation_id, True
        return new_operation_id(self.clock.now(), self.topology.direction), False

    def _renew_if_due(self, operation_id: str) -> None:
        now = self.clock.now()
        if now - self._last_renew >= self.heartbeat_seconds:
            self.lock.renew(operation_id, self.owner, now, self.lease_seconds)
            self._last_renew = now
        self._report_waiting(now)

    def _report_waiting(self, now: float) -> None:
        """Every ``progress_seconds`` while steps run: say which, and for how long."""
        if self._last_progress is None:
            self._last_progress = now
            return
        if now - self._last_progress < self.progress_seconds:
            return
        self._last_progress = now
        with self._steps_lock:
            running = sorted(self._started_steps.items(), key=lambda kv: kv[1])
        if running:
            what = ", ".join(f"{step} ({now - started:.0f} s)" for step, started in running)
            self._emit(EventKind.WAITING, f"still running: {what}")

    # -- run ----------------------------------------------------------------------------------------------
    def run(self, *, operation_id: str | None = None, break_lock: bool = False) -> RunResult:
        """Run (or resume) the failover. Step failures return a FAILED result with the journal kept;
        another live run raises ``ConcurrentRunError``. A BaseException (a kill) propagates untouched."""
        plan = self.plan()
        op_id, resuming = self.resolve_operation(operation_id)
        now = self.clock.now()
        self.lock.acquire(
            op_id, self.topology.direction, self.owner, now, self.lease_seconds, break_lock=break_lock
        )
        self._last_renew = now
        self._emit(EventKind.LOCKED, f"lock taken for {op_id}")
        op = self.journal.get_operation(op_id)
        if op is None:
            op = OperationRecord(operation_id=op_id, direction=self.topology.direction, started_at=now)
        else:
            op.resumes += 1
            op.status = OperationStatus.RUNNING
            self._emit(
                EventKind.RESUMED, f"resuming {op_id} (started {op.started_at:.0f}, resume {op.resumes})"
            )
        self.journal.put_operation(op)

        records = self.journal.steps(op_id)
        failures: list[StepRecord] = []
        warnings: list[str] = []
        for name, group, parallel in self.stages:
            todo = []
            for step in group:
                rec = records.get(step.id.value) or StepRecord(step=step.id.value)
                records[step.id.value] = rec
                if rec.status.finished:
                    self._emit(
                        EventKind.STEP_ALREADY_FINISHED,
                        f"{step.id}: already {rec.status} (journal)",
                        step.id.value,
                    )
                else:
                    todo.append((step, rec))
            if todo:
                self._run_stage(op_id, name, todo, parallel, records)
            failures = [rec for _, rec in todo if rec.status is StepStatus.FAILED]
            if failures:
                break
        for rec in records.values():
            warnings.extend(f"{rec.step}: {w}" for w in rec.warnings)
        end = self.clock.now()
        op.status = OperationStatus.FAILED if failures else OperationStatus.SUCCEEDED
        op.ended_at = end
        self.journal.put_operation(op)
        self.lock.release(op_id, self.owner, op.status)
        error = "; ".join(f"{r.step}: {r.message}" for r in failures)
        self._emit(EventKind.FINISHED, f"{op_id} {op.status}" + (f": {error}" if error else ""))
        ordered = [records[s.step] for s in plan.steps if s.step in records]
        return RunResult(
            operation_id=op_id,
            direction=op.direction,
            status=op.status,
            plan=plan,
            started_at=op.started_at,
            ended_at=end,
            steps=ordered,
            resumed=resuming or op.resumes > 0,
            error=error,
            time_scale=self.latency.scale if self.latency.enabled else 1.0,
            warnings=warnings,
        )

    def _run_stage(
        self,
        op_id: str,
        name: str,
        todo: list[tuple[Step, StepRecord]],
        parallel: bool,
        records: dict[str, StepRecord],
    ) -> None:
        workers = len(todo) if parallel else 1
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"step-{name}"
        ) as pool:
            if not parallel:
                for step, rec in todo:
                    self._wait_all(op_id, {pool.submit(self._execute, op_id, step, rec)})
                return
            waiting = list(todo)
            running: set[concurrent.futures.Future[None]] = set()
            while waiting or running:
                for step, rec in list(waiting):
                    deps = [records[d.value] for d in step.after if d.value in records]
                    if any(d.status is StepStatus.FAILED for d in deps):
                        waiting.remove((step, rec))  # stays pending: what it waits for failed
                    elif all(d.status.finished for d in deps):
                        waiting.remove((step, rec))
                        running.add(pool.submit(self._execute, op_id, step, rec))
                if not running:
                    break
                done, running = concurrent.futures.wait(
                    running, timeout=self.poll_seconds, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for f in done:
                    f.result()  # re-raises a BaseException (a kill) from a worker
                if running:
                    self._renew_if_due(op_id)

    def _wait_all(self, op_id: str, pending: set[concurrent.futures.Future[None]]) -> None:
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=self.poll_seconds)
            for f in done:
                f.result()  # re-raises a BaseException (a kill) from a worker
            if pending:
                self._renew_if_due(op_id)

    def _execute(self, op_id: str, step: Step, rec: StepRecord) -> None:
        try:
            self._execute_step(op_id, step, rec)
        finally:
            with self._steps_lock:
                self._started_steps.pop(step.id.value, None)

    def _execute_step(self, op_id: str, step: Step, rec: StepRecord) -> None:
        """One step: journal it as running, skip the action if AWS says it is done, run, verify, journal."""
        rec.status = StepStatus.RUNNING
        rec.attempts += 1
        rec.started_at = self.clock.now()
        rec.ended_at = None
        with self._steps_lock:
            self._started_steps[step.id.value] = rec.started_at
        self.journal.put_step(op_id, rec)
        self._emit(EventKind.STEP_STARTED, step.describe(self.topology), step.id.value)
        self.latency.take_waited()
        try:
            if step.check_done(self.ctx):
                outcome = StepOutcome(message="already done (checked in AWS)")
            else:
                # Write-ahead: the journal counts the action before it runs, so a kill during run() shows.
                rec.runs += 1
                self.journal.put_step(op_id, rec)
                outcome = step.run(self.ctx)
            step.verify(self.ctx)
        except Exception as e:
            rec.status = StepStatus.FAILED
            rec.message = getattr(e, "message", None) or str(e)
            if isinstance(e, NotServingError):
                rec.metrics = {**rec.metrics, "serving": 0.0}
            rec.ended_at = self.clock.now()
            rec.modelled_seconds = self.latency.take_waited()
            self.journal.put_step(op_id, rec)
            log.warning("step %s failed: %s", step.id, e)
            self._emit(EventKind.STEP_FAILED, rec.message, step.id.value)
            return
        rec.status = StepStatus.SKIPPED if outcome.skipped else StepStatus.DONE
        rec.message = outcome.message
        rec.warnings = list(outcome.warnings)
        rec.metrics = dict(outcome.metrics)
        rec.ended_at = self.clock.now()
        rec.modelled_seconds = self.latency.take_waited()
        self.journal.put_step(op_id, rec)
        for w in outcome.warnings:
            self._emit(EventKind.WARNING, w, step.id.value)
        self._emit(
            EventKind.STEP_FINISHED, f"{step.id}: {rec.status} {outcome.message}".rstrip(), step.id.value
        )

    # -- one step (in-cloud) ------------------------------------------------------------------------------
    def run_step(self, step_id: StepId | str, *, operation_id: str | None = None) -> StepRecord:
        """Run one step of an operation, journaled like the CLI run (the Lambda calls this per state).

        Joins the operation that holds the lock when it is this direction's; takes the lock otherwise.
        The last step (verify-serving) closes the operation and releases the lock.
        """
        sid = StepId(step_id)
        step = next((s for _, group, _ in self.stages for s in group if s.id is sid), None)
        if step is None:
            raise FailoverError(
                f"unknown step {step_id!r}.", fix=f"use one of {', '.join(s.value for s in StepId)}"
            )
        now = self.clock.now()
        held = self.lock.read()
        if (
            operation_id is None
            and held
            and held.status is OperationStatus.RUNNING
            and held.direction == self.topology.direction
        ):
            operation_id = held.operation_id
        op_id = operation_id or new_operation_id(now, self.topology.direction)
        self.last_operation_id = op_id
        if not (held and held.operation_id == op_id and held.lease_until >= now):
            self.lock.acquire(op_id, self.topology.direction, self.owner, now, self.lease_seconds)
        else:
            self.owner = held.owner
        op = self.journal.get_operation(op_id)
        if op is None:
            op = OperationRecord(operation_id=op_id, direction=self.topology.direction, started_at=now)
            self.journal.put_operation(op)
        rec = self.journal.steps(op_id).get(sid.value) or StepRecord(step=sid.value)
        if not rec.status.finished:
            self._execute(op_id, step, rec)
            self.lock.renew(op_id, self.owner, self.clock.now(), self.lease_seconds)
        if rec.status is StepStatus.FAILED:
            op.status = OperationStatus.FAILED
            self.journal.put_operation(op)
            self.lock.release(op_id, self.owner, OperationStatus.FAILED)
            error = NotServingError if rec.metrics.get("serving") == 0.0 else FailoverError
            raise error(
                f"step {sid} of {op_id} failed: {rec.message}",
                fix="fix the cause and restart the state machine (or run streamflix-dr failover): "
                "the journal resumes it",
            )
        if sid is StepId.VERIFY_SERVING:
            op.status = OperationStatus.SUCCEEDED
            op.ended_at = self.clock.now()
            self.journal.put_operation(op)
            self.lock.release(op_id, self.owner, OperationStatus.SUCCEEDED)
        return rec
