"""The drill's load figures from recorded requests: unavailability windows as the client saw them, the
fence, what counts as acknowledged."""

from __future__ import annotations

import pytest

from streamflix_dr.drill_load import Attempt, LoadClient

T = 1_000.0  # the failure instant


def _client(*attempts: Attempt) -> LoadClient:
    client = LoadClient("http://127.0.0.1:1", "http://127.0.0.1:2")
    client.attempts.extend(attempts)
    return client


def _w(store: str, via: str, op: int, sent: float, status: int, kind: str = "write") -> Attempt:
    return Attempt(kind, store, f"{store}-{op}", via, op, sent, sent + 0.05, status)


def test_write_unavailability_lasts_until_every_store_takes_writes_again() -> None:
    client = _client(
        _w("rds", "primary", 1, T - 1, 201),
        # after the failure: the primary does not answer, DR refuses the title (replica) but takes the session
        _w("rds", "primary", 2, T + 1, 0),
        _w("rds", "dr", 2, T + 1.1, 503),
        _w("redis", "primary", 3, T + 1.2, 0),
        _w("redis", "dr", 3, T + 1.3, 201),
        _w("rds", "primary", 4, T + 5, 0),
        _w("rds", "dr", 4, T + 5.1, 201),
    )
    assert client.unavailable_seconds(T)["write"] == round(T + 5.15 - (T + 1), 3)
    # the session written on DR at once never failed as the client saw it (its retry on DR took it)
    assert client.unavailable_by_store(T)["write"] == {"rds": 4.15}
    assert client.unavailable_seconds(T)["read"] == 0.0  # no read failed


def test_a_store_that_never_recovers_has_no_window() -> None:
    client = _client(_w("efs", "primary", 1, T + 1, 0), _w("efs", "dr", 1, T + 1.1, 503))
    assert client.unavailable_seconds(T)["write"] is None
    assert client.unavailable_by_store(T)["write"] == {"efs": None}


def test_the_fence_counts_acknowledged_writes_through_the_old_primary_only() -> None:
    client = _client(
        _w("rds", "primary", 1, T - 1, 201),  # before: fine
        _w("rds", "primary", 2, T + 1, 0),
        _w("rds", "dr", 2, T + 1.1, 201),  # through DR: not the fence's business
    )
    assert client.fence(T) == {"writes_tried": 1, "acknowledged": 0, "no_answer": 1, "held": True}
    breached = _client(_w("redis", "primary", 1, T + 2, 201))
    assert breached.fence(T)["held"] is False and breached.fence(T)["acknowledged"] == 1


def test_acknowledged_is_the_201s_with_their_send_time() -> None:
    client = _client(_w("rds", "primary", 1, T - 2, 201), _w("rds", "primary", 2, T - 1, 500))
    assert client.acknowledged()["rds"] == {"rds-1": T - 2}
    assert client.dr_acknowledged_after(T) == {"rds": 0, "redis": 0, "efs": 0}


def test_rpo_is_the_age_of_the_oldest_lost_acknowledged_write() -> None:
    """Three EFS writes acknowledged 3, 2 and 1 s before the failure were lost (the last sync was before
    them), the one 4 s before was found: 3 s of acknowledged writes are gone, the RPO is 3 s."""
    client = _client(
        _w("efs", "primary", 1, T - 4, 201),
        _w("efs", "primary", 2, T - 3, 201),
        _w("efs", "primary", 3, T - 2, 201),
        _w("efs", "primary", 4, T - 1, 201),
    )
    found = {"efs-1"}

    def read(self: LoadClient, store: str, key: str, via: str, op: int = 0) -> Attempt:
        return Attempt("read", store, key, via, op, T + 10, T + 10.1, 200 if key in found else 404)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LoadClient, "_read", read)
        figures = client.read_back(T)
    assert figures["efs"] == {"acknowledged": 4, "found": 1, "lost": 3, "rpo_seconds": 3.0}
    assert figures["rds"] == {"acknowledged": 0, "found": 0, "lost": 0, "rpo_seconds": 0}
