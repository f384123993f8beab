"""The cross-region deploy: order, parameter wiring, no-ops, resume, rollback handling, outputs files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_fakes import FakeClock, FakeFactory, default_outputs, small_template

from streamflix_dr.config import Environment
from streamflix_dr.constants import Phase, Role
from streamflix_dr.deploy.orchestrator import Timeouts, deploy, peer_parameters
from streamflix_dr.deploy.plan import Plan, StageResult
from streamflix_dr.deploy.stacks import StackEvent
from streamflix_dr.errors import AbortedByUser, ConfigError, StackError, StackTimeoutError

DR = "us-east-1"
PRIMARY = "eu-west-2"
DR_STACK = "streamflix-dr-dr-dev"
PRIMARY_STACK = "streamflix-dr-primary-dev"


def yes(_: Plan) -> bool:
    return True


def run(env: Environment, factory: FakeFactory, timeouts: Timeouts, out_dir: Path, **kw: object):
    return deploy(
        env,
        factory,
        confirm=kw.pop("confirm", yes),
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=kw.pop("template", small_template()),
        **kw,
    )  # type: ignore[arg-type]


def test_first_deploy_runs_dr_base_primary_dr_full_in_order(env, factory, timeouts, out_dir):
    plans: list[Plan] = []
    result = run(env, factory, timeouts, out_dir, confirm=lambda p: plans.append(p) or True)
    assert [(s.role, s.phase, s.region, s.action) for s in result.stages] == [
        (Role.DR, Phase.BASE, DR, "created"),
        (Role.PRIMARY, Phase.FULL, PRIMARY, "created"),
        (Role.DR, Phase.FULL, DR, "updated"),
    ]
    assert [(p.stack, p.action) for p in plans] == [
        (DR_STACK, "create"),
        (PRIMARY_STACK, "create"),
        (DR_STACK, "update"),
    ]
    assert all(p.changes for p in plans[:2])


def test_outputs_cross_regions_as_parameters(env, factory, timeouts, out_dir):
    run(env, factory, timeouts, out_dir)
    primary = next(iter(factory.cfn[PRIMARY].stacks.values())).params
    dr = next(iter(factory.cfn[DR].stacks.values())).params
    assert primary["DrFileSystemId"] == "fs-dr0001"
    assert primary["DrKmsKeyArn"] == f"arn:aws:kms:{DR}:123456789012:key/dr"
    assert primary["DrBackupVaultArn"].endswith("backup-vault:dr")
    assert dr["PrimaryDbArn"] == f"arn:aws:rds:{PRIMARY}:123456789012:db:primary"
    assert dr["PrimaryHealthCheckId"] == "hc-1"
    assert dr["Phase"] == "full" and primary["Role"] == "primary"
    # Only parameters the template declares are sent (config also yields e.g. VpcCidr).
    assert "VpcCidr" not in primary
    # GDS off in dev: the datastore id is not passed even though the template declares it.
    assert "GlobalDatastoreId" not in dr


def test_global_datastore_id_passed_only_when_enabled(env):
    primary_outputs = {"DbInstanceArn": "arn:db", "GlobalDatastoreId": "ldgnf-sfdr", "HealthCheckId": "h"}
    off = peer_parameters(env, Role.DR, Phase.FULL, primary_outputs)
    on_env = Environment(**{**env.__dict__, "global_datastore": True})
    on = peer_parameters(on_env, Role.DR, Phase.FULL, primary_outputs)
    assert "GlobalDatastoreId" not in off
    assert on["GlobalDatastoreId"] == "ldgnf-sfdr"
    assert peer_parameters(env, Role.DR, Phase.BASE, primary_outputs) == {}


def test_stack_tags_and_capabilities(env, factory, timeouts, out_dir):
    run(env, factory, timeouts, out_dir)
    stack = next(iter(factory.cfn[PRIMARY].stacks.values()))
    assert stack.tags == {"Application": "streamflix", "CostCenter": "media-platform", "Environment": "dev"}


def test_second_deploy_changes_nothing(env, factory, timeouts, out_dir):
    run(env, factory, timeouts, out_dir)
    calls_before = factory.cfn[DR].calls.count("execute_change_set")
    asked: list[Plan] = []
    result = run(env, factory, timeouts, out_dir, confirm=lambda p: asked.append(p) or True)
    assert [s.action for s in result.stages] == ["skipped", "no-op", "no-op"]
    assert not result.changed
    assert asked == []
    assert factory.cfn[DR].calls.count("execute_change_set") == calls_before
    # The "no changes" change sets are cleaned up.
    assert factory.cfn[DR].change_sets == {} and factory.cfn[PRIMARY].change_sets == {}


def test_outputs_files(env, factory, timeouts, out_dir):
    result = run(env, factory, timeouts, out_dir)
    primary = json.loads((out_dir / f"{PRIMARY}.json").read_text())
    flat = json.loads((out_dir / "flat-outputs.json").read_text())
    assert primary["DbInstanceArn"].endswith("db:primary")
    assert flat["primary.DbInstanceArn"].endswith("db:primary")
    assert flat["dr.DbInstanceArn"].endswith("db:dr")
    assert "DbInstanceArn" not in flat  # differs between regions: prefixed keys only
    assert flat["HealthCheckId"] == "hc-1"  # only the primary has it: plain key too
    assert flat["primary.Region"] == PRIMARY and flat["dr.Region"] == DR
    assert sorted(Path(f).name for f in result.output_files) == sorted(
        [f"{PRIMARY}.json", f"{DR}.json", "flat-outputs.json"]
    )


def test_events_delivered_in_order_per_stack(env, factory, timeouts, out_dir):
    factory.cfn.clear()
    factory.ticks = 3
    seen: list[StackEvent] = []
    run(env, factory, timeouts, out_dir, on_event=seen.append)
    for stack in (DR_STACK, PRIMARY_STACK):
        mine = [e for e in seen if e.stack == stack]
        assert mine, stack
        times = [e.timestamp for e in mine]
        assert times == sorted(times)
        assert len({(e.timestamp, e.logical_id, e.status) for e in mine}) == len(mine)  # no duplicates
    dr_base = [e.status for e in seen if e.stack == DR_STACK and e.logical_id == DR_STACK]
    assert dr_base[:2] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    # The REVIEW_IN_PROGRESS event from before the execution is not replayed as progress.
    assert "REVIEW_IN_PROGRESS" not in [e.status for e in seen]


def test_interrupted_deploy_resumes(env, factory, timeouts, out_dir):
    class Interrupted(Exception):
        pass

    def stop_after_dr_base(stage: StageResult) -> None:
        if stage.phase is Phase.BASE:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(env, factory, timeouts, out_dir, on_stage=stop_after_dr_base)
    assert not factory.cfn[PRIMARY].stacks
    result = run(env, factory, timeouts, out_dir)
    assert [s.action for s in result.stages] == ["no-op", "created", "updated"]


def test_in_progress_stack_from_earlier_run_is_waited_for(env, factory, timeouts, out_dir, clock: FakeClock):
    cfn = factory.client("cloudformation", DR)
    seeded = cfn.put_stack(DR_STACK, "CREATE_IN_PROGRESS", {"Phase": "base", "Role": "dr"})
    seeded.pending = [("CREATE_IN_PROGRESS", [])] * 6 + [("CREATE_COMPLETE", [])]
    result = run(env, factory, timeouts, out_dir)
    assert result.stages[0].action == "updated"  # after the wait: an UPDATE, not a second CREATE
    assert clock.sleeps  # it polled with the injected sleep


def test_rollback_complete_is_recreated_after_confirmation(env, factory, timeouts, out_dir):
    factory.client("cloudformation", DR).put_stack(DR_STACK, "ROLLBACK_COMPLETE")
    plans: list[Plan] = []
    result = run(env, factory, timeouts, out_dir, confirm=lambda p: plans.append(p) or True)
    assert plans[0].action == "recreate" and "ROLLBACK_COMPLETE" in plans[0].reason
    assert result.stages[0].action == "recreated"
    assert "delete_stack" in factory.cfn[DR].calls


def test_rollback_complete_declined_changes_nothing(env, factory, timeouts, out_dir):
    cfn = factory.client("cloudformation", DR)
    cfn.put_stack(DR_STACK, "ROLLBACK_COMPLETE")
    with pytest.raises(AbortedByUser, match="ROLLBACK_COMPLETE"):
        run(env, factory, timeouts, out_dir, confirm=lambda p: p.action != "recreate")
    assert "delete_stack" not in cfn.calls and "create_change_set" not in cfn.calls


def test_update_rollback_failed_stops_with_the_fix(env, factory, timeouts, out_dir):
    factory.client("cloudformation", DR).put_stack(DR_STACK, "UPDATE_ROLLBACK_FAILED", {"Phase": "base"})
    with pytest.raises(StackError, match="continue-update-rollback"):
        run(env, factory, timeouts, out_dir)


def test_failed_create_reports_resources_and_how_to_resume(env, factory, timeouts, out_dir):
    cfn = factory.client("cloudformation", DR)
    cfn.fail_next[DR_STACK] = ("Database", "AWS::RDS::DBInstance", "DBInstanceClass db.x is not supported")
    with pytest.raises(StackError) as info:
        run(env, factory, timeouts, out_dir)
    msg = str(info.value)
    assert "us-east-1/streamflix-dr-dr-dev" in msg
    assert "Database (AWS::RDS::DBInstance): DBInstanceClass db.x is not supported" in msg
    assert "ROLLBACK_COMPLETE" in msg
    assert "create_change_set" not in factory.cfn[PRIMARY].calls
    assert not factory.cfn[PRIMARY].stacks  # the primary was never touched
    # Next run: the empty stack is recreated (after confirmation) and the deploy completes.
    result = run(env, factory, timeouts, out_dir)
    assert [s.action for s in result.stages] == ["recreated", "created", "updated"]


def test_declined_change_set_removes_it_and_the_empty_new_stack(env, factory, timeouts, out_dir):
    with pytest.raises(AbortedByUser):
        run(env, factory, timeouts, out_dir, confirm=lambda p: False)
    cfn = factory.cfn[DR]
    assert cfn.change_sets == {}
    assert all(s.status == "DELETE_IN_PROGRESS" or s.status == "DELETE_COMPLETE" for s in cfn.stacks.values())
    assert "execute_change_set" not in cfn.calls


def test_timeout_raises_with_resume_hint(env, factory, timeouts, out_dir, clock: FakeClock):
    factory.ticks = 10_000
    timeouts.stack_minutes = 1
    with pytest.raises(StackTimeoutError, match="after 1 minutes") as info:
        run(env, factory, timeouts, out_dir)
    assert "run the same command again" in str(info.value)
    assert 60 <= clock.now <= 70  # bounded by the clock, not by a real sleep


def test_dr_full_gets_the_longer_timeout():
    t = Timeouts()
    assert t.for_stage(Role.DR, Phase.FULL) == 240 * 60
    assert t.for_stage(Role.PRIMARY, Phase.FULL) == 90 * 60
    assert t.for_stage(Role.DR, Phase.BASE) == 90 * 60


def test_large_template_goes_through_the_artifact_bucket(env, factory, timeouts, out_dir):
    big = small_template(
        {
            f"Topic{i:04d}": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "x" * 200}}
            for i in range(300)
        }
    )
    plans: list[Plan] = []
    run(env, factory, timeouts, out_dir, template=big, confirm=lambda p: plans.append(p) or True)
    url = plans[0].template_url
    assert url and url.startswith(
        "https://streamflix-artifacts-123456789012-us-east-1-dev.s3.us-east-1.amazonaws.com/"
    )
    key = url.split(".amazonaws.com/", 1)[1]
    assert key in factory.s3.buckets["streamflix-artifacts-123456789012-us-east-1-dev"]["objects"]


def test_small_template_is_sent_as_body_and_buckets_are_hardened(env, factory, timeouts, out_dir):
    plans: list[Plan] = []
    result = run(env, factory, timeouts, out_dir, confirm=lambda p: plans.append(p) or True)
    assert all(p.template_url is None for p in plans)
    assert set(result.artifact_buckets) == {PRIMARY, DR}
    cfg = factory.s3.buckets["streamflix-artifacts-123456789012-eu-west-2-dev"]["config"]
    assert cfg["create"] == {"CreateBucketConfiguration": {"LocationConstraint": PRIMARY}}
    assert cfg["versioning"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(cfg["public_access_block"]["PublicAccessBlockConfiguration"].values())
    assert "aws:SecureTransport" in cfg["policy"]["Policy"]
    us = factory.s3.buckets["streamflix-artifacts-123456789012-us-east-1-dev"]["config"]
    assert us["create"] == {}  # us-east-1 rejects a LocationConstraint
    dr = next(iter(factory.cfn[DR].stacks.values())).params
    assert dr["ArtifactBucket"] == "streamflix-artifacts-123456789012-us-east-1-dev"
    assert dr["AutomationCodeKey"].startswith("automation/") and dr["AutomationCodeKey"].endswith(".zip")


def test_value_the_template_rejects_is_refused_before_any_aws_call(env, factory, timeouts, out_dir):
    tpl = small_template()
    tpl["Parameters"]["DesiredCount"] = {"Type": "Number", "MaxValue": 1}
    with pytest.raises(ConfigError) as info:
        run(env, factory, timeouts, out_dir, template=tpl)
    assert "DesiredCount" in str(info.value) and "primary/full" in str(info.value)
    assert factory.requested == []


def test_missing_peer_output_names_the_stack_and_output(env, timeouts, out_dir):
    def no_db_arn(region, params):
        out = default_outputs(region, params)
        out.pop("DbInstanceArn", None)
        return out

    factory = FakeFactory(outputs_for=no_db_arn)
    with pytest.raises(StackError) as info:
        run(env, factory, timeouts, out_dir)
    msg = str(info.value)
    assert "eu-west-2/streamflix-dr-primary-dev: has no output DbInstanceArn" in msg
    assert "dr stack (full)" in msg
