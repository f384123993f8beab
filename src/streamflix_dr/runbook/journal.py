"""The failover journal and lock: DynamoDB in the target region (conditional writes) plus a local copy.

Keys (table ``streamflix-dr-journal-<suffix>``, pk/sk strings):
  pk ``op#<operation id>``  sk ``meta``            the operation: direction, status, started_at
  pk ``op#<operation id>``  sk ``step#<step id>``  one step: status, started/ended, runs, message, metrics
  pk ``lock``               sk ``dr#<suffix>``     the lock and the pointer to the current operation

A step record that reached ``done``/``skipped`` is never overwritten (condition on the write), so a
second writer cannot undo a finished step. The lock has a lease renewed by the runner; a run that was
killed leaves a lock whose lease runs out, and the next run takes it over and resumes that operation.
Failback uses the same lock (one operation per environment at a time) with its own direction.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.errors import ConcurrentRunError, FailoverError

log = logging.getLogger(__name__)


class StepStatus(StrEnum):
    """A step's state in the journal."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.DONE, StepStatus.SKIPPED)


class OperationStatus(StrEnum):
    """An operation's state."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class StepRecord:
    """One step's journal entry."""

    step: str
    status: StepStatus = StepStatus.PENDING
    started_at: float | None = None
    ended_at: float | None = None
    runs: int = 0
    attempts: int = 0
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    modelled_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepRecord:
        return cls(
            step=str(d["step"]),
            status=StepStatus(d.get("status", "pending")),
            started_at=_num(d.get("started_at")),
            ended_at=_num(d.get("ended_at")),
            runs=int(d.get("runs") or 0),
            attempts=int(d.get("attempts") or 0),
            message=str(d.get("message") or ""),
            warnings=list(d.get("warnings") or []),
            metrics={k: _num(v) for k, v in (d.get("metrics") or {}).items()},
            modelled_seconds=float(d.get("modelled_seconds") or 0.0),
        )


@dataclass
class OperationRecord:
    """An operation (one failover or failback run, across resumes)."""

    operation_id: str
    direction: str
    status: OperationStatus = OperationStatus.RUNNING
    started_at: float = 0.0
    ended_at: float | None = None
    resumes: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperationRecord:
        return cls(
            operation_id=str(d["operation_id"]),
            direction=str(d["direction"]),
            status=OperationStatus(d.get("status", "running")),
            started_at=float(d.get("started_at") or 0.0),
            ended_at=_num(d.get("ended_at")),
            resumes=int(d.get("resumes") or 0),
        )


def _num(v: Any) -> float | None:
    return None if v is None or v == "" else float(v)


class Journal(Protocol):
    """Where operation and step records live."""

    def get_operation(self, operation_id: str) -> OperationRecord | None: ...

    def put_operation(self, op: OperationRecord) -> None: ...

    def steps(self, operation_id: str) -> dict[str, StepRecord]: ...

    def put_step(self, operation_id: str, record: StepRecord) -> None: ...


class DynamoJournal:
    """The journal in the target region's DynamoDB table. Records are JSON in a ``body`` attribute."""

    def __init__(self, client: Any, table: str, region: str) -> None:
        self.client = client
        self.table = table
        self.region = region

    def _fail(self, what: str, e: Exception) -> FailoverError:
        return FailoverError(
            f"{self.region}/{self.table}: {what} ({e}).",
            fix="check the DR region answers and the journal table exists (streamflix-dr status)",
        )

    def get_operation(self, operation_id: str) -> OperationRecord | None:
        try:
            item = self.client.get_item(
                TableName=self.table,
                ConsistentRead=True,
                Key={"pk": {"S": f"op#{operation_id}"}, "sk": {"S": "meta"}},
            ).get("Item")
        except (ClientError, BotoCoreError) as e:
            raise self._fail("cannot read the journal", e) from e
        return OperationRecord.from_dict(json.loads(item["body"]["S"])) if item else None

    def put_operation(self, op: OperationRecord) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"op#{op.operation_id}"},
                    "sk": {"S": "meta"},
                    "direction": {"S": op.direction},
                    "status": {"S": op.status.value},
                    "body": {"S": json.dumps(op.to_dict())},
                },
            )
        except (ClientError, BotoCoreError) as e:
            raise self._fail("cannot write the journal", e) from e

    def steps(self, operation_id: str) -> dict[str, StepRecord]:
        out: dict[str, StepRecord] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":pk": {"S": f"op#{operation_id}"}, ":s": {"S": "step#"}},
        }
        try:
            while True:
                resp = self.client.query(**kwargs)
                for item in resp.get("Items") or []:
                    rec = StepRecord.from_dict(json.loads(item["body"]["S"]))
                    out[rec.step] = rec
                if not resp.get("LastEvaluatedKey"):
                    return out
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as e:
            raise self._fail("cannot read the journal", e) from e

    def put_step(self, operation_id: str, record: StepRecord) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"op#{operation_id}"},
                    "sk": {"S": f"step#{record.step}"},
                    "status": {"S": record.status.value},
                    "body": {"S": json.dumps(record.to_dict())},
                },
                # A finished step is final: no writer may turn it back into running or failed.
                ConditionExpression="attribute_not_exists(pk) OR NOT (#s IN (:done, :skipped))",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":skipped": {"S": "skipped"}},
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                if self._already_written(operation_id, record):
                    # Our own earlier attempt was applied, its answer lost (a timeout or a throttled
                    # response retried by the AWS layer): the retry meets its own finished record.
                    return
                raise FailoverError(
                    f"{self.region}/{self.table}: step {record.step} of {operation_id} is already "
                    "finished; another run recorded it.",
                    fix="rerun to see the journal state",
                ) from e
            raise self._fail("cannot write the journal", e) from e
        except BotoCoreError as e:
            raise self._fail("cannot write the journal", e) from e

    def _already_written(self, operation_id: str, record: StepRecord) -> bool:
        """True when the table holds exactly ``record`` (read with strong consistency)."""
        try:
            item = self.client.get_item(
                TableName=self.table,
                ConsistentRead=True,
                Key={"pk": {"S": f"op#{operation_id}"}, "sk": {"S": f"step#{record.step}"}},
            ).get("Item")
        except (ClientError, BotoCoreError):
            return False
        return bool(item) and json.loads(item["body"]["S"]) == json.loads(json.dumps(record.to_dict()))


class LocalJournal:
    """A JSON file per operation on the operator's machine: the copy that survives the DR table's loss."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, operation_id: str) -> Path:
        return self.folder / f"{operation_id}.json"

    def _load(self, operation_id: str) -> dict[str, Any]:
        p = self._path(operation_id)
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {"operation": None, "steps": {}}

    def _save(self, operation_id: str, doc: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._path(operation_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self._path(operation_id))

    def get_operation(self, operation_id: str) -> OperationRecord | None:
        with self._lock:
            op = self._load(operation_id)["operation"]
        return OperationRecord.from_dict(op) if op else None

    def put_operation(self, op: OperationRecord) -> None:
        with self._lock:
            doc = self._load(op.operation_id)
            doc["operation"] = op.to_dict()
            self._save(op.operation_id, doc)

    def steps(self, operation_id: str) -> dict[str, StepRecord]:
        with self._lock:
            doc = self._load(operation_id)
        return {k: StepRecord.from_dict(v) for k, v in doc["steps"].items()}

    def put_step(self, operation_id: str, record: StepRecord) -> None:
        with self._lock:
            doc = self._load(operation_id)
            doc["steps"][record.step] = record.to_dict()
            self._save(operation_id, doc)


class MirroredJournal:
    """Writes go to the authoritative journal and to a mirror; reads come from the authoritative one."""

    def __init__(self, primary: Journal, mirror: Journal) -> None:
        self.primary = primary
        self.mirror = mirror

    def _mirror(self, fn: str, *args: Any) -> None:
        try:
            getattr(self.mirror, fn)(*args)
        except OSError as e:
            log.warning("local journal copy not written: %s", e)

    def get_operation(self, operation_id: str) -> OperationRecord | None:
        return self.primary.get_operation(operation_id)

    def put_operation(self, op: OperationRecord) -> None:
        self.primary.put_operation(op)
        self._mirror("put_operation", op)

    def steps(self, operation_id: str) -> dict[str, StepRecord]:
        return self.primary.steps(operation_id)

    def put_step(self, operation_id: str, record: StepRecord) -> None:
        self.primary.put_step(operation_id, record)
        self._mirror("put_step", operation_id, record)


@dataclass(frozen=True)
class LockState:
    """Who holds the lock, for what operation, until when."""

    operation_id: str
    direction: str
    owner: str
    lease_until: float
    status: OperationStatus


class RunLock:
    """One failover/failback per environment at a time: a conditional put on the journal table."""

    def __init__(self, client: Any, table: str, region: str, suffix: str) -> None:
        self.client = client
        self.table = table
        self.region = region
        self.key = {"pk": {"S": "lock"}, "sk": {"S": f"dr#{suffix}"}}

    def read(self) -> LockState | None:
        try:
            item = self.client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as e:
            raise FailoverError(
                f"{self.region}/{self.table}: cannot read the lock ({e}).",
                fix="check the DR region answers and the journal table exists",
            ) from e
        if not item:
            return None
        return LockState(
            operation_id=item["operation_id"]["S"],
            direction=item["direction"]["S"],
            owner=item["owner"]["S"],
            lease_until=float(item["lease_until"]["N"]),
            status=OperationStatus(item["status"]["S"]),
        )

    def acquire(
        self,
        operation_id: str,
        direction: str,
        owner: str,
        now: float,
        lease: float,
        *,
        break_lock: bool = False,
    ) -> None:
        """Take the lock for ``operation_id``; ``ConcurrentRunError`` while another run's lease is live."""
        cond = "attribute_not_exists(pk) OR lease_until < :now OR (operation_id = :op AND #o = :me)"
        values: dict[str, Any] = {":now": {"N": repr(now)}, ":op": {"S": operation_id}, ":me": {"S": owner}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                **self.key,
                "operation_id": {"S": operation_id},
                "direction": {"S": direction},
                "owner": {"S": owner},
                "lease_until": {"N": repr(now + lease)},
                "status": {"S": OperationStatus.RUNNING.value},
                "acquired_at": {"N": repr(now)},
            },
        }
        if not break_lock:
            kwargs.update(
                ConditionExpression=cond,
                ExpressionAttributeValues=values,
                ExpressionAttributeNames={"#o": "owner"},
            )
        try:
            self.client.put_item(**kwargs)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise FailoverError(
                    f"{self.region}/{self.table}: cannot take the lock ({e}).",
                    fix="check the DR region answers",
                ) from e
            held = self.read()
            who = (
                (
                    f"operation {held.operation_id} ({held.direction}) by {held.owner}, lease for "
                    f"{max(0.0, held.lease_until - now):.0f} s more"
                )
                if held
                else "another run"
            )
            raise ConcurrentRunError(
                f"another failover/failback is running: {who}.",
                fix="wait for it; if that run is dead, rerun when its lease ends or with --break-lock",
            ) from e

    def renew(self, operation_id: str, owner: str, now: float, lease: float) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="operation_id = :op AND #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":until": {"N": repr(now + lease)},
                    ":op": {"S": operation_id},
                    ":me": {"S": owner},
                },
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConcurrentRunError(
                    f"the lock for {operation_id} was taken over by another run.",
                    fix="let that run finish; check the journal",
                ) from e
            raise FailoverError(
                f"{self.region}/{self.table}: cannot renew the lock ({e}).", fix="check the DR region answers"
            ) from e

    def release(self, operation_id: str, owner: str, status: OperationStatus) -> None:
        """End the lease; the item stays as the pointer to the last operation and its outcome."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET lease_until = :zero, #s = :status",
                ConditionExpression="operation_id = :op AND #o = :me",
                ExpressionAttributeNames={"#o": "owner", "#s": "status"},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":status": {"S": status.value},
                    ":op": {"S": operation_id},
                    ":me": {"S": owner},
                },
            )
        except ClientError as e:
            log.warning("lock for %s not released: %s", operation_id, e)
