"""Load during a drill: a bounded client that writes through the primary's load balancer at a steady rate,
falls back to the DR load balancer when the primary stops answering (as a client that follows the failover
record would), and afterwards reads everything back through the DR load balancer.

It talks HTTPS to the two load balancers' URLs it is given (with the CA bundle it is given) and knows nothing
of the emulator. Figures it produces:

* per store (``rds`` titles, ``redis`` sessions, ``efs`` media): ``acknowledged`` (the app answered 201),
  ``found`` (read back through the DR load balancer after the failover), ``lost`` and ``rpo_seconds`` (age,
  at the failure instant, of the OLDEST acknowledged write that was lost: the window of acknowledged writes
  the store lost, which is what a recovery point objective bounds; 0 when none was lost);
* ``unavailable_seconds`` ``read``/``write``: from the first failed request to the first successful one after
  it, as this client saw them;
* the fence: writes through the OLD primary load balancer acknowledged after a given instant.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

STORES = ("rds", "redis", "efs")


@dataclass
class Attempt:
    """One request: where it went, when it was sent and answered, and the status (0: no answer)."""

    kind: str  # "write" or "read"
    store: str
    key: str
    via: str  # "primary" or "dr"
    op: int  # the logical request (a try on the primary and its retry on DR share it)
    sent: float
    answered: float
    status: int

    @property
    def ok(self) -> bool:
        return self.status == (201 if self.kind == "write" else 200)


@dataclass
class LoadClient:
    """A bounded background writer (its own thread): at most ``max_requests`` ticks and ``max_seconds``."""

    primary_url: str
    dr_url: str
    ca_file: str | None = None
    interval: float = 0.2
    max_seconds: float = 180.0
    max_requests: int = 2000
    timeout: float = 2.0
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _n: int = 0
    _ops: int = 0
    # A client follows DNS: once the record points at the other load balancer (``follow_dns``), it
    # sends there first.
    _prefer_dr: bool = False

    def __post_init__(self) -> None:
        self._context = ssl.create_default_context(cafile=self.ca_file)

    # --- requests ---------------------------------------------------------------------------------

    def _request(self, base: str, method: str, path: str, body: bytes | None) -> int:
        parts = urllib.parse.urlsplit(base)
        host, port = parts.hostname or "127.0.0.1", parts.port
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            headers = {"Connection": "close", "Content-Type": "application/octet-stream"}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def _write(self, store: str, key: str, via: str, op: int = 0) -> Attempt:
        base = self.primary_url if via == "primary" else self.dr_url
        if store == "rds":
            body = json.dumps({"id": key, "name": f"drill title {key}"}).encode()
            method, path = "POST", "/titles"
        elif store == "redis":
            body, method, path = f"session {key}".encode(), "PUT", f"/sessions/{key}"
        else:
            body, method, path = f"media {key}\n".encode(), "PUT", f"/media/{key}.txt"
        sent = time.time()
        status = self._request(base, method, path, body)
        return Attempt("write", store, key, via, op, sent, time.time(), status)

    def _read(self, store: str, key: str, via: str, op: int = 0) -> Attempt:
        base = self.primary_url if via == "primary" else self.dr_url
        path = {"rds": f"/titles/{key}", "redis": f"/sessions/{key}", "efs": f"/media/{key}.txt"}[store]
        sent = time.time()
        status = self._request(base, "GET", path, None)
        return Attempt("read", store, key, via, op, sent, time.time(), status)

    # --- the background loop ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="drill-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.max_seconds)

    def follow_dns(self) -> None:
        """DNS now answers the DR load balancer's address: send there first from now on."""
        self._prefer_dr = True

    def _next_op(self) -> int:
        self._ops += 1
        return self._ops

    def _record(self, attempt: Attempt) -> Attempt:
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline and self._n < self.max_requests:
            tick = time.monotonic()
            self._n += 1
            for store in STORES:
                key = f"{self._run}-{store}-{self._n:05d}"
                op = self._next_op()
                first, then = ("dr", "primary") if self._prefer_dr else ("primary", "dr")
                attempt = self._record(self._write(store, key, first, op))
                if not attempt.ok:
                    # The primary did not take it: as a client that follows the failover record, try DR.
                    self._record(self._write(store, key, then, op))
            # One read per tick, of the newest acknowledged title: through the primary, else through DR.
            last = self.newest_acknowledged("rds")
            if last is not None:
                op = self._next_op()
                first, then = ("dr", "primary") if self._prefer_dr else ("primary", "dr")
                read = self._record(self._read("rds", last, first, op))
                if not read.ok:
                    self._record(self._read("rds", last, then, op))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    # --- figures ------------------------------------------------------------------------------------

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def dr_acknowledged_after(self, after: float) -> dict[str, int]:
        """Per store: writes the DR load balancer acknowledged that were sent after ``after``."""
        out = dict.fromkeys(STORES, 0)
        for a in self.snapshot():
            if a.kind == "write" and a.via == "dr" and a.ok and a.sent >= after:
                out[a.store] += 1
        return out

    def newest_acknowledged(self, store: str) -> str | None:
        with self._lock:
            for a in reversed(self.attempts):
                if a.kind == "write" and a.store == store and a.ok:
                    return a.key
        return None

    def acknowledged(self) -> dict[str, dict[str, float]]:
        """Per store: key -> when the acknowledged write was sent (epoch seconds). The write happened
        between that and its 201; the send time makes a lost write's age an upper bound, never 0."""
        out: dict[str, dict[str, float]] = {s: {} for s in STORES}
        for a in self.snapshot():
            if a.kind == "write" and a.ok:
                out[a.store][a.key] = a.sent
        return out

    def read_back(self, failed_at: float) -> dict[str, dict[str, Any]]:
        """Read every acknowledged write back through the DR load balancer; count per store."""
        result: dict[str, dict[str, Any]] = {}
        for store, keys in self.acknowledged().items():
            lost_times = [sent for key, sent in keys.items() if not self._read(store, key, "dr").ok]
            # The recovery point is just before the oldest lost write: everything acknowledged since then
            # may be gone, so its age at the failure is the data-loss window (the newest lost write's age
            # would be near 0 whatever the window).
            oldest_lost = min(lost_times) if lost_times else None
            result[store] = {
                "acknowledged": len(keys),
                "found": len(keys) - len(lost_times),
                "lost": len(lost_times),
                "rpo_seconds": round(max(0.0, failed_at - oldest_lost), 3) if oldest_lost is not None else 0,
            }
        return result

    def _operations(self) -> list[tuple[str, str, float, float | None]]:
        """One entry per logical request (a try on the primary and its retry on DR are one):
        (kind, store, when it was first sent, when it succeeded or None)."""
        ops: dict[int, list[Attempt]] = {}
        for a in self.snapshot():
            ops.setdefault(a.op, []).append(a)
        out = []
        for tries in ops.values():
            done = next((a.answered for a in tries if a.ok), None)
            out.append((tries[0].kind, tries[0].store, tries[0].sent, done))
        return sorted(out, key=lambda o: o[2])

    def _windows(self, failed_at: float) -> dict[str, dict[str, tuple[float, float | None]]]:
        """Per kind and store that failed at or after ``failed_at``: (first failed request's send time,
        answer time of the first success after it, or None)."""
        first: dict[str, dict[str, float]] = {"read": {}, "write": {}}
        recovered: dict[str, dict[str, float]] = {"read": {}, "write": {}}
        for kind, store, sent, done in self._operations():
            if sent < failed_at or store in recovered[kind]:
                continue
            if done is None:
                first[kind].setdefault(store, sent)
            elif store in first[kind]:
                recovered[kind][store] = done
        return {
            kind: {store: (t, recovered[kind].get(store)) for store, t in stores.items()}
            for kind, stores in first.items()
        }

    def unavailable_by_store(self, failed_at: float) -> dict[str, dict[str, float | None]]:
        """Per kind and store: seconds from the first failed request to the first success after it
        (stores that never failed are absent; None: it never recovered)."""
        return {
            kind: {store: None if end is None else round(end - start, 3) for store, (start, end) in w.items()}
            for kind, w in self._windows(failed_at).items()
        }

    def unavailable_seconds(self, failed_at: float) -> dict[str, float | None]:
        """Per kind: from the first failed request at or after the failure to the instant from which every
        store answered again, as this client saw it (0 when none failed; None when one never recovered)."""
        out: dict[str, float | None] = {}
        for kind, w in self._windows(failed_at).items():
            if not w:
                out[kind] = 0.0
                continue
            ends = [end for _, end in w.values()]
            if any(end is None for end in ends):
                out[kind] = None
            else:
                out[kind] = round(max(e for e in ends if e is not None) - min(s for s, _ in w.values()), 3)
        return out

    def fence(self, after: float) -> dict[str, Any]:
        """Writes through the old primary's load balancer sent after ``after``: tried, acknowledged."""
        tried = [a for a in self.snapshot() if a.kind == "write" and a.via == "primary" and a.sent >= after]
        acked = [a for a in tried if a.ok]
        refused = sum(1 for a in tried if a.status == 0)
        return {
            "writes_tried": len(tried),
            "acknowledged": len(acked),
            "no_answer": refused,
            "held": not acked,
        }
