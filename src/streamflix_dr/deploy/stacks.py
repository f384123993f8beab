"""One CloudFormation stack: change sets, events, bounded waits, deletion.

Every wait polls with an injected clock and sleep (``Timing``), so unit tests run
in microseconds and the emulator can poll every 0.2 s while AWS is polled every 10 s.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.aws.status import SUCCESS, StackState, collapse, is_resource_failure
from streamflix_dr.errors import AwsError, StackError, StackTimeoutError

log = logging.getLogger(__name__)

RESUME_HINT = "run the same command again to resume; finished stacks are no-ops"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "No updates")


@dataclass(frozen=True)
class StackEvent:
    """One CloudFormation stack event, as delivered to ``on_event``."""

    region: str
    stack: str
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: datetime | None
    physical_id: str = ""

    @property
    def failed(self) -> bool:
        return is_resource_failure(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "stack": self.stack,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status": self.status,
            "reason": self.reason,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
        }


@dataclass(frozen=True)
class ResourceChange:
    """One row of a change set."""

    action: str  # Add / Modify / Remove / Import / Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True / False / Conditional for Modify

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "replacement": self.replacement,
        }


@dataclass(frozen=True)
class ChangeSet:
    """A created change set: its id and what it would change (empty = nothing to do)."""

    id: str
    stack_id: str
    change_type: str  # CREATE or UPDATE
    # May be empty while the change set is still executable: parameter values or outputs change.
    changes: tuple[ResourceChange, ...]


@dataclass
class Timing:
    """Polling interval and the clock/sleep used to wait; injected so tests use fakes."""

    poll_interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Told what a long wait waits for, every ``notice_every`` seconds (the CLI prints it).
    on_wait: Callable[[str], None] | None = None
    notice_every: float = 15.0


EventSink = Callable[[StackEvent], None]


def _ignore(_: StackEvent) -> None:
    return None


@dataclass
class Stack:
    """A named stack in one region, operated through one CloudFormation client."""

    cfn: Any
    region: str
    name: str
    timing: Timing = field(default_factory=Timing)

    # ---- reading
    def describe(self) -> dict[str, Any] | None:
        """The DescribeStacks entry, or None when the stack does not exist (or is DELETE_COMPLETE)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=self.name)["Stacks"]
        except ClientError as e:
            if _code(e) == "ValidationError" and "does not exist" in _msg(e):
                return None
            raise self._aws_error("describe the stack", e) from e
        live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
        return live[0] if live else None

    def state(self) -> tuple[StackState, dict[str, Any] | None]:
        desc = self.describe()
        return collapse(desc["StackStatus"] if desc else None), desc

    def outputs(self) -> dict[str, str]:
        desc = self.describe()
        return outputs_of(desc)

    def events(self, stack_id: str | None = None) -> EventStream:
        return EventStream(self.cfn, self.region, self.name, stack_id or self.name)

    # ---- change sets
    def create_change_set(
        self,
        *,
        change_type: str,
        parameters: dict[str, str],
        tags: dict[str, str],
        template_body: str | None = None,
        template_url: str | None = None,
        use_previous_template: bool = False,
        use_previous: tuple[str, ...] = (),
    ) -> ChangeSet | None:
        """Create a change set and wait until it is ready; ``None`` means no changes (it is deleted).

        Change sets an interrupted earlier run left (never executed) are deleted first, so a rerun starts
        from a clean stack: see ``clear_pending_change_sets``.
        """
        self.clear_pending_change_sets()
        name = f"streamflix-{uuid.uuid4().hex[:16]}"
        params: list[dict[str, Any]] = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())
        ]
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in use_previous]
        kwargs: dict[str, Any] = {
            "StackName": self.name,
            "ChangeSetName": name,
            "ChangeSetType": change_type,
            "Parameters": params,
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        }
        if use_previous_template:
            kwargs["UsePreviousTemplate"] = True
        elif template_url:
            kwargs["TemplateURL"] = template_url
        else:
            kwargs["TemplateBody"] = template_body
        try:
            created = self.cfn.create_change_set(**kwargs)
        except ClientError as e:
            if any(s in _msg(e) for s in _NO_CHANGES):
                log.info("%s/%s: no changes", self.region, self.name)
                return None
            raise self._aws_error("create a change set", e) from e
        cs_id = created["Id"]
        desc = self._wait_change_set(cs_id)
        if desc["Status"] == "FAILED":
            reason = desc.get("StatusReason") or ""
            if any(s in reason for s in _NO_CHANGES):
                self._delete_change_set(cs_id)
                return None
            self._delete_change_set(cs_id)
            raise StackError(
                self.region,
                self.name,
                f"change set failed: {reason or 'no reason given'}",
                "fix the template or parameters named in the reason, then run the command again",
            )
        changes = tuple(_change(c) for c in _all_changes(self.cfn, cs_id, desc))
        return ChangeSet(
            id=cs_id,
            stack_id=created.get("StackId") or desc.get("StackId", ""),
            change_type=change_type,
            changes=changes,
        )

    def clear_pending_change_sets(self) -> list[str]:
        """Delete the change sets of this stack that were never executed; return their names.

        An interrupted deploy may leave a stack in REVIEW_IN_PROGRESS (a CREATE change set made, never
        executed) or an existing stack with a change set in CREATE_PENDING/CREATE_IN_PROGRESS/
        CREATE_COMPLETE. CloudFormation keeps them (ListChangeSets, ExecutionStatus AVAILABLE/UNAVAILABLE)
        and they block nothing, but a stack in REVIEW_IN_PROGRESS can only be created through a new CREATE
        change set, and stale ones confuse the operator. A change set still being created is waited for
        first (DeleteChangeSet refuses it: InvalidChangeSetStatus). Only our own (``streamflix-*``) go.
        https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListChangeSets.html
        https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html
        """
        try:
            summaries = self._list_change_sets()
        except ClientError as e:
            if _code(e) == "ValidationError" and "does not exist" in _msg(e):
                return []
            raise self._aws_error("list change sets", e) from e
        removed: list[str] = []
        for cs in summaries:
            name = str(cs.get("ChangeSetName", ""))
            if not name.startswith("streamflix-"):
                continue
            if cs.get("ExecutionStatus") in ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED"):
                continue
            cs_id = str(cs.get("ChangeSetId") or name)
            if cs.get("Status") in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                self._wait_change_set(cs_id)
            self._delete_change_set(cs_id)
            removed.append(name)
            log.info("%s/%s: deleted change set %s left by an earlier run", self.region, self.name, name)
        if removed:
            desc = self.describe()
            if desc is not None and desc.get("StackStatus") == "REVIEW_IN_PROGRESS":
                # A stack that was never created holds nothing: delete it, so that the new CREATE change
                # set starts from no stack at all rather than from a leftover shell.
                self._call("delete the never-created stack", self.cfn.delete_stack, StackName=desc["StackId"])
                self.wait("DELETE", timeout_s=600)
        return removed

    def _list_change_sets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StackName": self.name}
            if token:
                kwargs["NextToken"] = token
            page = self.cfn.list_change_sets(**kwargs)
            out.extend(page.get("Summaries", []))
            token = page.get("NextToken")
            if not token:
                return out

    def _wait_change_set(self, cs_id: str) -> dict[str, Any]:
        deadline = self.timing.clock() + 600
        while True:
            desc = self.cfn.describe_change_set(ChangeSetName=cs_id, StackName=self.name)
            if desc["Status"] in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"):
                return dict(desc)
            if self.timing.clock() >= deadline:
                raise StackTimeoutError(
                    self.region,
                    self.name,
                    "the change set was not ready within 10 minutes",
                    "look at the change set in the console; " + RESUME_HINT,
                )
            self.timing.sleep(self.timing.poll_interval)

    def _delete_change_set(self, cs_id: str) -> None:
        try:
            self.cfn.delete_change_set(ChangeSetName=cs_id, StackName=self.name)
        except ClientError as e:  # a leftover change set is harmless; the next run creates a new one
            log.warning("%s/%s: could not delete change set %s: %s", self.region, self.name, cs_id, e)

    def discard(self, change_set: ChangeSet) -> None:
        """Delete a change set the operator declined; a never-executed new stack goes too."""
        self._delete_change_set(change_set.id)
        if change_set.change_type == "CREATE":
            state, _ = self.state()
            if state is StackState.REVIEW:
                self._call("delete the empty stack", self.cfn.delete_stack, StackName=self.name)

    def execute(
        self, change_set: ChangeSet, *, timeout_s: float, on_event: EventSink = _ignore
    ) -> dict[str, Any]:
        """Execute a change set and wait for the stack to finish; raise StackError with the failing events."""
        stream = self.events(change_set.stack_id or None)
        stream.prime()
        self._call(
            "execute the change set",
            self.cfn.execute_change_set,
            ChangeSetName=change_set.id,
            StackName=self.name,
        )
        return self.wait(change_set.change_type, timeout_s=timeout_s, on_event=on_event, stream=stream)

    # ---- waiting
    def wait(
        self,
        operation: str,
        *,
        timeout_s: float,
        on_event: EventSink = _ignore,
        stream: EventStream | None = None,
    ) -> dict[str, Any]:
        """Wait until the stack leaves *_IN_PROGRESS; succeed only on ``operation``'s success status.

        ``operation`` is CREATE, UPDATE, DELETE, or ANY (wait for an earlier run's operation to settle).
        Returns the final DescribeStacks entry (``{}`` when the stack is gone after DELETE).
        """
        if stream is None:
            desc = self.describe()
            stream = self.events(desc["StackId"] if desc else None)
            stream.prime()
        began = self.timing.clock()
        deadline = began + timeout_s
        last_notice = began
        while True:
            desc = self._describe_by_id(stream.stack_id)
            for ev in stream.poll():
                on_event(ev)
            status = desc["StackStatus"] if desc else "DELETE_COMPLETE"
            state = collapse(status)
            if state is not StackState.IN_PROGRESS:
                break
            now = self.timing.clock()
            if self.timing.on_wait and now - last_notice >= self.timing.notice_every:
                last_notice = now
                self.timing.on_wait(
                    f"{self.region}/{self.name}: still {status} after {now - began:.0f} s "
                    f"(bound {timeout_s / 60:.0f} min); waiting for CloudFormation"
                )
            if self.timing.clock() >= deadline:
                raise StackTimeoutError(
                    self.region,
                    self.name,
                    f"still {status} after {timeout_s / 60:.0f} minutes",
                    "the operation goes on in CloudFormation; " + RESUME_HINT + " (it waits for it), "
                    "or raise the timeout with --timeout-minutes",
                )
            self.timing.sleep(self.timing.poll_interval)
        for ev in stream.poll():
            on_event(ev)
        if operation == "ANY" or status in SUCCESS.get(operation, set()):
            return desc or {}
        failures = stream.failures()
        detail = "; ".join(f"{e.logical_id} ({e.resource_type}): {e.reason}" for e in failures[:10])
        raise StackError(
            self.region,
            self.name,
            f"{operation.lower()} ended in {status}"
            + (f" ({desc.get('StackStatusReason')})" if desc and desc.get("StackStatusReason") else "")
            + (f"; failed resources: {detail}" if detail else ""),
            _fix_for(status),
        )

    def _describe_by_id(self, stack_id: str) -> dict[str, Any] | None:
        try:
            stacks = self.cfn.describe_stacks(StackName=stack_id)["Stacks"]
        except ClientError as e:
            if _code(e) == "ValidationError" and "does not exist" in _msg(e):
                return None
            raise self._aws_error("describe the stack", e) from e
        return stacks[0] if stacks else None

    # ---- deleting
    def delete(self, *, timeout_s: float, on_event: EventSink = _ignore) -> bool:
        """Delete the stack and wait. Returns False when it did not exist (idempotent)."""
        state, desc = self.state()
        if state is StackState.ABSENT or desc is None:
            return False
        stream = self.events(desc["StackId"])
        if state is StackState.IN_PROGRESS:
            stream.prime()
            self.wait("ANY", timeout_s=timeout_s, on_event=on_event, stream=stream)
        stream.prime()
        self._call("delete the stack", self.cfn.delete_stack, StackName=desc["StackId"])
        try:
            self.wait("DELETE", timeout_s=timeout_s, on_event=on_event, stream=stream)
        except StackTimeoutError:
            raise
        except StackError:
            # A resource that is already gone (destroy removed it first, e.g. a Global Datastore after a
            # failover) must not keep the stack: the handler contract makes a delete of a missing resource
            # NotFound, which CloudFormation counts as deleted; where a handler fails instead, retry once,
            # retaining exactly those resources (DeleteStack RetainResources is valid on DELETE_FAILED).
            # https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract.html
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
            gone = sorted(
                {
                    e.logical_id
                    for e in stream.failures()
                    if e.status == "DELETE_FAILED" and e.logical_id != self.name and _not_found(e.reason)
                }
            )
            others = [
                e
                for e in stream.failures()
                if e.status == "DELETE_FAILED" and e.logical_id not in gone and e.logical_id != self.name
            ]
            if not gone or others:
                raise
            log.warning("%s/%s: retaining already-deleted %s", self.region, self.name, ", ".join(gone))
            retry = self.events(desc["StackId"])
            retry.prime()
            self._call(
                "delete the stack", self.cfn.delete_stack, StackName=desc["StackId"], RetainResources=gone
            )
            self.wait("DELETE", timeout_s=timeout_s, on_event=on_event, stream=retry)
        return True

    # ---- helpers
    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ClientError as e:
            raise self._aws_error(what, e) from e

    def _aws_error(self, what: str, e: ClientError) -> StackError:
        return StackError(
            self.region,
            self.name,
            f"could not {what}: {_code(e)}: {_msg(e)}",
            "check credentials/permissions and the message; " + RESUME_HINT,
        )


class EventStream:
    """New stack events in the order they happened, from DescribeStackEvents (which pages newest first)."""

    def __init__(self, cfn: Any, region: str, stack: str, stack_id: str) -> None:
        self.cfn = cfn
        self.region = region
        self.stack = stack
        self.stack_id = stack_id
        self._seen: set[str] = set()
        self._delivered: list[StackEvent] = []

    def prime(self) -> None:
        """Mark every existing event as seen, so only events of the coming operation are delivered."""
        for raw in self._fetch(stop_at_seen=False):
            self._seen.add(raw["EventId"])

    def poll(self) -> list[StackEvent]:
        new = [raw for raw in self._fetch(stop_at_seen=True)]
        new.reverse()
        out: list[StackEvent] = []
        for raw in new:
            self._seen.add(raw["EventId"])
            ev = StackEvent(
                region=self.region,
                stack=self.stack,
                logical_id=raw.get("LogicalResourceId") or "",
                resource_type=raw.get("ResourceType") or "",
                status=raw.get("ResourceStatus") or "",
                reason=raw.get("ResourceStatusReason") or "",
                timestamp=raw.get("Timestamp"),
                physical_id=raw.get("PhysicalResourceId") or "",
            )
            out.append(ev)
        self._delivered.extend(out)
        return out

    def failures(self) -> list[StackEvent]:
        """The FAILED resource events of this operation, first first; cancellations of others last."""
        failed = [e for e in self._delivered if e.failed]
        cancelled = [e for e in failed if "cancelled" in e.reason.lower()]
        return [e for e in failed if e not in cancelled] + cancelled

    def _fetch(self, *, stop_at_seen: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StackName": self.stack_id}
            if token:
                kwargs["NextToken"] = token
            try:
                page = self.cfn.describe_stack_events(**kwargs)
            except ClientError as e:
                if _code(e) == "ValidationError" and "does not exist" in _msg(e):
                    return out
                raise AwsError(
                    f"{self.region}/{self.stack}: could not read stack events: {_msg(e)}", fix=RESUME_HINT
                ) from e
            for raw in page.get("StackEvents", []):
                if stop_at_seen and raw["EventId"] in self._seen:
                    return out
                out.append(raw)
            token = page.get("NextToken")
            if not token:
                return out


def outputs_of(desc: dict[str, Any] | None) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of a DescribeStacks entry."""
    if not desc:
        return {}
    return {o["OutputKey"]: str(o.get("OutputValue", "")) for o in desc.get("Outputs", []) or []}


def parameters_of(desc: dict[str, Any] | None) -> dict[str, str]:
    if not desc:
        return {}
    return {p["ParameterKey"]: str(p.get("ParameterValue", "")) for p in desc.get("Parameters", []) or []}


def _all_changes(cfn: Any, cs_id: str, first: dict[str, Any]) -> list[dict[str, Any]]:
    changes = list(first.get("Changes", []))
    token = first.get("NextToken")
    while token:
        page = cfn.describe_change_set(ChangeSetName=cs_id, NextToken=token)
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
    return changes


def _change(raw: dict[str, Any]) -> ResourceChange:
    rc = raw.get("ResourceChange", {})
    return ResourceChange(
        action=str(rc.get("Action", "")),
        logical_id=str(rc.get("LogicalResourceId", "")),
        resource_type=str(rc.get("ResourceType", "")),
        replacement=str(rc.get("Replacement", "") or ""),
    )


def _not_found(reason: str) -> bool:
    text = reason.lower()
    return "not found" in text or "does not exist" in text or "notfound" in text


def _fix_for(status: str) -> str:
    if status == "UPDATE_ROLLBACK_FAILED":
        return (
            "run `aws cloudformation continue-update-rollback` (skip the resources that cannot roll back "
            "with --resources-to-skip), then " + RESUME_HINT
        )
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        return (
            "fix the cause named above; the failed create left an empty stack, which the next run deletes "
            "and recreates after asking"
        )
    if status == "DELETE_FAILED":
        return "remove or retain the resources named above, then run destroy again"
    return "fix the cause named above, then " + RESUME_HINT


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _msg(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Message", ""))
