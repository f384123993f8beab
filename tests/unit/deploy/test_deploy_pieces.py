"""Status collapsing, one stack's change sets and events, outputs files, artifacts, status report."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from deploy_fakes import (
    FakeClock,
    FakeCloudFormation,
    FakeFactory,
    client_error,
    default_outputs,
    small_template,
)

from streamflix_dr.aws.status import StackState, collapse
from streamflix_dr.constants import Role
from streamflix_dr.deploy.artifacts import bucket_name, build_automation_zip, object_url
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.deploy.outputs import flatten, read_outputs, write_outputs
from streamflix_dr.deploy.stacks import Stack, Timing
from streamflix_dr.deploy.status import status
from streamflix_dr.errors import StackError


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        (None, StackState.ABSENT),
        ("DELETE_COMPLETE", StackState.ABSENT),
        ("REVIEW_IN_PROGRESS", StackState.REVIEW),
        ("CREATE_IN_PROGRESS", StackState.IN_PROGRESS),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", StackState.IN_PROGRESS),
        ("UPDATE_ROLLBACK_IN_PROGRESS", StackState.IN_PROGRESS),
        ("CREATE_COMPLETE", StackState.STABLE),
        ("UPDATE_COMPLETE", StackState.STABLE),
        ("UPDATE_ROLLBACK_COMPLETE", StackState.STABLE),
        ("ROLLBACK_COMPLETE", StackState.ROLLED_BACK),
        ("ROLLBACK_FAILED", StackState.ROLLED_BACK),
        ("CREATE_FAILED", StackState.ROLLED_BACK),
        ("UPDATE_ROLLBACK_FAILED", StackState.UPDATE_ROLLBACK_FAILED),
        ("DELETE_FAILED", StackState.DELETE_FAILED),
    ],
    ids=str,
)
def test_collapse(raw, state):
    assert collapse(raw) is state


class _NoUpdates(FakeCloudFormation):
    """Real AWS and moto may refuse an identical update at CreateChangeSet itself."""

    def create_change_set(self, **kw: Any) -> dict[str, Any]:
        if kw["ChangeSetType"] == "UPDATE":
            raise client_error("ValidationError", "No updates are to be performed.", "CreateChangeSet")
        return super().create_change_set(**kw)


def test_no_updates_validation_error_is_a_noop():
    cfn = _NoUpdates("eu-west-2", default_outputs, ticks=0)
    cfn.put_stack("s", "CREATE_COMPLETE")
    stack = Stack(cfn, "eu-west-2", "s", Timing(poll_interval=1, clock=FakeClock(), sleep=lambda s: None))
    assert stack.create_change_set(change_type="UPDATE", parameters={}, tags={}, template_body="{}") is None


def test_change_set_failure_other_than_no_changes_is_an_error():
    cfn = FakeCloudFormation("eu-west-2", default_outputs, ticks=0)
    orig = cfn.create_change_set

    def broken(**kw: Any) -> dict[str, Any]:
        out = orig(**kw)
        cfn.change_sets[out["Id"]].update(Status="FAILED", StatusReason="Parameter 'X' must match pattern")
        return out

    cfn.create_change_set = broken  # type: ignore[method-assign]
    stack = Stack(cfn, "eu-west-2", "s", Timing(poll_interval=1, clock=FakeClock(), sleep=lambda s: None))
    with pytest.raises(StackError, match="change set failed: Parameter 'X' must match pattern"):
        stack.create_change_set(
            change_type="CREATE", parameters={}, tags={}, template_body='{"Resources":{}}'
        )
    assert cfn.change_sets == {}


def test_events_across_pages_arrive_oldest_first():
    cfn = FakeCloudFormation("eu-west-2", default_outputs, ticks=0, page_size=2)
    s = cfn.put_stack("s", "CREATE_COMPLETE")
    stream = Stack(cfn, "eu-west-2", "s").events(s.stack_id)
    stream.prime()
    for i in range(7):
        s.events.append(cfn._event(s, f"R{i}", "AWS::X::Y", "CREATE_COMPLETE"))
    got = stream.poll()
    assert [e.logical_id for e in got] == [f"R{i}" for i in range(7)]
    assert stream.poll() == []


def test_flat_outputs_prefix_every_key_and_keep_unambiguous_plain_keys():
    flat = flatten(
        {
            Role.PRIMARY: ("eu-west-2", {"DbInstanceArn": "a", "HealthCheckId": "h", "Same": "x"}),
            Role.DR: ("us-east-1", {"DbInstanceArn": "b", "Same": "x"}),
        }
    )
    assert flat["primary.DbInstanceArn"] == "a" and flat["dr.DbInstanceArn"] == "b"
    assert "DbInstanceArn" not in flat
    assert flat["HealthCheckId"] == "h" and flat["Same"] == "x"
    assert flat["dr.Region"] == "us-east-1"


def test_outputs_files_round_trip(tmp_path):
    write_outputs(tmp_path, {Role.PRIMARY: ("eu-west-2", {"A": "1"})})
    assert read_outputs(tmp_path, "eu-west-2") == {"A": "1"}
    assert read_outputs(tmp_path, "us-east-1") == {}
    assert not list(tmp_path.glob("*.tmp"))


def test_automation_zip_is_deterministic_and_pure_boto3():
    first, second = build_automation_zip(), build_automation_zip()
    assert first == second
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert "streamflix_dr/constants.py" in names and "streamflix_dr/errors.py" in names
    assert "streamflix_dr/aws/clients.py" in names
    assert not [n for n in names if n.startswith(("streamflix_dr/cli/", "streamflix_dr/validate/"))]
    assert not [n for n in names if "__pycache__" in n]


def test_bucket_name_fits_s3_limit_and_url_is_virtual_hosted():
    name = bucket_name("123456789012", "ap-southeast-3", "abcdefghij")
    assert len(name) <= 63
    assert (
        object_url("b", "eu-west-2", "templates/x.json")
        == "https://b.s3.eu-west-2.amazonaws.com/templates/x.json"
    )


def test_status_report(env, timeouts, out_dir):
    factory = FakeFactory()
    before = status(env, factory)
    assert [s.status for s in before.stacks] == ["NOT_FOUND", "NOT_FOUND"] and not before.deployed
    deploy(
        env,
        factory,
        confirm=lambda p: True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=small_template(),
    )
    after = status(env, factory)
    assert after.deployed
    dr = next(s for s in after.stacks if s.role is Role.DR)
    assert dr.phase == "full" and dr.outputs["FileSystemId"] == "fs-dr0001"
    doc = json.loads(json.dumps(after.to_dict()))
    assert doc["stacks"][0]["role"] == "primary" and doc["stacks"][0]["state"] == "stable"
    assert "VpcId" not in dr.outputs  # key outputs only
