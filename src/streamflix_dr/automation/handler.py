"""Lambda entry points: ``failover_step`` (one runbook step per state of the state machine) and
``readiness`` (the readiness checks on a schedule, published as metrics).

They reuse the runbook's step classes and journal: one implementation of each step for the CLI and
the cloud. Only stdlib, boto3/botocore and streamflix_dr's Lambda-safe modules are imported here.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import Role, StepId, stack_name
from streamflix_dr.errors import ConfigError, StreamflixDrError
from streamflix_dr.readiness.core import ReadinessReport, ReadinessTarget, run_readiness
from streamflix_dr.runbook.journal import DynamoJournal, RunLock
from streamflix_dr.runbook.latency import Timeouts
from streamflix_dr.runbook.runner import Runner
from streamflix_dr.runbook.topology import (
    ENV_DB_INSTANCE_ID,
    ENV_DB_SECRET_NAME,
    ENV_DR_REGION,
    ENV_ECS_CLUSTER,
    ENV_ECS_SERVICE,
    ENV_FILE_SYSTEM_ID,
    ENV_GLOBAL_DATASTORE_ID,
    ENV_JOURNAL_TABLE,
    ENV_PRIMARY_REGION,
    ENV_REDIS_GROUP_ID,
    ENV_REDIS_SECRET_NAME,
    ENV_SUFFIX,
    Topology,
    stack_values,
)

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

# The template alarms on StreamFlixDR/ReadinessFailures and scopes PutMetricData to this namespace.
METRIC_NAMESPACE = "StreamFlixDR"
# Waits inside one invocation must end before Lambda's 15-minute limit: 15 s x 50 = 12.5 min for a
# waiter; promote-db's waits (before and after PromoteReadReplica together) at most 13 min, leaving 2 min
# for the calls around them. A promotion still backing-up at the end counts as done (steps.PROMOTED_STATUSES).
LAMBDA_TIMEOUTS = Timeouts(
    fence_seconds=60, waiter_delay=15, waiter_max_attempts=50, promote_poll_seconds=780
)


def _factory() -> ClientFactory:
    # Credentials and region come from the Lambda's execution role; the target is plain AWS.
    return ClientFactory()


def failover_step(
    event: Mapping[str, Any], context: Any, *, factory: Any = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run one failover step, journaled in the DR region's table.

    ``event``: ``{"step": "<StepId>", "executionId": "$$.Execution.Id"}`` (or ``"operation_id"``): every
    state of one execution joins the same operation. Returns the step's record; raises on a failed step
    so the state machine's Catch/Retry sees it.
    """
    env = environ if environ is not None else os.environ
    step = event.get("step") if isinstance(event, Mapping) else None
    if step not in {s.value for s in StepId}:
        raise ConfigError(
            "step", step, "is not a failover step id", f"send one of {[s.value for s in StepId]}"
        )
    topology = Topology.from_environ(env)
    factory = factory or _factory()
    dynamo = factory.client("dynamodb", topology.target_region)
    operation_id = operation_id_of(event)
    runner = Runner(
        factory,
        topology,
        journal=DynamoJournal(dynamo, topology.journal_table, topology.target_region),
        lock=RunLock(dynamo, topology.journal_table, topology.target_region, topology.suffix),
        timeouts=LAMBDA_TIMEOUTS,
        owner=f"automation:{operation_id or 'state-machine'}",
    )
    rec = runner.run_step(step, operation_id=operation_id)
    result = {"operation_id": runner.last_operation_id, **rec.to_dict()}
    log.info("failover step %s: %s", step, result)
    return result


def operation_id_of(event: Mapping[str, Any]) -> str | None:
    """The operation a state-machine execution runs: ``operation_id``, else the execution's name from
    ``executionId`` (``arn:...:execution:<state machine>:<name>``), so parallel branches share it."""
    if event.get("operation_id"):
        return str(event["operation_id"])
    execution = str(event.get("executionId") or "")
    return execution.rsplit(":", 1)[-1] if execution else None


def readiness_target_from_environ(env: Mapping[str, str], factory: Any) -> ReadinessTarget:
    """The readiness target from the function's environment, completed from the DR stack's outputs."""

    def need(key: str) -> str:
        value = env.get(key, "")
        if not value:
            raise ConfigError(
                key,
                value,
                "is not set in the function's environment",
                "redeploy the DR stack: the template sets it",
            )
        return value

    region, suffix = need(ENV_DR_REGION), need(ENV_SUFFIX)
    outputs: dict[str, str] = {}
    try:
        outputs = stack_values(factory, region, stack_name(Role.DR, suffix))
    except StreamflixDrError as e:
        # Without cloudformation:DescribeStacks the checks that need other ids say so as findings.
        log.warning("DR stack outputs not readable, checking what the environment names: %s", e)
    target = ReadinessTarget.from_outputs(
        outputs,
        region=region,
        primary_region=need(ENV_PRIMARY_REGION),
        suffix=suffix,
        global_datastore=bool(env.get(ENV_GLOBAL_DATASTORE_ID)),
    )
    overrides: dict[str, Any] = {
        "db_instance_id": env.get(ENV_DB_INSTANCE_ID) or target.db_instance_id,
        "file_system_id": env.get(ENV_FILE_SYSTEM_ID) or target.file_system_id,
        "global_datastore_id": env.get(ENV_GLOBAL_DATASTORE_ID) or target.global_datastore_id,
        "redis_group_id": env.get(ENV_REDIS_GROUP_ID) or target.redis_group_id,
        "ecs_cluster": env.get(ENV_ECS_CLUSTER) or target.ecs_cluster,
        "ecs_service": env.get(ENV_ECS_SERVICE) or target.ecs_service,
        "journal_table": env.get(ENV_JOURNAL_TABLE) or target.journal_table,
    }
    secrets = tuple(s for s in (env.get(ENV_DB_SECRET_NAME), env.get(ENV_REDIS_SECRET_NAME)) if s)
    return replace(target, secret_names=secrets or target.secret_names, **overrides)


def publish(report: ReadinessReport, factory: Any, suffix: str) -> None:
    """StreamFlixDR Ready (1/0) and ReadinessFailures (failed checks), dimension Environment=<suffix>."""
    dims = [{"Name": "Environment", "Value": suffix}]
    factory.client("cloudwatch", report.region).put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            {
                "MetricName": "Ready",
                "Value": 1.0 if report.ready else 0.0,
                "Unit": "Count",
                "Dimensions": dims,
            },
            {
                "MetricName": "ReadinessFailures",
                "Value": float(len(report.failed)),
                "Unit": "Count",
                "Dimensions": dims,
            },
        ],
    )


def readiness(
    event: Mapping[str, Any], context: Any, *, factory: Any = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the readiness checks in the DR region and publish StreamFlixDR/Ready and ReadinessFailures."""
    env = environ if environ is not None else os.environ
    factory = factory or _factory()
    target = readiness_target_from_environ(env, factory)
    report = run_readiness(factory, target, now=time.time())
    try:
        publish(report, factory, target.suffix)
    except (ClientError, BotoCoreError) as e:
        log.error("readiness metric not published: %s", e)
        raise
    for f in report.failed:
        log.warning("readiness %s %s: %s", f.check_id, f.resource, f.message)
    doc = report.to_dict()
    return {"ready": doc["ready"], "counts": doc["counts"], "failed": [f.to_dict() for f in report.failed]}
