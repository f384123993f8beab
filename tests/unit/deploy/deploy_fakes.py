"""Small in-memory stand-ins for the AWS APIs the deploy core calls, with failure injection.

They follow the API reference where the core depends on it: DescribeStacks raises ValidationError
"does not exist" for a missing stack; DescribeStackEvents pages newest first; a change set with no
differences is FAILED with "didn't contain changes"; a failed create ends in ROLLBACK_COMPLETE,
a failed update in UPDATE_ROLLBACK_COMPLETE.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

_ids = itertools.count(1)
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def client_error(code: str, message: str, op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


class FakeClock:
    """Monotonic clock advanced only by sleep()."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeStack:
    name: str
    stack_id: str
    status: str
    params: dict[str, str] = field(default_factory=dict)
    template: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)  # (status, events) per poll
    policy: str = ""  # the stack policy (SetStackPolicy)


def _refs(node: Any) -> set[str]:
    """Every name ``Ref``-erenced (or ``${Name}`` in a Fn::Sub) inside a template node."""
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::Sub" and isinstance(v, str):
                out |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", v))
            else:
                out |= _refs(v)
    elif isinstance(node, list):
        for v in node:
            out |= _refs(v)
    return out


def _precise_changes(
    old_body: str, new_body: str, old_params: dict[str, str], new_params: dict[str, str]
) -> list[dict[str, Any]]:
    old = json.loads(old_body).get("Resources", {}) if old_body.startswith("{") else {}
    new = json.loads(new_body).get("Resources", {}) if new_body.startswith("{") else {}
    changed = {k for k in set(old_params) | set(new_params) if old_params.get(k) != new_params.get(k)}
    out = []
    for logical in sorted(set(old) | set(new)):
        if logical not in new:
            action, rtype, repl = "Remove", old[logical].get("Type", ""), ""
        elif logical not in old:
            action, rtype, repl = "Add", new[logical].get("Type", ""), ""
        elif old[logical] != new[logical] or _refs(new[logical]) & changed:
            # A resource may say how CloudFormation would update it (Metadata FakeReplacement: True/...).
            repl = str((new[logical].get("Metadata") or {}).get("FakeReplacement", "False"))
            action, rtype = "Modify", new[logical].get("Type", "")
        else:
            continue
        out.append(
            {
                "ResourceChange": {
                    "Action": action,
                    "LogicalResourceId": logical,
                    "ResourceType": rtype,
                    "Replacement": repl,
                }
            }
        )
    return out


class FakeCloudFormation:
    """The CloudFormation calls the core makes, for one region."""

    def __init__(
        self,
        region: str,
        outputs_for: Callable[[str, dict[str, str]], dict[str, str]],
        *,
        ticks: int = 1,
        page_size: int = 3,
    ) -> None:
        self.region = region
        self.outputs_for = outputs_for
        self.ticks = ticks  # polls an operation stays IN_PROGRESS
        self.page_size = page_size
        self.stacks: dict[str, FakeStack] = {}  # by id
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.fail_next: dict[str, tuple[str, str, str]] = {}  # stack name -> (logical id, type, reason)
        # Change sets as CloudFormation computes them (Add/Remove/Modify per resource, the template's types,
        # Modify only where the definition or a referenced parameter changed); off: every resource Modify.
        self.precise = False
        self.clock = T0

    # helpers
    def _live(self, name_or_id: str) -> FakeStack | None:
        if name_or_id in self.stacks:
            return self.stacks[name_or_id]
        for s in self.stacks.values():
            if s.name == name_or_id and s.status != "DELETE_COMPLETE":
                return s
        return None

    def _event(self, s: FakeStack, logical: str, rtype: str, status: str, reason: str = "") -> dict[str, Any]:
        self.clock += timedelta(seconds=1)
        return {
            "EventId": f"ev-{next(_ids)}",
            "StackId": s.stack_id,
            "StackName": s.name,
            "LogicalResourceId": logical,
            "ResourceType": rtype,
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
            "Timestamp": self.clock,
        }

    def _advance(self, s: FakeStack) -> None:
        if s.pending:
            status, evs = s.pending.pop(0)
            s.status = status
            s.events.extend(evs)

    def put_stack(self, name: str, status: str, params: dict[str, str] | None = None) -> FakeStack:
        """Seed a stack in any status (e.g. ROLLBACK_COMPLETE left by an earlier run)."""
        sid = f"arn:aws:cloudformation:{self.region}:123456789012:stack/{name}/{next(_ids)}"
        s = FakeStack(name, sid, status, dict(params or {}))
        s.events.append(self._event(s, name, "AWS::CloudFormation::Stack", status))
        self.stacks[sid] = s
        return s

    # API
    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls.append("describe_stacks")
        s = self._live(StackName)
        if s is None or (s.status == "DELETE_COMPLETE" and StackName == s.name):
            raise client_error(
                "ValidationError", f"Stack with id {StackName} does not exist", "DescribeStacks"
            )
        self._advance(s)
        return {
            "Stacks": [
                {
                    "StackId": s.stack_id,
                    "StackName": s.name,
                    "StackStatus": s.status,
                    "CreationTime": T0,
                    "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in s.params.items()],
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in s.outputs.items()],
                    "Tags": [{"Key": k, "Value": v} for k, v in s.tags.items()],
                }
            ]
        }

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        # Not recorded in ``calls``: a read (status compares the stacks with the live stores).
        s = self._live(StackName)
        if s is None:
            raise client_error(
                "ValidationError", f"Stack with id {StackName} does not exist", "DescribeStackResources"
            )
        resources = json.loads(s.template).get("Resources", {}) if s.template.startswith("{") else {}
        return {
            "StackResources": [
                {
                    "LogicalResourceId": logical,
                    "PhysicalResourceId": f"{logical.lower()}-{s.name}",
                    "ResourceType": r.get("Type", ""),
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
                for logical, r in resources.items()
            ]
        }

    def get_stack_policy(self, StackName: str) -> dict[str, Any]:
        s = self._live(StackName)
        if s is None:
            raise client_error(
                "ValidationError", f"Stack with id {StackName} does not exist", "GetStackPolicy"
            )
        return {"StackPolicyBody": s.policy} if s.policy else {}

    def set_stack_policy(self, StackName: str, StackPolicyBody: str) -> dict[str, Any]:
        self.calls.append("set_stack_policy")
        s = self._live(StackName)
        if s is None:
            raise client_error(
                "ValidationError", f"Stack with id {StackName} does not exist", "SetStackPolicy"
            )
        s.policy = StackPolicyBody
        return {}

    def describe_stack_events(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        self.calls.append("describe_stack_events")
        s = self._live(StackName)
        if s is None:
            raise client_error(
                "ValidationError", f"Stack [{StackName}] does not exist", "DescribeStackEvents"
            )
        newest_first = list(reversed(s.events))
        start = int(NextToken or 0)
        page = newest_first[start : start + self.page_size]
        out: dict[str, Any] = {"StackEvents": page}
        if start + self.page_size < len(newest_first):
            out["NextToken"] = str(start + self.page_size)
        return out

    def create_change_set(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("create_change_set")
        name, ctype = kw["StackName"], kw["ChangeSetType"]
        s = self._live(name)
        if ctype == "UPDATE":
            if s is None:
                raise client_error("ValidationError", f"Stack [{name}] does not exist", "CreateChangeSet")
            if s.status == "ROLLBACK_COMPLETE":
                raise client_error(
                    "ValidationError",
                    f"Stack:{s.stack_id} is in ROLLBACK_COMPLETE state and can not be updated.",
                    "CreateChangeSet",
                )
        elif s is not None and s.status != "REVIEW_IN_PROGRESS":
            raise client_error("AlreadyExistsException", f"Stack [{name}] already exists", "CreateChangeSet")
        if s is None:
            s = self.put_stack(name, "REVIEW_IN_PROGRESS")
        params = {
            p["ParameterKey"]: (
                s.params.get(p["ParameterKey"], "") if p.get("UsePreviousValue") else p["ParameterValue"]
            )
            for p in kw["Parameters"]
        }
        template = (
            s.template if kw.get("UsePreviousTemplate") else (kw.get("TemplateBody") or kw["TemplateURL"])
        )
        cs_id = (
            f"arn:aws:cloudformation:{self.region}:123456789012:changeSet/{kw['ChangeSetName']}/{next(_ids)}"
        )
        same = ctype == "UPDATE" and template == s.template and params == s.params
        resources = sorted(json.loads(template).get("Resources", {})) if template.startswith("{") else ["R"]
        changes = (
            _precise_changes(s.template, template, s.params, params)
            if self.precise and ctype == "UPDATE"
            else [
                {
                    "ResourceChange": {
                        "Action": "Add" if ctype == "CREATE" else "Modify",
                        "LogicalResourceId": r,
                        "ResourceType": "AWS::X::Y",
                        "Replacement": "" if ctype == "CREATE" else "False",
                    }
                }
                for r in resources
            ]
        )
        same = same or (self.precise and ctype == "UPDATE" and not changes and params == s.params)
        self.change_sets[cs_id] = {
            "Id": cs_id,
            "StackId": s.stack_id,
            "Status": "FAILED" if same else "CREATE_COMPLETE",
            "StatusReason": "The submitted information didn't contain changes. Submit different information "
            "to "
            "create a change set."
            if same
            else "",
            "Changes": [] if same else changes,
            "_type": ctype,
            "_name": kw["ChangeSetName"],
            "_stack": s.stack_id,
            "_params": params,
            "_template": template,
            "_tags": {t["Key"]: t["Value"] for t in kw.get("Tags", [])},
        }
        return {"Id": cs_id, "StackId": s.stack_id}

    def list_change_sets(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        # Not recorded in ``calls``: it is a read that precedes every CreateChangeSet.
        s = self._live(StackName)
        if s is None:
            raise client_error("ValidationError", f"Stack [{StackName}] does not exist", "ListChangeSets")
        return {
            "Summaries": [
                {
                    "ChangeSetId": cs_id,
                    "ChangeSetName": cs["_name"],
                    "Status": cs["Status"],
                    "ExecutionStatus": "AVAILABLE" if cs["Status"] == "CREATE_COMPLETE" else "UNAVAILABLE",
                }
                for cs_id, cs in self.change_sets.items()
                if cs["_stack"] == s.stack_id
            ]
        }

    def describe_change_set(
        self, ChangeSetName: str, StackName: str | None = None, NextToken: str | None = None
    ) -> dict[str, Any]:
        self.calls.append("describe_change_set")
        cs = self.change_sets[ChangeSetName]
        return {k: v for k, v in cs.items() if not k.startswith("_")}

    def delete_change_set(self, ChangeSetName: str, StackName: str | None = None) -> dict[str, Any]:
        self.calls.append("delete_change_set")
        self.change_sets.pop(ChangeSetName, None)
        return {}

    def execute_change_set(self, ChangeSetName: str, StackName: str | None = None) -> dict[str, Any]:
        self.calls.append("execute_change_set")
        cs = self.change_sets.pop(ChangeSetName)
        s = self.stacks[cs["StackId"]]
        op = cs["_type"]
        s.status = f"{op}_IN_PROGRESS"
        s.events.append(self._event(s, s.name, "AWS::CloudFormation::Stack", s.status, "User Initiated"))
        fail = self.fail_next.pop(s.name, None)
        progress: list[dict[str, Any]] = []
        for r in [c["ResourceChange"]["LogicalResourceId"] for c in cs["Changes"]]:
            progress.append(self._event(s, r, "AWS::X::Y", f"{op}_IN_PROGRESS"))
        steps: list[tuple[str, list[dict[str, Any]]]] = []
        if self.ticks > 1:
            steps = [(s.status, progress)] + [(s.status, [])] * (self.ticks - 2)
            progress = []
        if fail:
            logical, rtype, reason = fail
            bad = [self._event(s, logical, rtype, f"{op}_FAILED", reason)]
            final = "ROLLBACK_COMPLETE" if op == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
            bad.append(self._event(s, s.name, "AWS::CloudFormation::Stack", final))
            steps.append((final, progress + bad))
        else:
            s.params, s.template, s.tags = cs["_params"], cs["_template"], cs["_tags"]
            s.outputs = self.outputs_for(self.region, s.params)
            done = [
                *progress,
                *(
                    self._event(s, c["ResourceChange"]["LogicalResourceId"], "AWS::X::Y", f"{op}_COMPLETE")
                    for c in cs["Changes"]
                ),
            ]
            done.append(self._event(s, s.name, "AWS::CloudFormation::Stack", f"{op}_COMPLETE"))
            steps.append((f"{op}_COMPLETE", done))
        if self.ticks == 0:
            for status, evs in steps:
                s.status = status
                s.events.extend(evs)
        else:
            s.pending.extend(steps)
        return {}

    def delete_stack(self, StackName: str) -> dict[str, Any]:
        self.calls.append("delete_stack")
        s = self._live(StackName)
        if s is None:
            return {}
        s.status = "DELETE_IN_PROGRESS"
        s.events.append(self._event(s, s.name, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS"))
        s.pending.append(
            ("DELETE_COMPLETE", [self._event(s, s.name, "AWS::CloudFormation::Stack", "DELETE_COMPLETE")])
        )
        return {}


class FakeS3:
    """Buckets with versions, enough for the artifact bucket."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def head_bucket(self, Bucket: str) -> dict[str, Any]:
        self.calls.append("head_bucket")
        if Bucket not in self.buckets:
            raise client_error("404", "Not Found", "HeadBucket")
        return {}

    def create_bucket(self, Bucket: str, **kw: Any) -> dict[str, Any]:
        self.calls.append("create_bucket")
        self.buckets[Bucket] = {"objects": {}, "config": {"create": kw}}
        return {}

    def _put(self, what: str, Bucket: str, **kw: Any) -> dict[str, Any]:
        self.calls.append(what)
        self.buckets[Bucket]["config"][what] = kw
        return {}

    def put_public_access_block(self, **kw: Any) -> dict[str, Any]:
        return self._put("public_access_block", **kw)

    def put_bucket_versioning(self, **kw: Any) -> dict[str, Any]:
        return self._put("versioning", **kw)

    def put_bucket_encryption(self, **kw: Any) -> dict[str, Any]:
        return self._put("encryption", **kw)

    def put_bucket_policy(self, **kw: Any) -> dict[str, Any]:
        return self._put("policy", **kw)

    def put_bucket_tagging(self, **kw: Any) -> dict[str, Any]:
        return self._put("tagging", **kw)

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self.calls.append("put_object")
        self.buckets[Bucket]["objects"][Key] = Body
        return {}

    def get_paginator(self, name: str) -> Any:
        s3 = self

        class P:
            def paginate(self, Bucket: str) -> list[dict[str, Any]]:
                if Bucket not in s3.buckets:
                    raise client_error("NoSuchBucket", "no bucket", "ListObjectVersions")
                keys = s3.buckets[Bucket]["objects"]
                return [{"Versions": [{"Key": k, "VersionId": "v1"} for k in keys]}]

        return P()

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("delete_objects")
        for o in Delete["Objects"]:
            self.buckets[Bucket]["objects"].pop(o["Key"], None)
        return {}

    def delete_bucket(self, Bucket: str) -> dict[str, Any]:
        self.calls.append("delete_bucket")
        if self.buckets[Bucket]["objects"]:
            raise client_error("BucketNotEmpty", "not empty", "DeleteBucket")
        del self.buckets[Bucket]
        return {}


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012"}


class Recorder:
    """Any other service: records calls and returns what ``answers`` says (or raises it)."""

    def __init__(self, name: str, answers: dict[str, Any] | None = None) -> None:
        self.name = name
        self.answers = answers or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_paginator(self, op: str) -> Any:
        recorder = self

        class OnePage:
            def paginate(self, **kw: Any) -> list[Any]:
                return [getattr(recorder, op)(**kw)]

        return OnePage()

    def __getattr__(self, op: str) -> Any:
        if op.startswith("_"):
            raise AttributeError(op)

        def call(**kw: Any) -> Any:
            self.calls.append((op, kw))
            answer = self.answers.get(op, {})
            if callable(answer):
                answer = answer(**kw)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


def default_outputs(region: str, params: dict[str, str]) -> dict[str, str]:
    """What the real template outputs, in the shape the orchestrator reads."""
    role = params.get("Role", "?")
    out = {
        "FileSystemId": f"fs-{role}0001",
        "KmsKeyArn": f"arn:aws:kms:{region}:123456789012:key/{role}",
        "BackupVaultArn": f"arn:aws:backup:{region}:123456789012:backup-vault:{role}",
        "BackupVaultName": f"vault-{role}",
        "VpcId": f"vpc-{role}",
    }
    if role == "primary" or params.get("Phase") == "full":
        out["DbInstanceArn"] = f"arn:aws:rds:{region}:123456789012:db:{role}"
    if role == "primary":
        out["HealthCheckId"] = "hc-1"
    return out


class FakeSsm:
    """SSM Parameter Store for the environment lock: conditional create, overwrite, delete, by path."""

    def __init__(self) -> None:
        self.params: dict[str, str] = {}

    def put_parameter(self, *, Name: str, Value: str, Overwrite: bool = False, **_: Any) -> dict[str, Any]:
        if Name in self.params and not Overwrite:
            raise client_error("ParameterAlreadyExists", "The parameter already exists.", "PutParameter")
        self.params[Name] = Value
        return {"Version": 1}

    def get_parameter(self, *, Name: str) -> dict[str, Any]:
        if Name not in self.params:
            raise client_error("ParameterNotFound", "", "GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.params[Name]}}

    def delete_parameter(self, *, Name: str) -> dict[str, Any]:
        if self.params.pop(Name, None) is None:
            raise client_error("ParameterNotFound", "", "DeleteParameter")
        return {}

    def get_parameters_by_path(self, *, Path: str, **_: Any) -> dict[str, Any]:
        return {"Parameters": [{"Name": n} for n in self.params if n.startswith(Path.rstrip("/") + "/")]}

    def describe_parameters(self, **_: Any) -> dict[str, Any]:
        return {"Parameters": [{"Name": n} for n in self.params]}


class FakeFactory:
    """ClientFactory stand-in: one fake per (service, region); records every client handed out."""

    def __init__(
        self,
        *,
        ticks: int = 1,
        outputs_for: Callable[..., dict[str, str]] = default_outputs,
        others: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.requested: list[tuple[str, str]] = []
        self.cfn: dict[str, FakeCloudFormation] = {}
        self.s3 = FakeS3()
        self.ticks = ticks
        self.outputs_for = outputs_for
        self.others = others or {}
        self.recorders: dict[tuple[str, str], Recorder] = {}
        self.ssm: dict[str, FakeSsm] = {}

    def probe(self, region: str) -> str:
        return str(FakeSts().get_caller_identity()["Account"])

    def region(self, region: str) -> Any:
        from streamflix_dr.aws.clients import RegionClients  # noqa: PLC0415

        return RegionClients(self, region)  # type: ignore[arg-type]

    def client(self, service: str, region: str) -> Any:
        self.requested.append((service, region))
        if service == "cloudformation":
            if region not in self.cfn:
                self.cfn[region] = FakeCloudFormation(region, self.outputs_for, ticks=self.ticks)
            return self.cfn[region]
        if service == "s3":
            return self.s3
        if service == "sts":
            return FakeSts()
        if service == "ssm":
            return self.ssm.setdefault(region, FakeSsm())
        key = (service, region)
        if key not in self.recorders:
            self.recorders[key] = Recorder(service, self.others.get(service))
        return self.recorders[key]


PARAMS = [
    "EnvironmentSuffix",
    "Environment",
    "CostCenter",
    "Role",
    "Phase",
    "PeerRegion",
    "DesiredCount",
    "DrFileSystemId",
    "DrKmsKeyArn",
    "DrBackupVaultArn",
    "PrimaryDbArn",
    "PrimaryHealthCheckId",
    "GlobalDatastoreId",
    "ArtifactBucket",
    "AutomationCodeKey",
]


def small_template(extra_resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template declaring the parameters the orchestrator passes (not all of config's: it must filter)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {p: {"Type": "String", "Default": ""} for p in PARAMS},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, **(extra_resources or {})},
    }
