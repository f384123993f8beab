"""The Lambda entry points on moto: one step per invocation, journaled; readiness publishes metrics."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from moto import mock_aws

from streamflix_dr.automation import handler
from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import StepId
from streamflix_dr.errors import ConfigError, FailoverError
from streamflix_dr.runbook.journal import DynamoJournal, OperationStatus, RunLock, StepStatus

PRIMARY, DR, TABLE = "eu-west-2", "us-east-1", "streamflix-dr-journal-t1"
ORDER = [
    StepId.FENCE_PRIMARY,
    StepId.PROMOTE_DB,
    StepId.FAILOVER_EFS,
    StepId.FAILOVER_REDIS,
    StepId.STOP_SECRET_REPLICATION,
    StepId.SCALE_ECS,
    StepId.SWITCH_DNS,
    StepId.VERIFY_SERVING,
]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ClientFactory, dict[str, str]]]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DR,
    }.items():
        monkeypatch.setenv(k, v)
    # AWS clears the replica link on promotion [API PromoteReadReplica]; moto 5.2.5 does not. The
    # emulator's own fix (streamflix_dr_emulator.rds_replication) is applied here and undone after.
    from streamflix_dr_emulator import rds_replication  # noqa: PLC0415 - test-only emulator import

    # patch_moto undoes every patch after the test (install() would leave them for the whole process).
    # The promotion's modifying/rebooting phases take no emulated time here (this test's clock is fake);
    # a replica without backups still passes through backing-up, which the step counts as promoted.
    rds_replication.patch_moto(monkeypatch)
    monkeypatch.setattr(
        rds_replication,
        "_promotion_config",
        {**rds_replication.DEFAULT_PROMOTION, "modifying_seconds": 0.0, "rebooting_seconds": 0.0},
    )
    with mock_aws():
        f = ClientFactory()
        f.client("dynamodb", DR).create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        arn = f.client("rds", PRIMARY).create_db_instance(
            DBInstanceIdentifier="db",
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="app",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
        )["DBInstance"]["DBInstanceArn"]
        f.client("rds", DR).create_db_instance_read_replica(
            DBInstanceIdentifier="db-replica", SourceDBInstanceIdentifier=arn, SourceRegion=PRIMARY
        )
        for region, count in ((PRIMARY, 2), (DR, 1)):
            ecs = f.client("ecs", region)
            ecs.create_cluster(clusterName="streamflix-t1")
            ecs.register_task_definition(
                family="app", containerDefinitions=[{"name": "a", "image": "x", "memory": 512}]
            )
            ecs.create_service(
                cluster="streamflix-t1", serviceName="app", taskDefinition="app", desiredCount=count
            )
        # The DR target group with a registered target (moto reports it healthy): verify-serving reads it.
        vpc = f.client("ec2", DR).describe_vpcs()["Vpcs"][0]["VpcId"]
        elbv2 = f.client("elbv2", DR)
        tg = elbv2.create_target_group(Name="app-t1", Protocol="HTTPS", Port=443, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.10", "Port": 443}])
        env = {
            "STREAMFLIX_TARGET_GROUP_ARN": tg,
            "STREAMFLIX_PRIMARY_REGION": PRIMARY,
            "STREAMFLIX_DR_REGION": DR,
            "STREAMFLIX_SUFFIX": "t1",
            "STREAMFLIX_JOURNAL_TABLE": TABLE,
            "STREAMFLIX_DB_INSTANCE_ID": "db-replica",
            "STREAMFLIX_PRIMARY_DB_ARN": arn,
            "STREAMFLIX_ECS_CLUSTER": "streamflix-t1",
            "STREAMFLIX_ECS_SERVICE": "app",
            "STREAMFLIX_FAILOVER_DESIRED_COUNT": "2",
        }
        yield f, env


def test_state_machine_sequence_runs_each_step_once(cloud: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = cloud
    results = [
        handler.failover_step({"step": s.value, "operation_id": "exec-1"}, None, factory=factory, environ=env)
        for s in ORDER
    ]
    assert {r["operation_id"] for r in results} == {"exec-1"}
    assert [r["status"] for r in results] == [
        "done",
        "done",
        "skipped",
        "skipped",
        "done",
        "done",
        "skipped",
        "done",
    ]
    dynamo = factory.client("dynamodb", DR)
    journal = DynamoJournal(dynamo, TABLE, DR)
    assert journal.get_operation("exec-1").status is OperationStatus.SUCCEEDED  # type: ignore[union-attr]
    steps = journal.steps("exec-1")
    # no secrets configured: check_done finds nothing to stop, so that action never runs
    assert {k: r.runs for k, r in steps.items()} == {
        s.value: 0 if s is StepId.STOP_SECRET_REPLICATION else 1 for s in ORDER
    }
    lock = RunLock(dynamo, TABLE, DR, "t1").read()
    assert lock is not None and lock.status is OperationStatus.SUCCEEDED and lock.lease_until == 0
    # a retried state (Step Functions Retry) is a no-op: the journal says done
    again = handler.failover_step(
        {"step": "promote-db", "operation_id": "exec-1"}, None, factory=factory, environ=env
    )
    assert again["runs"] == 1 and again["status"] == StepStatus.DONE.value
    svc = factory.client("ecs", PRIMARY).describe_services(cluster="streamflix-t1", services=["app"])[
        "services"
    ][0]
    assert svc["desiredCount"] == 0


def test_failed_step_raises_for_the_state_machine(cloud: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = cloud
    with pytest.raises(FailoverError, match="promote-db"):
        handler.failover_step(
            {"step": "promote-db", "operation_id": "exec-2"},
            None,
            factory=factory,
            environ={**env, "STREAMFLIX_DB_INSTANCE_ID": "missing"},
        )
    lock = RunLock(factory.client("dynamodb", DR), TABLE, DR, "t1").read()
    assert lock is not None and lock.status is OperationStatus.FAILED


def test_bad_event_names_the_field(cloud: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = cloud
    with pytest.raises(ConfigError, match="step"):
        handler.failover_step({"step": "reboot-everything"}, None, factory=factory, environ=env)
    with pytest.raises(ConfigError, match="STREAMFLIX_JOURNAL_TABLE"):
        handler.failover_step(
            {"step": "fence-primary"},
            None,
            factory=factory,
            environ={k: v for k, v in env.items() if k != "STREAMFLIX_JOURNAL_TABLE"},
        )


def test_readiness_handler_publishes_metrics(cloud: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = cloud
    out = handler.readiness({}, None, factory=factory, environ=env)
    # moto has no EFS replication, no image, no alarms: not ready, and it says which checks failed
    assert out["ready"] is False and out["counts"]["fail"] >= 1
    assert {f["check_id"] for f in out["failed"]} >= {"EFS001"}
    stats = factory.client("cloudwatch", DR).list_metrics(Namespace="StreamFlixDR")["Metrics"]
    assert {m["MetricName"] for m in stats} == {"Ready", "ReadinessFailures"}
    assert stats[0]["Dimensions"] == [{"Name": "Environment", "Value": "t1"}]


def test_automation_imports_nothing_outside_the_lambda_runtime() -> None:
    code = (
        "import sys\n"
        "for m in ('yaml', 'click', 'cfnlint', 'moto'):\n"
        "    sys.modules[m] = None\n"
        "import streamflix_dr.automation.handler\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_states_of_one_execution_share_the_operation(cloud: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = cloud
    execution = "arn:aws:states:us-east-1:123456789012:execution:streamflix-failover-t1:run-42"
    first = handler.failover_step(
        {"step": "fence-primary", "executionId": execution, "input": {}}, None, factory=factory, environ=env
    )
    second = handler.failover_step(
        {"step": "scale-ecs", "executionId": execution}, None, factory=factory, environ=env
    )
    assert first["operation_id"] == second["operation_id"] == "run-42"
    assert handler.operation_id_of({"operation_id": "x", "executionId": execution}) == "x"
    assert handler.operation_id_of({}) is None


def test_lambda_waits_fit_in_the_functions_900_s() -> None:
    t = handler.LAMBDA_TIMEOUTS
    # Lambda's hard limit is 900 s: the promotion's waits and any one waiter end well before it
    assert t.promote_poll_seconds <= 900 - 60
    assert t.waiter_delay * t.waiter_max_attempts <= 900 - 60
    assert t.fence_seconds < t.promote_poll_seconds
