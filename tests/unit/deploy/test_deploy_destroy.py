"""Teardown: the safe order, each step idempotent, confirmation first."""

from __future__ import annotations

import pytest
from deploy_fakes import FakeFactory, client_error, default_outputs, small_template

from streamflix_dr.deploy.destroy import DestroyPlan, destroy
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.errors import AbortedByUser

DR = "us-east-1"
PRIMARY = "eu-west-2"


def deployed(env, timeouts, out_dir, others=None) -> FakeFactory:
    factory = FakeFactory(others=others)
    deploy(
        env,
        factory,
        confirm=lambda p: True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=small_template(),
    )
    return factory


def test_destroy_order_and_what_it_removes(env, timeouts, out_dir):
    others = {
        "efs": {"describe_replication_configurations": {"Replications": []}},
        "backup": {},
        "secretsmanager": {"describe_secret": {"ReplicationStatus": []}},
    }
    factory = deployed(env, timeouts, out_dir, others)
    primary_cfn, dr_cfn = factory.cfn[PRIMARY], factory.cfn[DR]
    order: list[str] = []
    for region, cfn in ((PRIMARY, primary_cfn), (DR, dr_cfn)):
        orig_exec, orig_del = cfn.execute_change_set, cfn.delete_stack

        def exec_cs(_r=region, _o=orig_exec, **kw):
            order.append(f"update {_r}")
            return _o(**kw)

        def delete(_r=region, _o=orig_del, **kw):
            order.append(f"delete {_r}")
            return _o(**kw)

        cfn.execute_change_set, cfn.delete_stack = exec_cs, delete
    result = destroy(env, factory, confirm=lambda p: True, timeouts=timeouts)
    # 1. the primary update that drops the replication, 4. DR stack, 5. primary stack.
    assert order == [f"update {PRIMARY}", f"delete {DR}", f"delete {PRIMARY}"]
    primary_params = next(iter(primary_cfn.stacks.values())).params
    assert primary_params["DrFileSystemId"] == ""
    assert primary_params["Role"] == "primary"  # UsePreviousValue kept the rest
    steps = [(s.step, s.action) for s in result.steps]
    assert steps[0] == ("primary update DrFileSystemId=''", "done")
    assert ("delete dr stack", "done") in steps and ("delete primary stack", "done") in steps
    assert [s.step for s in result.steps][-2:] == ["artifact bucket removed"] * 2
    assert factory.s3.buckets == {}
    # The vaults named in the outputs were emptied.
    vault_calls = [
        kw for (svc, _r), rec in factory.recorders.items() if svc == "backup" for _op, kw in rec.calls
    ]
    assert {kw.get("BackupVaultName") for kw in vault_calls} == {"vault-primary", "vault-dr"}


def test_destroy_is_idempotent(env, timeouts, out_dir):
    factory = deployed(env, timeouts, out_dir)
    destroy(env, factory, confirm=lambda p: True, timeouts=timeouts)
    asked: list[DestroyPlan] = []
    again = destroy(env, factory, confirm=lambda p: asked.append(p) or True, timeouts=timeouts)
    assert asked == []  # nothing exists: nothing to confirm
    assert [s.action for s in again.steps] == ["already-gone"]


def test_destroy_declined_changes_nothing(env, timeouts, out_dir):
    factory = deployed(env, timeouts, out_dir)
    calls_before = {r: list(c.calls) for r, c in factory.cfn.items()}
    with pytest.raises(AbortedByUser):
        destroy(env, factory, confirm=lambda p: False, timeouts=timeouts)
    for region, cfn in factory.cfn.items():
        new = cfn.calls[len(calls_before[region]) :]
        assert set(new) <= {"describe_stacks"}, new
    assert len(factory.s3.buckets) == 2


def test_leftover_efs_replication_is_deleted_directly(env, timeouts, out_dir):
    # The primary stack is gone (or failed) but a replication configuration still names the DR file system.
    state = {
        "replications": [
            {
                "SourceFileSystemId": "fs-primary0001",
                "SourceFileSystemRegion": PRIMARY,
                "Destinations": [{"FileSystemId": "fs-dr0001", "Region": DR}],
            }
        ]
    }

    def describe(FileSystemId):
        if not state["replications"]:
            raise client_error("ReplicationNotFound", "no replication", "DescribeReplicationConfigurations")
        return {"Replications": state["replications"]}

    def delete(SourceFileSystemId):
        state["replications"] = []
        return {}

    others = {
        "efs": {"describe_replication_configurations": describe, "delete_replication_configuration": delete}
    }
    factory = deployed(env, timeouts, out_dir, others)
    next(iter(factory.cfn[PRIMARY].stacks.values())).status = "UPDATE_ROLLBACK_FAILED"
    factory.cfn[PRIMARY].fail_next = {}
    result = destroy(env, factory, confirm=lambda p: True, timeouts=timeouts)
    by_step = {s.step: s for s in result.steps}
    assert by_step["primary update DrFileSystemId=''"].action == "skipped"
    assert by_step["EFS replication configuration"].action == "done"
    assert "fs-primary0001" in by_step["EFS replication configuration"].detail
    deletes = [
        kw
        for (svc, r), rec in factory.recorders.items()
        if svc == "efs"
        for op, kw in rec.calls
        if op == "delete_replication_configuration"
    ]
    assert deletes == [{"SourceFileSystemId": "fs-primary0001"}]


def test_redis_secondary_disassociated_before_the_dr_stack_goes(env, timeouts, out_dir):
    members = [
        {"ReplicationGroupId": "redis-primary", "ReplicationGroupRegion": PRIMARY, "Role": "PRIMARY"},
        {"ReplicationGroupId": "redis-dr", "ReplicationGroupRegion": DR, "Role": "SECONDARY"},
    ]

    def describe(GlobalReplicationGroupId, ShowMemberInfo):
        return {
            "GlobalReplicationGroups": [
                {"GlobalReplicationGroupId": GlobalReplicationGroupId, "Members": list(members)}
            ]
        }

    def disassociate(**kw):
        members.pop()
        return {}

    others = {
        "elasticache": {
            "describe_global_replication_groups": describe,
            "disassociate_global_replication_group": disassociate,
        }
    }

    def outputs(region, params):
        out = default_outputs(region, params)
        if params.get("Role") == "primary":
            out["GlobalDatastoreId"] = "ldgnf-sfdr-dev"
        return out

    factory = FakeFactory(others=others, outputs_for=outputs)
    deploy(
        env,
        factory,
        confirm=lambda p: True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=small_template(),
    )
    result = destroy(env, factory, confirm=lambda p: True, timeouts=timeouts)
    step = next(s for s in result.steps if s.step == "Redis secondary disassociated")
    assert step.action == "done" and "redis-dr" in step.detail
    calls = factory.recorders[("elasticache", PRIMARY)].calls
    assert (
        "disassociate_global_replication_group",
        {
            "GlobalReplicationGroupId": "ldgnf-sfdr-dev",
            "ReplicationGroupId": "redis-dr",
            "ReplicationGroupRegion": DR,
        },
    ) in calls
    names = [s.step for s in result.steps]
    assert names.index("Redis secondary disassociated") < names.index("delete dr stack")


def test_destroy_handles_failed_stacks(env, timeouts, out_dir):
    # A failed first deploy: the DR stack ROLLBACK_COMPLETE, no primary. Destroy still cleans up.
    factory = FakeFactory()
    factory.client("cloudformation", DR).put_stack(
        "streamflix-dr-dr-dev", "ROLLBACK_COMPLETE", {"Phase": "base"}
    )
    result = destroy(env, factory, confirm=lambda p: True, timeouts=timeouts)
    by_step = {(s.step, s.region): s.action for s in result.steps}
    assert by_step[("primary update DrFileSystemId=''", PRIMARY)] == "skipped"
    assert by_step[("delete dr stack", DR)] == "done"
    assert by_step[("delete primary stack", PRIMARY)] == "already-gone"
    assert all(s.status == "DELETE_COMPLETE" for s in factory.cfn[DR].stacks.values())
