"""An interrupted deploy resumes from every point: change sets an earlier run left (REVIEW_IN_PROGRESS stack,
CREATE_PENDING / CREATE_COMPLETE change sets) are cleared before planning. botocore Stubber: the exact
CloudFormation calls, in order, with AWS's shapes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from deploy_fakes import FakeFactory, small_template

from streamflix_dr.config import load_environment
from streamflix_dr.deploy.orchestrator import Timeouts, deploy
from streamflix_dr.deploy.stacks import Stack, Timing

STACK = "streamflix-dr-dr-dev"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/abc"


def cs_arn(name: str) -> str:
    return f"arn:aws:cloudformation:us-east-1:123456789012:changeSet/{name}/1"


@pytest.fixture
def cfn() -> Any:
    return boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def stack(cfn: Any) -> Stack:
    return Stack(cfn, "us-east-1", STACK, Timing(poll_interval=0, sleep=lambda _s: None))


def summary(name: str, status: str, execution: str) -> dict[str, Any]:
    return {
        "ChangeSetId": cs_arn(name),
        "ChangeSetName": name,
        "StackId": STACK_ID,
        "StackName": STACK,
        "Status": status,
        "ExecutionStatus": execution,
    }


def _stack_is(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status, "CreationTime": "2026-01-01"}
        ]
    }


def test_leftover_change_sets_are_deleted_and_a_pending_one_waited_for(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_change_sets",
            {
                "Summaries": [
                    summary("streamflix-old1", "CREATE_COMPLETE", "AVAILABLE"),
                    summary("streamflix-old2", "CREATE_PENDING", "UNAVAILABLE"),
                    summary("someone-elses", "CREATE_COMPLETE", "AVAILABLE"),
                    summary("streamflix-done", "CREATE_COMPLETE", "EXECUTE_COMPLETE"),
                ]
            },
            {"StackName": STACK},
        )
        stub.add_response(
            "delete_change_set", {}, {"ChangeSetName": cs_arn("streamflix-old1"), "StackName": STACK}
        )
        # CREATE_PENDING: DeleteChangeSet would fail (InvalidChangeSetStatus); wait until it settles.
        stub.add_response(
            "describe_change_set",
            {"ChangeSetName": "streamflix-old2", "Status": "CREATE_IN_PROGRESS", "Changes": []},
            {"ChangeSetName": cs_arn("streamflix-old2"), "StackName": STACK},
        )
        stub.add_response(
            "describe_change_set",
            {"ChangeSetName": "streamflix-old2", "Status": "CREATE_COMPLETE", "Changes": []},
            {"ChangeSetName": cs_arn("streamflix-old2"), "StackName": STACK},
        )
        stub.add_response(
            "delete_change_set", {}, {"ChangeSetName": cs_arn("streamflix-old2"), "StackName": STACK}
        )
        # An existing stack keeps going (only a never-created REVIEW_IN_PROGRESS shell is deleted).
        stub.add_response("describe_stacks", _stack_is("UPDATE_COMPLETE"), {"StackName": STACK})
        removed = stack(cfn).clear_pending_change_sets()
        stub.assert_no_pending_responses()
    assert removed == ["streamflix-old1", "streamflix-old2"]


def test_no_stack_yet_means_nothing_to_clear(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "list_change_sets",
            "ValidationError",
            f"Stack [{STACK}] does not exist",
            400,
            {"StackName": STACK},
        )
        assert stack(cfn).clear_pending_change_sets() == []
        stub.assert_no_pending_responses()


def test_create_change_set_clears_first_then_creates(cfn: Any) -> None:
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_change_sets",
            {"Summaries": [summary("streamflix-old", "CREATE_COMPLETE", "AVAILABLE")]},
            {"StackName": STACK},
        )
        stub.add_response(
            "delete_change_set", {}, {"ChangeSetName": cs_arn("streamflix-old"), "StackName": STACK}
        )
        stub.add_response("describe_stacks", _stack_is("UPDATE_COMPLETE"), {"StackName": STACK})
        stub.add_response("create_change_set", {"Id": cs_arn("streamflix-new"), "StackId": STACK_ID}, None)
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetName": "streamflix-new",
                "Status": "CREATE_COMPLETE",
                "StackId": STACK_ID,
                "Changes": [
                    {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "T"}}
                ],
            },
            {"ChangeSetName": cs_arn("streamflix-new"), "StackName": ANY},
        )
        cs = stack(cfn).create_change_set(change_type="CREATE", parameters={}, tags={}, template_body="{}")
        stub.assert_no_pending_responses()
    assert cs is not None and cs.change_type == "CREATE" and len(cs.changes) == 1


def test_deploy_interrupted_at_every_change_set_resumes(tmp_path: Any) -> None:
    """Decline (an interruption at the prompt) at each stack in turn, leaving the change set behind as a
    killed process would; the next run completes, with one stack per name and no leftover change sets."""
    env = load_environment("dev")
    factory = FakeFactory()
    t = Timeouts(timing=Timing(poll_interval=0, sleep=lambda _s: None))
    for stop_at in (("dr", "base"), ("primary", "full"), ("dr", "full")):

        def confirm(plan: Any, stop_at: tuple[str, str] = stop_at) -> bool:
            if (plan.role.value, plan.phase.value) == stop_at:
                raise KeyboardInterrupt  # killed while the change set waits: it stays behind
            return True

        with pytest.raises(KeyboardInterrupt):
            deploy(env, factory, confirm=confirm, timeouts=t, outputs_dir=tmp_path, template=small_template())
        pending = [cs for c in factory.cfn.values() for cs in c.change_sets.values()]
        assert pending, f"the interruption at {stop_at} left a change set behind"
    result = deploy(
        env, factory, confirm=lambda _p: True, timeouts=t, outputs_dir=tmp_path, template=small_template()
    )
    assert [s.action for s in result.stages][-1] in ("created", "updated")
    assert all(not c.change_sets for c in factory.cfn.values())
    for c in factory.cfn.values():
        names = [s.name for s in c.stacks.values() if s.status != "DELETE_COMPLETE"]
        assert len(names) == len(set(names))
