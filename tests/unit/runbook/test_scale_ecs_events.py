"""ScaleEcs reads the DR service's events: a failure to start tasks ends the wait at once, unless tasks
started after it (ECS writes "(service x) has started n tasks: ..." then)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from streamflix_dr.errors import FailoverError
from streamflix_dr.runbook.steps import ScaleEcs

FAILURE = (
    "(service svc) (task abc) stopped: ResourceInitializationError: failed to invoke EFS utils commands to "
    "set up EFS volumes"
)
STARTED = "(service svc) has started 2 tasks: (task d) (task e)."


def _step(monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]], running: int) -> tuple[Any, Any]:
    step = ScaleEcs()
    svc = {
        "events": events,
        "deployments": [{"status": "PRIMARY"}],
        "runningCount": running,
        "desiredCount": 2,
    }
    monkeypatch.setattr(ScaleEcs, "_service", lambda self, ctx: svc)
    ctx = SimpleNamespace(
        topology=SimpleNamespace(target_region="us-east-1", target_ecs_service="svc", desired_count=2)
    )
    return step, ctx


def test_a_recent_task_failure_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    step, ctx = _step(monkeypatch, [{"createdAt": now, "message": FAILURE}], running=0)
    with pytest.raises(FailoverError, match="cannot start its tasks"):
        step._stable_or_failed(ctx, now - timedelta(seconds=30))


def test_tasks_started_after_a_failure_supersede_it(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    events = [
        {"createdAt": now, "message": STARTED},
        {"createdAt": now - timedelta(seconds=5), "message": FAILURE},
    ]
    step, ctx = _step(monkeypatch, events, running=2)
    assert step._stable_or_failed(ctx, now - timedelta(seconds=30)) is True


def test_a_failure_after_a_start_still_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    events = [
        {"createdAt": now, "message": FAILURE},
        {"createdAt": now - timedelta(seconds=5), "message": STARTED},
    ]
    step, ctx = _step(monkeypatch, events, running=1)
    with pytest.raises(FailoverError):
        step._stable_or_failed(ctx, now - timedelta(seconds=30))
