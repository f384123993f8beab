"""The runner against moto's DynamoDB: ordering, journal, resume, kill, lock, throttling."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import StepId
from streamflix_dr.errors import ConcurrentRunError
from streamflix_dr.runbook.journal import DynamoJournal, OperationStatus, StepStatus
from streamflix_dr.runbook.runner import EventKind, RunEvent

from .conftest import DR, TABLE, FakeClock, FakeStep, fake_steps, make_runner


class SimulatedKill(BaseException):
    """Stands for the process being killed: not an Exception, so the runner does no cleanup."""


def test_plan_orders_stages_and_computes_critical_path(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    plan = make_runner(aws, topology, clock, tmp_path).plan()
    assert plan.steps[0].step == "fence-primary"
    assert [s.step for s in plan.steps][-2:] == ["switch-dns", "verify-serving"]
    stages = plan.stages
    assert [name for name, _, _ in stages] == ["fence", "data", "dns", "verify"]
    assert stages[1][1] is True and len(stages[1][2]) == 5
    assert plan.expected_seconds == 30 + 300 + 150 + 10
    assert plan.serial_seconds == 30 + 300 + 180 + 120 + 5 + 150 + 150 + 10


def test_run_journals_every_step_once_and_releases_lock(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    runner = make_runner(aws, topology, clock, tmp_path)
    result = runner.run()
    assert result.succeeded, result.error
    assert [s.status for s in result.steps] == [StepStatus.DONE] * 8
    assert all(s.runs == 1 and s.attempts == 1 for s in result.steps)
    journal = DynamoJournal(aws.client("dynamodb", DR), TABLE, DR)
    stored = journal.steps(result.operation_id)
    assert set(stored) == {s.value for s in StepId}
    assert journal.get_operation(result.operation_id).status is OperationStatus.SUCCEEDED  # type: ignore[union-attr]
    lock = runner.lock.read()
    assert lock is not None and lock.status is OperationStatus.SUCCEEDED and lock.lease_until == 0
    local = json.loads((tmp_path / "journal" / f"{result.operation_id}.json").read_text())
    assert local["steps"]["promote-db"]["status"] == "done"
    # the fake clock moved by the steps' own durations: fence, then data (in parallel), dns, verify
    assert result.ended_at - result.started_at >= 30 + 300


def test_failed_step_keeps_journal_and_rerun_resumes(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    runner = make_runner(aws, topology, clock, tmp_path)
    steps = fake_steps(runner)
    steps["promote-db"].fail_times = 1
    first = runner.run()
    assert first.status is OperationStatus.FAILED
    assert "promote-db" in first.error and "exploded" in first.error
    assert first.step("promote-db").status is StepStatus.FAILED  # type: ignore[union-attr]
    assert first.step("switch-dns") is None or first.step("switch-dns").status is StepStatus.PENDING  # type: ignore[union-attr]
    # the siblings of the parallel group finished and are journaled
    assert first.step("failover-efs").status is StepStatus.DONE  # type: ignore[union-attr]

    second = make_runner(aws, topology, clock, tmp_path, stages=runner.stages).run()
    assert second.succeeded and second.operation_id == first.operation_id and second.resumed
    assert steps["failover-efs"].ran == 1 and steps["fence-primary"].ran == 1
    assert steps["promote-db"].ran == 1
    promote = second.step("promote-db")
    assert promote is not None and promote.attempts == 2 and promote.runs == 2


def test_killed_run_resumes_without_repeating_done_steps(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    finished: list[str] = []

    def kill_after_three(event: RunEvent) -> None:
        if event.kind is EventKind.STEP_FINISHED:
            finished.append(event.step or "")
            if len(finished) == 3:
                raise SimulatedKill

    runner = make_runner(
        aws, topology, clock, tmp_path, on_event=kill_after_three, lease_seconds=10_000, owner="host:1"
    )
    with pytest.raises(SimulatedKill):
        runner.run()
    op_id = runner.lock.read().operation_id  # type: ignore[union-attr]
    journal = DynamoJournal(aws.client("dynamodb", DR), TABLE, DR)
    done_before = {k for k, r in journal.steps(op_id).items() if r.status is StepStatus.DONE}
    assert len(done_before) >= 3

    # While the dead run's lease is live, a new run refuses; after it, the rerun takes over and resumes.
    rerun = make_runner(aws, topology, clock, tmp_path, stages=runner.stages, owner="host:2")
    with pytest.raises(ConcurrentRunError, match=op_id):
        rerun.run()
    clock.advance(10_001)
    result = rerun.run()
    assert result.succeeded and result.operation_id == op_id
    for step_id, step in fake_steps(runner).items():
        assert step.ran == 1, f"{step_id} ran {step.ran} times"
        assert journal.steps(op_id)[step_id].runs == 1


def test_second_concurrent_run_refuses(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    second_error: list[BaseException] = []

    def start_second(event: RunEvent) -> None:
        if event.kind is EventKind.STEP_STARTED and event.step == "fence-primary":
            other = make_runner(aws, topology, clock, tmp_path, owner="other-host:1")
            try:
                other.run()
            except ConcurrentRunError as e:
                second_error.append(e)

    result = make_runner(aws, topology, clock, tmp_path, on_event=start_second, owner="host:1").run()
    assert result.succeeded
    assert len(second_error) == 1 and "another failover/failback is running" in str(second_error[0])


def test_check_done_skips_the_action(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    runner = make_runner(aws, topology, clock, tmp_path)
    steps = fake_steps(runner)
    steps["failover-efs"].done_in_aws = True
    result = runner.run()
    assert result.succeeded
    assert steps["failover-efs"].ran == 0 and "run" not in steps["failover-efs"].calls
    assert result.step("failover-efs").runs == 0  # type: ignore[union-attr]
    assert "already done" in result.step("failover-efs").message  # type: ignore[union-attr]


def test_throttling_mid_run_is_retried_by_the_aws_layer(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    dynamo = aws.client("dynamodb", DR)
    state = {"calls": 0, "throttled": 0}
    counting = threading.Lock()  # the steps' threads share the client: count and decide in one go

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        with counting:
            state["calls"] += 1
            # Throttle two calls in the middle of the run: botocore's standard retry mode must absorb them.
            throttled = state["calls"] in (6, 12)
            state["throttled"] += int(throttled)
        if throttled:
            body = json.dumps(
                {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
            ).encode()
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body))
        return None

    dynamo.meta.events.register_first("before-send.dynamodb", throttle)
    result = make_runner(aws, topology, clock, tmp_path).run()
    assert state["throttled"] == 2
    assert result.succeeded, result.error


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def test_lease_is_renewed_while_a_long_step_runs(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    import time as _time  # noqa: PLC0415

    from streamflix_dr.runbook.steps import StepContext, StepOutcome  # noqa: PLC0415

    from .conftest import FakeStep  # noqa: PLC0415

    seen: list[float] = []

    class LongStep(FakeStep):
        def run(self, ctx: StepContext) -> StepOutcome:
            # 500 fake seconds, longer than the 300 s lease; the runner's heartbeat must keep it alive
            for _ in range(10):
                clock.advance(50)
                _time.sleep(0.03)
            held = runner.lock.read()
            assert held is not None
            seen.append(held.lease_until - clock.now())
            return StepOutcome(message="long")

    stages = [("data", [LongStep(StepId.PROMOTE_DB, 500)], True)]
    runner = make_runner(
        aws,
        topology,
        clock,
        tmp_path,
        stages=stages,
        lease_seconds=300,
        heartbeat_seconds=30,
        poll_seconds=0.01,
    )
    result = runner.run()
    assert result.succeeded
    assert seen and seen[0] > 0, seen


def test_latency_model_rejects_unknown_actions_and_bad_files(tmp_path: Path) -> None:
    from streamflix_dr.errors import ConfigError  # noqa: PLC0415
    from streamflix_dr.runbook.latency import Latency, load_model, parse_model  # noqa: PLC0415

    latency = Latency(actions=load_model(), enabled=True, sleep=lambda _s: None)
    with pytest.raises(ConfigError, match="not in the latency model"):
        latency.wait("rds.teleport")
    assert Latency.off(load_model()).wait("rds.promote_read_replica") == 0.0
    with pytest.raises(ConfigError, match=r"actions\.x\.seconds"):
        parse_model({"actions": {"x": {"seconds": -1, "source": "s"}}}, "f.yaml")
    with pytest.raises(ConfigError, match=r"actions\.x\.source"):
        parse_model({"actions": {"x": {"seconds": 1}}}, "f.yaml")
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"actions": {"a": {"seconds": 2, "source": "estimate: test"}}}))
    assert load_model(path)["a"].seconds == 2.0


def _dag_stages(fence_fails: bool = False) -> list[tuple[str, list[Any], bool]]:
    from .conftest import FakeStep  # noqa: PLC0415

    fence = FakeStep(StepId.FENCE_PRIMARY, 30, fail_times=1 if fence_fails else 0)
    dns = FakeStep(StepId.SWITCH_DNS, 150)
    dns.after = (StepId.FENCE_PRIMARY,)
    return [
        ("failover", [fence, FakeStep(StepId.PROMOTE_DB, 300), dns], True),
        ("verify", [FakeStep(StepId.VERIFY_SERVING, 10)], False),
    ]


class _FenceThatSeesThePromotion(FakeStep):
    """A fence that ends only once the promotion has started (or after 10 s of real time, saying so).

    Without it the order of the two threads decides the test: on a busy machine the fence could run to
    its end before the promotion's thread was scheduled, and the promotion would look as if it waited."""

    def __init__(self, promotion_started: threading.Event) -> None:
        super().__init__(StepId.FENCE_PRIMARY, 30)
        self.promotion_started = promotion_started
        self.saw_promotion = False

    def run(self, ctx: Any) -> Any:
        self.saw_promotion = self.promotion_started.wait(10)
        return super().run(ctx)


class _PromotionThatSignals(FakeStep):
    def __init__(self, started: threading.Event) -> None:
        super().__init__(StepId.PROMOTE_DB, 300)
        self.started = started

    def run(self, ctx: Any) -> Any:
        self.started.set()
        return super().run(ctx)


def test_a_step_starts_only_after_the_steps_it_waits_for(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    promotion_started = threading.Event()
    fence_step = _FenceThatSeesThePromotion(promotion_started)
    dns_step = FakeStep(StepId.SWITCH_DNS, 150)
    dns_step.after = (StepId.FENCE_PRIMARY,)
    stages = [
        ("failover", [fence_step, _PromotionThatSignals(promotion_started), dns_step], True),
        ("verify", [FakeStep(StepId.VERIFY_SERVING, 10)], False),
    ]
    result = make_runner(aws, topology, clock, tmp_path, stages=stages).run()
    assert result.succeeded, result.error
    assert fence_step.saw_promotion, "promote-db did not start while fence-primary ran"
    fence, promote, dns = (result.step(s) for s in ("fence-primary", "promote-db", "switch-dns"))
    assert fence and promote and dns
    assert dns.started_at is not None and fence.ended_at is not None
    assert dns.started_at >= fence.ended_at
    # the promotion did not wait for the fence
    assert promote.started_at is not None and promote.started_at < fence.ended_at


def test_a_step_whose_prerequisite_failed_does_not_run(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    runner = make_runner(aws, topology, clock, tmp_path, stages=_dag_stages(fence_fails=True))
    result = runner.run()
    assert not result.succeeded
    steps = fake_steps(runner)
    assert steps["switch-dns"].ran == 0  # DNS never moves while the fence has not held
    assert steps["promote-db"].ran == 1
    dns = result.step("switch-dns")
    assert dns is not None and dns.status is StepStatus.PENDING


def test_plan_timeline_hides_the_dns_switch_behind_the_promotion(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    plan = make_runner(aws, topology, clock, tmp_path, stages=_dag_stages()).plan()
    tl = plan.timeline()
    assert tl["switch-dns"] == (30, 180)
    assert tl["promote-db"] == (0, 300)
    assert tl["verify-serving"] == (300, 310)
    assert plan.expected_seconds == 310
    assert plan.expected_write_seconds == 300  # promote-db ends last of the write conditions
    assert plan.expected_read_seconds == 180  # switch-dns (scale-ecs absent here)


class SlowStep(FakeStep):
    """Runs for 40 s of the fake clock in small increments, so the runner sees it running."""

    def run(self, ctx: Any) -> Any:
        import time  # noqa: PLC0415

        for _ in range(8):
            ctx.clock.sleep(5)
            time.sleep(0.06)  # real time, so the runner's poll loop (0.05 s) looks in between
        return super().run(ctx)


def test_long_steps_are_reported_while_they_run(
    aws: ClientFactory, topology: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """Issue 8: a long wait says what it is waiting for (a line every progress_seconds), never silence."""
    events: list[RunEvent] = []
    stages = [("data", [SlowStep(StepId.PROMOTE_DB, 0)], False)]
    runner = make_runner(aws, topology, clock, tmp_path, stages=stages, on_event=events.append)
    assert runner.run().succeeded
    waiting = [e.message for e in events if e.kind is EventKind.WAITING]
    assert waiting, [e.kind for e in events]
    assert all(m.startswith("still running: promote-db (") for m in waiting), waiting
    # One line per 10 s of the 40 s step at most, not one per poll.
    assert len(waiting) <= 4, waiting


def test_a_retried_journal_write_that_was_applied_is_not_a_conflict(aws: ClientFactory) -> None:
    """A put whose answer was lost (timeout, throttled response) and is retried meets its own finished
    record: that is success. A different record over a finished one is still refused."""
    from streamflix_dr.errors import FailoverError  # noqa: PLC0415
    from streamflix_dr.runbook.journal import StepRecord  # noqa: PLC0415

    journal = DynamoJournal(aws.client("dynamodb", DR), TABLE, DR)
    done = StepRecord(
        step="promote-db", status=StepStatus.DONE, message="promoted", started_at=1.0, ended_at=2.0
    )
    journal.put_step("op-1", done)
    journal.put_step("op-1", done)  # the retry of the same write
    assert journal.steps("op-1")["promote-db"].message == "promoted"
    with pytest.raises(FailoverError, match="already finished"):
        journal.put_step("op-1", StepRecord(step="promote-db", status=StepStatus.FAILED, message="boom"))
