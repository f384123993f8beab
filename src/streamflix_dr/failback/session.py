"""Wire a failback for an environment: read both stacks (outputs, parameters, physical ids), build the
topology, the runner (the failover's journal table and lock, direction ``failback``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.errors import StackError
from streamflix_dr.failback.base import FailbackTopology, Phase, Side
from streamflix_dr.failback.phases import failback_stages
from streamflix_dr.failback.runner import FailbackRunner, failback_latency
from streamflix_dr.runbook.journal import DynamoJournal, LocalJournal, MirroredJournal, RunLock
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts
from streamflix_dr.runbook.runner import RunEvent

log = logging.getLogger(__name__)

# Contract name (BRIEF: primary stack output of the fence security group); literal until constants.py has it.
OUTPUT_DB_FENCE_SECURITY_GROUP_ID = "DbFenceSecurityGroupId"


def read_stack(
    factory: Any, region: str, stack: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(outputs, parameters, logical id -> physical id) of one stack."""
    cfn = factory.client("cloudformation", region)
    try:
        desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    except (ClientError, BotoCoreError, IndexError) as e:
        raise StackError(
            region,
            stack,
            f"cannot read the stack ({e})",
            "check the region answers and the stack is deployed",
        ) from e
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in desc.get("Outputs") or []}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in desc.get("Parameters") or []}
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources}
    return outputs, params, physical


def _int(value: str, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def side_from_stack(
    region: str,
    stack: str,
    outputs: dict[str, str],
    params: dict[str, str],
    physical: dict[str, str],
    *,
    desired: int,
    low: int,
    high: int,
) -> Side:
    return Side(
        region=region,
        stack=stack,
        db_id=outputs.get(Output.DB_INSTANCE_IDENTIFIER, ""),
        kms_key_arn=outputs.get(Output.KMS_KEY_ARN, ""),
        db_subnet_group=physical.get("DbSubnetGroup", ""),
        db_security_groups=tuple(s for s in (physical.get("DbSecurityGroup", ""),) if s),
        db_parameter_group=physical.get("DbParameterGroup", ""),
        db_instance_class=params.get("DbInstanceClass", ""),
        db_backup_retention=_int(params.get("DbBackupRetentionDays", ""), 7),
        db_fence_security_group=outputs.get(OUTPUT_DB_FENCE_SECURITY_GROUP_ID, ""),
        fs_id=outputs.get(Output.FILE_SYSTEM_ID, ""),
        redis_group_id=outputs.get(Output.REDIS_REPLICATION_GROUP_ID, ""),
        redis_subnet_group=physical.get("RedisSubnetGroup", ""),
        redis_security_groups=tuple(s for s in (physical.get("RedisSecurityGroup", ""),) if s),
        ecs_cluster=outputs.get(Output.ECS_CLUSTER_NAME, ""),
        ecs_service=outputs.get(Output.ECS_SERVICE_NAME, ""),
        desired_count=desired,
        min_capacity=low,
        max_capacity=high,
        load_balancer_dns_name=outputs.get(Output.LOAD_BALANCER_DNS_NAME, ""),
        target_group_arn=outputs.get(Output.TARGET_GROUP_ARN, ""),
    )


def resolve_failback(factory: Any, env: Any) -> FailbackTopology:
    """Both stacks must be readable: a failback needs the primary region healthy."""
    p_stack, d_stack = stack_name(Role.PRIMARY, env.suffix), stack_name(Role.DR, env.suffix)
    p_out, p_params, p_phys = read_stack(factory, env.primary_region, p_stack)
    d_out, d_params, d_phys = read_stack(factory, env.dr_region, d_stack)
    primary = side_from_stack(
        env.primary_region,
        p_stack,
        p_out,
        p_params,
        p_phys,
        desired=env.primary.desired_count,
        low=env.primary.min_capacity,
        high=env.primary.max_capacity,
    )
    dr = side_from_stack(
        env.dr_region,
        d_stack,
        d_out,
        d_params,
        d_phys,
        desired=env.dr.desired_count,
        low=env.dr.min_capacity,
        high=env.dr.max_capacity,
    )
    account = factory.client("sts", env.dr_region).get_caller_identity()["Account"]
    secrets = tuple(
        s for s in (p_out.get(Output.DB_SECRET_NAME, ""), p_out.get(Output.REDIS_AUTH_SECRET_NAME, "")) if s
    )
    journal = d_out.get(Output.JOURNAL_TABLE_NAME, "")
    if not journal:
        raise StackError(
            env.dr_region, d_stack, "output JournalTableName is missing", "deploy the DR stack (full)"
        )
    return FailbackTopology(
        suffix=env.suffix,
        source_region=env.dr_region,
        target_region=env.primary_region,
        journal_table=journal,
        target_db_instance_id=primary.db_id,
        target_file_system_id=primary.fs_id,
        source_file_system_id=dr.fs_id,
        global_datastore_id=p_out.get(Output.GLOBAL_DATASTORE_ID, "")
        or d_out.get(Output.GLOBAL_DATASTORE_ID, ""),
        target_redis_group_id=primary.redis_group_id,
        source_redis_group_id=dr.redis_group_id,
        target_ecs_cluster=primary.ecs_cluster,
        target_ecs_service=primary.ecs_service,
        source_ecs_cluster=dr.ecs_cluster,
        source_ecs_service=dr.ecs_service,
        desired_count=primary.desired_count,
        secret_names=secrets,
        hosted_zone_id=env.hosted_zone_id,
        domain_name=env.domain_name,
        target_group_arn=primary.target_group_arn,
        app_url=p_out.get(Output.APP_URL, ""),
        primary=primary,
        dr=dr,
        global_datastore_enabled=bool(env.global_datastore),
        account_id=str(account),
    )


def build_failback_runner(
    factory: Any,
    topology: FailbackTopology,
    phases: list[Phase],
    *,
    journal_dir: Path,
    force: bool = False,
    max_lag_seconds: float = 60.0,
    latency: Latency | None = None,
    clock: Clock | None = None,
    timeouts: Timeouts | None = None,
    on_event: Any = None,
    owner: str | None = None,
) -> FailbackRunner:
    """A runner over the chosen phases, journaling to the DR region's table (the failover's) with a local
    copy; the lock is the environment's one lock, so a failover and a failback never overlap."""
    dynamo = factory.client("dynamodb", topology.dr.region)
    journal = MirroredJournal(
        DynamoJournal(dynamo, topology.journal_table, topology.dr.region), LocalJournal(journal_dir)
    )
    lock = RunLock(dynamo, topology.journal_table, topology.dr.region, topology.suffix)
    return FailbackRunner(
        factory,
        topology,
        journal=journal,
        lock=lock,
        clock=clock,
        latency=failback_latency(latency),
        timeouts=timeouts,
        stages=failback_stages(phases, force=force, max_lag_seconds=max_lag_seconds),
        on_event=on_event if on_event is not None else _noop,
        owner=owner,
    )


def _noop(_: RunEvent) -> None:
    return None
