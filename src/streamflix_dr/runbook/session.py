"""Wire a failover for an environment: read both stacks' outputs, build the topology, the runner,
and the readiness target. Used by the CLI and the drill (not by the Lambda, which reads its env)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.constants import Role, stack_name
from streamflix_dr.errors import StackError
from streamflix_dr.readiness.core import Finding, ReadinessReport, ReadinessTarget, Status, run_readiness
from streamflix_dr.runbook.journal import DynamoJournal, LocalJournal, MirroredJournal, RunLock
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts
from streamflix_dr.runbook.runner import RunEvent, Runner
from streamflix_dr.runbook.topology import Topology, stack_outputs, stack_values

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Resolved:
    """The outputs read and what could not be read."""

    topology: Topology
    dr_outputs: dict[str, str]
    primary_outputs: dict[str, str] | None
    warnings: list[str]


def _fast(factory: Any) -> Any:
    # The primary region may be down: do not spend botocore's full retry budget finding out.
    return dataclasses.replace(factory, max_attempts=2) if isinstance(factory, ClientFactory) else factory


def resolve(factory: Any, env: Any) -> Resolved:
    """Read the DR stack (required) and the primary stack (optional: the region may be down)."""
    dr_out = stack_values(factory, env.dr_region, stack_name(Role.DR, env.suffix))
    warnings: list[str] = []
    primary_out: dict[str, str] | None
    try:
        primary_out = stack_outputs(_fast(factory), env.primary_region, stack_name(Role.PRIMARY, env.suffix))
    except StackError as e:
        primary_out = None
        warnings.append(f"primary stack not readable ({e.message}); fencing will find out whether it answers")
    topology = Topology.from_outputs(
        suffix=env.suffix,
        source_region=env.primary_region,
        target_region=env.dr_region,
        source=primary_out,
        target=dr_out,
        desired_count=env.primary.desired_count,
        hosted_zone_id=env.hosted_zone_id,
        domain_name=env.domain_name,
        source_db_arn=dr_out.get("PrimaryDbArn", ""),
    )
    if not topology.source_health_check_id and dr_out.get("PrimaryHealthCheckId"):
        topology = dataclasses.replace(topology, source_health_check_id=dr_out["PrimaryHealthCheckId"])
    if primary_out is None:
        # The replica knows its source: enough to name the old primary's DB for fencing.
        try:
            db = factory.client("rds", env.dr_region).describe_db_instances(
                DBInstanceIdentifier=topology.target_db_instance_id
            )["DBInstances"][0]
            src = db.get("ReadReplicaSourceDBInstanceIdentifier") or ""
            topology = dataclasses.replace(
                topology,
                source_db_arn=src,
                source_ecs_cluster=topology.target_ecs_cluster,
                source_ecs_service=topology.target_ecs_service,
            )
        except (ClientError, BotoCoreError, IndexError) as e:
            log.warning("replica source not readable: %s", e)
    return Resolved(topology, dr_out, primary_out, warnings)


def readiness_target(env: Any, dr_outputs: dict[str, str]) -> ReadinessTarget:
    """What readiness checks for an environment, from the DR stack's outputs and the environment file."""
    return ReadinessTarget.from_outputs(
        dr_outputs,
        region=env.dr_region,
        primary_region=env.primary_region,
        suffix=env.suffix,
        max_replica_lag_seconds=env.max_replica_lag_seconds,
        max_efs_sync_age_seconds=env.max_efs_sync_age_seconds,
        warm_count=max(1, env.dr.desired_count),
        image_tag=env.parameters.get("ImageTag", ""),
        global_datastore=env.global_datastore,
    )


def readiness_report(factory: Any, env: Any, *, now: float) -> ReadinessReport:
    """Readiness of an environment as a report, always: a DR stack that does not exist or cannot be
    read is a failed check (not ready, exit 3, JSON as usual), not an exception."""
    try:
        outputs = stack_values(factory, env.dr_region, stack_name(Role.DR, env.suffix))
    except StackError as e:
        if not _stack_missing(e):
            raise  # the region does not answer, or refuses: not a readiness finding
        finding = Finding(
            "STACK001",
            env.dr_region,
            stack_name(Role.DR, env.suffix),
            Status.FAIL,
            f"the DR stack cannot be read: {e.message}",
            e.fix or "deploy the environment first (streamflix-dr deploy)",
        )
        return ReadinessReport(region=env.dr_region, findings=(finding,), checked_at=now)
    return run_readiness(factory, readiness_target(env, outputs), now=now)


def _stack_missing(e: StackError) -> bool:
    """True when the stack does not exist (DescribeStacks: ValidationError "... does not exist")."""
    cause = e.__cause__
    if cause is None:
        return "does not exist" in e.message
    if isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        return err.get("Code") == "ValidationError" and "does not exist" in str(err.get("Message", ""))
    return False


def build_runner(
    factory: Any,
    topology: Topology,
    *,
    journal_dir: Path,
    latency: Latency | None = None,
    clock: Clock | None = None,
    timeouts: Timeouts | None = None,
    on_event: Any = None,
    owner: str | None = None,
    **kwargs: Any,
) -> Runner:
    """A runner journaling to the DR region's table with a local copy in ``journal_dir``."""
    dynamo = factory.client("dynamodb", topology.target_region)
    journal = MirroredJournal(
        DynamoJournal(dynamo, topology.journal_table, topology.target_region), LocalJournal(journal_dir)
    )
    lock = RunLock(dynamo, topology.journal_table, topology.target_region, topology.suffix)
    cb = on_event if on_event is not None else _noop
    return Runner(
        factory,
        topology,
        journal=journal,
        lock=lock,
        clock=clock,
        latency=latency,
        timeouts=timeouts,
        on_event=cb,
        owner=owner,
        **kwargs,
    )


def _noop(_: RunEvent) -> None:
    return None
