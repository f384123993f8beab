"""The in-cloud automation as deployed: the template's Lambdas, run from the zip `deploy` uploads, with the
environment the template wires, in the order the deployed state machine's definition gives.

moto does not run Step Functions states that call Lambda, so the test walks the deployed definition
itself and invokes the FailoverFunction once per Task state (the emulator runs Python handlers
in-process). What is checked is everything the state machine would do on AWS: that each step named in
the definition runs from the deployed code, the shared journal of one execution, and the end state.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from integration_support import EMULATOR_ONLY, Deployment, emulator_timeouts

from streamflix_dr.constants import Output, StepId
from streamflix_dr.deploy.destroy import destroy
from streamflix_dr.deploy.orchestrator import DeployResult, deploy
from streamflix_dr.drill import publish_image
from streamflix_dr.runbook.session import resolve

pytestmark = [pytest.mark.integration, EMULATOR_ONLY]


@dataclasses.dataclass
class Cloud:
    env: Any
    factory: Any
    endpoint: str
    dr_outputs: dict[str, str]


@pytest.fixture(scope="module")
def cloud(target: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """An environment of its own (the failover changes it for good), deployed and torn down here."""
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    assert target.endpoint
    env = dataclasses.replace(target.env, suffix="incloud")
    outputs_dir = tmp_path_factory.mktemp("incloud-outputs")

    def run_deploy() -> DeployResult:
        return deploy(
            env,
            target.factory,
            confirm=lambda _p: True,
            timeouts=emulator_timeouts(),
            outputs_dir=outputs_dir,
            template=target.template,
            on_event=lambda _e: None,
        )

    result = run_deploy()
    # As an operator does: push the image (ECR replicates it), deploy again so the services start.
    resolved = resolve(target.factory, env)
    publish_image(target.factory, env, resolved.primary_outputs or {}, resolved.dr_outputs, lambda _m: None)
    result = run_deploy()
    assert result.image["available"], result.next_steps
    yield Cloud(
        env,
        target.factory,
        target.endpoint,
        result.outputs[env.dr_region],
    )
    DataPlaneClient(target.endpoint).restore_region(env.primary_region)
    destroy(env, target.factory, confirm=lambda _p: True, timeouts=emulator_timeouts())


def _task_steps(states: dict[str, Any], start: str) -> list[list[str]]:
    """The failover steps of a definition in order: one stage per Task, a Parallel state's branches as one."""
    stages: list[list[str]] = []
    name: str | None = start
    while name:
        state = states[name]
        kind = state["Type"]
        if kind == "Task" and "step" in state.get("Parameters", {}).get("Payload", {}):
            stages.append([state["Parameters"]["Payload"]["step"]])
        elif kind == "Parallel":
            stages.append(
                [s for b in state["Branches"] for st in _task_steps(b["States"], b["StartAt"]) for s in st]
            )
        # The approval gate is a Choice whose Default skips it; the operator's approval is the test's go.
        name = state.get("Default") if kind == "Choice" else state.get("Next")
    return stages


def _invoke(cloud: Cloud, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = cloud.factory.client("lambda", cloud.env.dr_region).invoke(
        FunctionName=function, Payload=json.dumps(payload).encode()
    )
    body = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, body
    return body  # type: ignore[no-any-return]


def test_readiness_function_publishes_the_metric_the_alarm_watches(cloud: Cloud) -> None:
    body = _invoke(cloud, cloud.dr_outputs[Output.READINESS_FUNCTION_NAME], {})
    assert set(body) >= {"ready", "counts", "failed"}
    metrics = cloud.factory.client("cloudwatch", cloud.env.dr_region).list_metrics(Namespace="StreamFlixDR")
    names = {m["MetricName"] for m in metrics["Metrics"]}
    assert "ReadinessFailures" in names


def test_state_machine_steps_fail_over_from_the_deployed_code(cloud: Cloud) -> None:
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    dr, factory = cloud.env.dr_region, cloud.factory
    definition = json.loads(
        factory.client("stepfunctions", dr).describe_state_machine(
            stateMachineArn=cloud.dr_outputs[Output.FAILOVER_STATE_MACHINE_ARN]
        )["definition"]
    )
    stages = _task_steps(definition["States"], definition["StartAt"])
    # The deployed definition holds every runbook step, fencing first and verification last.
    assert sorted(s for stage in stages for s in stage) == sorted(s.value for s in StepId)
    assert stages[0] == [StepId.FENCE_PRIMARY.value] and stages[-1] == [StepId.VERIFY_SERVING.value]

    DataPlaneClient(cloud.endpoint).fail_region(cloud.env.primary_region)
    execution = f"arn:aws:states:{dr}:123456789012:execution:streamflix-failover-incloud:alarm-1"
    function = cloud.dr_outputs[Output.FAILOVER_FUNCTION_NAME]
    results = {
        step: _invoke(cloud, function, {"step": step, "executionId": execution})
        for stage in stages
        for step in stage
    }
    # The image was pushed before the services started, so the DR tasks run and are the target group's
    # targets: verify-serving (the last state) finds the DR region serving.
    assert results[StepId.VERIFY_SERVING.value]["status"] == "done", results[StepId.VERIFY_SERVING.value]
    # One execution, one operation: every state journaled under the execution's name.
    assert {r["operation_id"] for r in results.values()} == {"alarm-1"}
    assert results[StepId.FENCE_PRIMARY.value]["status"] == "skipped"  # the primary region is down
    assert results[StepId.PROMOTE_DB.value]["status"] == "done"
    assert results[StepId.FAILOVER_EFS.value]["status"] == "done"

    replica = factory.client("rds", dr).describe_db_instances(
        DBInstanceIdentifier=cloud.dr_outputs[Output.DB_INSTANCE_IDENTIFIER]
    )["DBInstances"][0]
    assert not replica.get("ReadReplicaSourceDBInstanceIdentifier")
    efs = factory.client("efs", dr)
    fs_id = cloud.dr_outputs[Output.FILE_SYSTEM_ID]
    with pytest.raises(efs.exceptions.ReplicationNotFound):
        efs.describe_replication_configurations(FileSystemId=fs_id)
    service = factory.client("ecs", dr).describe_services(
        cluster=cloud.dr_outputs[Output.ECS_CLUSTER_NAME],
        services=[cloud.dr_outputs[Output.ECS_SERVICE_NAME]],
    )["services"][0]
    assert service["desiredCount"] == cloud.env.primary.desired_count

    # A state machine retry of a finished state repeats nothing: the journal answers, the action ran once.
    again = _invoke(cloud, function, {"step": StepId.PROMOTE_DB.value, "executionId": execution})
    assert again["status"] == "done"
    assert again["runs"] == results[StepId.PROMOTE_DB.value]["runs"] == 1
