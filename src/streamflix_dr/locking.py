"""One lock per environment for deploy, destroy, failover and failback: an SSM parameter in the DR region.

Why SSM Parameter Store in the DR region:
- it must exist before any stack does (the first deploy takes it) and after every stack is gone (destroy
  holds it to the end), so it cannot live in a stack's DynamoDB table;
- it must work while the primary region is down (failover takes it), so it lives in the DR region;
- ``PutParameter`` with ``Overwrite=false`` is a conditional create: exactly one caller succeeds, the
  others get ``ParameterAlreadyExists``
  (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html);
- no table, bucket or other resource has to be created first, and a standard-tier parameter costs nothing.

Taking over a holder that is gone (same host and its PID is not alive: at once; any host: when its lease
ran out) is itself a conditional create: of the marker ``<lock>-takeover/<token of the stale holder>``.
Only one caller can create that marker, so only one caller replaces the stale lock. The markers go when
the lock is released. The failover runner's own lock (DynamoDB, runbook/journal.py) still guards the
failover steps; this one keeps deploy/destroy/failover of one environment from overlapping.

The Lambda-driven failover (automation/) does not take this lock; it has the runner's lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.aws.faults import find_fault
from streamflix_dr.errors import AwsError, EnvironmentLockedError

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 600.0
RENEW_SECONDS = 60.0


def lock_name(suffix: str) -> str:
    return f"/streamflix-dr/{suffix}/lock"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the environment lock."""

    command: str  # deploy | destroy | failover | failback | drill
    host: str
    pid: int
    started: float
    lease_until: float
    token: str
    operation_id: str = ""
    argv: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        try:
            d = json.loads(text)
            return cls(
                command=str(d["command"]),
                host=str(d["host"]),
                pid=int(d["pid"]),
                started=float(d["started"]),
                lease_until=float(d["lease_until"]),
                token=str(d["token"]),
                operation_id=str(d.get("operation_id", "")),
                argv=str(d.get("argv", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self, now: float) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        left = self.lease_until - now
        lease = f"lease {left:.0f} s more" if left > 0 else f"lease ran out {-left:.0f} s ago"
        op = f", operation {self.operation_id}" if self.operation_id else ""
        return f"`{self.command}` by PID {self.pid} on {self.host}, started {started}{op} ({lease})"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class EnvironmentLock:
    """The lock of one environment. ``acquire`` -> ``renew``... -> ``release``; or ``held()`` as a context."""

    def __init__(
        self,
        ssm: Any,
        region: str,
        suffix: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
        pid: int | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.ssm = ssm
        self.region = region
        self.suffix = suffix
        self.name = lock_name(suffix)
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self.alive = alive
        self.mine: LockHolder | None = None
        self.took_over: LockHolder | None = None
        self.took_over_reason = ""

    # ---- reading
    def read(self) -> LockHolder | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as e:
            if _code(e) == "ParameterNotFound":
                return None
            raise self._error("read", e) from e
        except BotoCoreError as e:
            raise self._error("read", e) from e
        holder = LockHolder.from_json(value)
        if holder is None:  # unreadable: treat as stale so it can be taken over when its lease is unknown
            return LockHolder("unknown", "?", 0, 0.0, 0.0, token=f"corrupt-{abs(hash(value))}")
        return holder

    def stale_reason(self, holder: LockHolder, now: float) -> str | None:
        """Why ``holder`` can be taken over now, or None while it must be respected."""
        if holder.host == self.host and holder.pid != self.pid and not self.alive(holder.pid):
            return f"its process {holder.pid} no longer runs on this host ({self.host})"
        if holder.lease_until < now:
            return f"its lease ran out {now - holder.lease_until:.0f} s ago"
        return None

    # ---- taking
    def acquire(
        self, command: str, *, operation_id: str = "", argv: str = "", force: bool = False
    ) -> LockHolder:
        """Take the lock or raise ``EnvironmentLockedError`` naming the holder (exit 4).

        ``force`` takes it from a live holder too (failover --break-lock: a region is down and the holder's
        host may be with it)."""
        for _ in range(3):
            now = self.clock()
            me = LockHolder(
                command=command,
                host=self.host,
                pid=self.pid,
                started=now,
                lease_until=now + self.lease_seconds,
                token=uuid.uuid4().hex,
                operation_id=operation_id,
                argv=argv,
            )
            if self._create(self.name, json.dumps(me.to_dict())):
                self.mine = me
                return me
            held = self.read()
            if held is None:
                continue  # released in between: try again
            if held.host == self.host and held.pid == self.pid:
                # This very process already holds it (a command that calls another): refresh it.
                self._put(json.dumps(me.to_dict()))
                self.mine = me
                return me
            reason = self.stale_reason(held, now) or ("taken by force (--break-lock)" if force else None)
            if reason is None:
                raise EnvironmentLockedError(
                    f"environment {self.suffix} is locked in {self.region} by {held.describe(now)}.",
                    fix="wait for it to finish (`streamflix-dr status` shows the lock); if that process is "
                    "dead on another host, the lock frees itself when its lease ends "
                    "(`failover --break-lock` takes it at once during an outage), or delete the "
                    f"parameter `{self.name}` in {self.region} (aws ssm delete-parameter --name "
                    f"{self.name} --region {self.region}) once you are sure",
                )
            # Only the caller that creates the takeover marker for this stale holder may replace it.
            if not self._create(f"{self.name}-takeover/{held.token}", json.dumps(me.to_dict())):
                continue
            self._put(json.dumps(me.to_dict()))
            self.mine = me
            self.took_over = held
            self.took_over_reason = reason
            return me
        raise EnvironmentLockedError(
            f"environment {self.suffix}: the lock in {self.region} changed hands while taking it.",
            fix="another command is starting right now; run `streamflix-dr status` and retry",
        )

    def renew(self, operation_id: str | None = None) -> None:
        if self.mine is None:
            return
        held = self.read()
        if held is None or held.token != self.mine.token:
            raise EnvironmentLockedError(
                f"environment {self.suffix}: the lock was taken over by "
                f"{held.describe(self.clock()) if held else 'nobody (it was deleted)'}.",
                fix="stop here; check `streamflix-dr status` and rerun once the other command is done",
            )
        now = self.clock()
        self.mine = LockHolder(
            **{
                **self.mine.to_dict(),
                "lease_until": now + self.lease_seconds,
                "operation_id": operation_id if operation_id is not None else self.mine.operation_id,
            }
        )
        self._put(json.dumps(self.mine.to_dict()))

    def release(self) -> None:
        if self.mine is None:
            return
        try:
            held = self.read()
            if held is not None and held.token == self.mine.token:
                self.ssm.delete_parameter(Name=self.name)
            self._delete_markers()
        except Exception as e:  # never mask the command's own outcome: the lease ends by itself
            log.warning(
                "environment lock %s in %s not released (%s); its lease ends by itself",
                self.name,
                self.region,
                e,
            )
        self.mine = None

    @contextlib.contextmanager
    def held(
        self,
        command: str,
        *,
        operation_id: str = "",
        argv: str = "",
        renew_every: float = RENEW_SECONDS,
        force: bool = False,
    ) -> Iterator[LockHolder]:
        """Hold the lock for a block, renewing the lease in the background."""
        me = self.acquire(command, operation_id=operation_id, argv=argv, force=force)
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(renew_every):
                with contextlib.suppress(Exception):
                    self.renew()

        t = threading.Thread(target=heartbeat, name="streamflix-dr-env-lock", daemon=True)
        t.start()
        try:
            yield me
        finally:
            stop.set()
            self.release()

    # ---- helpers
    def _create(self, name: str, value: str) -> bool:
        try:
            self.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=False, Tier="Standard")
            return True
        except ClientError as e:
            if _code(e) == "ParameterAlreadyExists":
                return False
            raise self._error("take", e) from e
        except BotoCoreError as e:
            raise self._error("take", e) from e

    def _put(self, value: str) -> None:
        try:
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True)
        except (ClientError, BotoCoreError) as e:
            raise self._error("write", e) from e

    def _delete_markers(self) -> None:
        prefix = f"{self.name}-takeover"
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Path": prefix, "Recursive": True}
            if token:
                kwargs["NextToken"] = token
            page = self.ssm.get_parameters_by_path(**kwargs)
            for p in page.get("Parameters", []):
                with contextlib.suppress(ClientError):
                    self.ssm.delete_parameter(Name=p["Name"])
            token = page.get("NextToken")
            if not token:
                return

    def _error(self, what: str, e: BaseException) -> AwsError:
        err = AwsError(
            f"{self.region}: could not {what} the environment lock {self.name} ({e}).",
            fix="check ssm:GetParameter/PutParameter/DeleteParameter on "
            f"arn:aws:ssm:{self.region}:*:parameter{self.name}*, then rerun",
        )
        if find_fault(e) is not None:
            err.__cause__ = e
        return err


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))
