"""What a failover acts on: the resources of the source and target regions, by id.

Built from the stacks' outputs (CLI) or from the Lambda's environment (in-cloud). The same object
serves a failback later: ``source`` is the region being left, ``target`` the one taking over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.errors import ConfigError, StackError

log = logging.getLogger(__name__)

# Lambda environment variable names (set by the template on FailoverFunction/ReadinessFunction).
ENV_PRIMARY_REGION = "STREAMFLIX_PRIMARY_REGION"
ENV_DR_REGION = "STREAMFLIX_DR_REGION"
ENV_SUFFIX = "STREAMFLIX_SUFFIX"
ENV_JOURNAL_TABLE = "STREAMFLIX_JOURNAL_TABLE"
ENV_DB_INSTANCE_ID = "STREAMFLIX_DB_INSTANCE_ID"
ENV_PRIMARY_DB_ARN = "STREAMFLIX_PRIMARY_DB_ARN"
ENV_FILE_SYSTEM_ID = "STREAMFLIX_FILE_SYSTEM_ID"
ENV_GLOBAL_DATASTORE_ID = "STREAMFLIX_GLOBAL_DATASTORE_ID"
ENV_REDIS_GROUP_ID = "STREAMFLIX_REDIS_GROUP_ID"
ENV_ECS_CLUSTER = "STREAMFLIX_ECS_CLUSTER"
ENV_ECS_SERVICE = "STREAMFLIX_ECS_SERVICE"
ENV_FAILOVER_DESIRED_COUNT = "STREAMFLIX_FAILOVER_DESIRED_COUNT"
ENV_DB_SECRET_NAME = "STREAMFLIX_DB_SECRET_NAME"  # noqa: S105 - a variable name, not a secret
ENV_REDIS_SECRET_NAME = "STREAMFLIX_REDIS_SECRET_NAME"  # noqa: S105 - a variable name
ENV_HOSTED_ZONE_ID = "STREAMFLIX_HOSTED_ZONE_ID"
ENV_DOMAIN_NAME = "STREAMFLIX_DOMAIN_NAME"
ENV_TARGET_GROUP_ARN = "STREAMFLIX_TARGET_GROUP_ARN"
ENV_PRIMARY_HEALTH_CHECK_ID = "STREAMFLIX_PRIMARY_HEALTH_CHECK_ID"
# The primary's fence security group by name (the in-cloud run knows no primary outputs; the failover role
# may ec2:DescribeSecurityGroups, which has no resource-level permissions).
ENV_DB_FENCE_SECURITY_GROUP_NAME = "STREAMFLIX_DB_FENCE_SECURITY_GROUP_NAME"
# Contract names (BRIEF: the template's DbFenceSecurityGroup output and the DR load balancer output).
# Literal here until constants.py (owned by the template side) carries them.
OUTPUT_DB_FENCE_SECURITY_GROUP_ID = "DbFenceSecurityGroupId"


@dataclass(frozen=True)
class Topology:
    """Resource ids for one direction of a failover (source region -> target region)."""

    suffix: str
    source_region: str
    target_region: str
    journal_table: str
    target_db_instance_id: str = ""
    source_db_arn: str = ""
    target_file_system_id: str = ""
    source_file_system_id: str = ""
    global_datastore_id: str = ""
    target_redis_group_id: str = ""
    source_redis_group_id: str = ""
    target_ecs_cluster: str = ""
    target_ecs_service: str = ""
    source_ecs_cluster: str = ""
    source_ecs_service: str = ""
    desired_count: int = 2
    secret_names: tuple[str, ...] = ()
    hosted_zone_id: str = ""
    domain_name: str = ""
    source_health_check_id: str = ""
    target_group_arn: str = ""
    app_url: str = ""
    # A CA bundle that verifies app_url's certificate ('' = the system's trust store).
    app_ca_file: str = ""
    # The primary's no-rules security group: swapped onto the old primary DB by the fence.
    source_db_fence_security_group_id: str = ""
    source_db_fence_security_group_name: str = ""
    # The DR load balancer's DNS name: what Route 53 must answer after the switch.
    target_load_balancer_dns_name: str = ""
    # The DR region, whatever the direction (the pin alarm lives in the DR stack); '' = target_region.
    dr_region: str = ""

    @property
    def direction(self) -> str:
        return f"{self.source_region}->{self.target_region}"

    @property
    def pin_region(self) -> str:
        """Where the failover pin metric and its alarm live: the DR region (the target of a failover)."""
        return self.dr_region or self.target_region

    @property
    def source_db_instance_id(self) -> str:
        # arn:aws:rds:<region>:<account>:db:<id>
        return self.source_db_arn.rsplit(":", 1)[-1] if self.source_db_arn else ""

    def with_overrides(self, **kwargs: Any) -> Topology:
        return replace(self, **kwargs)

    @classmethod
    def from_outputs(
        cls,
        *,
        suffix: str,
        source_region: str,
        target_region: str,
        source: Mapping[str, str] | None,
        target: Mapping[str, str],
        desired_count: int,
        hosted_zone_id: str = "",
        domain_name: str = "",
        source_db_arn: str = "",
    ) -> Topology:
        """From the two stacks' outputs; ``source`` is None when the source region does not answer."""
        src = dict(source or {})

        def need(key: str) -> str:
            value = target.get(key, "")
            if not value:
                raise StackError(
                    target_region,
                    stack_name(Role.DR, suffix),
                    f"output {key} is missing",
                    "deploy the DR stack in its full phase (streamflix-dr deploy)",
                )
            return value

        return cls(
            suffix=suffix,
            source_region=source_region,
            target_region=target_region,
            journal_table=need(Output.JOURNAL_TABLE_NAME),
            target_db_instance_id=target.get(Output.DB_INSTANCE_IDENTIFIER, ""),
            source_db_arn=source_db_arn or src.get(Output.DB_INSTANCE_ARN, ""),
            target_file_system_id=target.get(Output.FILE_SYSTEM_ID, ""),
            source_file_system_id=src.get(Output.FILE_SYSTEM_ID, ""),
            global_datastore_id=target.get(Output.GLOBAL_DATASTORE_ID, "")
            or src.get(Output.GLOBAL_DATASTORE_ID, ""),
            target_redis_group_id=target.get(Output.REDIS_REPLICATION_GROUP_ID, ""),
            source_redis_group_id=src.get(Output.REDIS_REPLICATION_GROUP_ID, ""),
            target_ecs_cluster=target.get(Output.ECS_CLUSTER_NAME, ""),
            target_ecs_service=target.get(Output.ECS_SERVICE_NAME, ""),
            source_ecs_cluster=src.get(Output.ECS_CLUSTER_NAME, ""),
            source_ecs_service=src.get(Output.ECS_SERVICE_NAME, ""),
            desired_count=desired_count,
            secret_names=tuple(
                s
                for s in (
                    target.get(Output.DB_SECRET_NAME, ""),
                    target.get(Output.REDIS_AUTH_SECRET_NAME, ""),
                )
                if s
            ),
            hosted_zone_id=hosted_zone_id,
            domain_name=domain_name,
            source_health_check_id=src.get(Output.HEALTH_CHECK_ID, ""),
            target_group_arn=target.get(Output.TARGET_GROUP_ARN, ""),
            app_url=target.get(Output.APP_URL, ""),
            source_db_fence_security_group_id=src.get(OUTPUT_DB_FENCE_SECURITY_GROUP_ID, ""),
            target_load_balancer_dns_name=target.get(Output.LOAD_BALANCER_DNS_NAME, ""),
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Topology:
        """From the Lambda's environment (failover direction primary -> DR)."""

        def need(key: str) -> str:
            value = environ.get(key, "")
            if not value:
                raise ConfigError(
                    key,
                    value,
                    "is not set in the function's environment",
                    "redeploy the DR stack: the template sets it on the function",
                )
            return value

        count_raw = environ.get(ENV_FAILOVER_DESIRED_COUNT, "2") or "2"
        try:
            count = int(count_raw)
        except ValueError as e:
            raise ConfigError(
                ENV_FAILOVER_DESIRED_COUNT,
                count_raw,
                "is not a whole number",
                "set FailoverDesiredCount to the primary's task count",
            ) from e
        cluster = environ.get(ENV_ECS_CLUSTER, "")
        service = environ.get(ENV_ECS_SERVICE, "")
        return cls(
            suffix=need(ENV_SUFFIX),
            source_region=need(ENV_PRIMARY_REGION),
            target_region=need(ENV_DR_REGION),
            journal_table=need(ENV_JOURNAL_TABLE),
            target_db_instance_id=environ.get(ENV_DB_INSTANCE_ID, ""),
            source_db_arn=environ.get(ENV_PRIMARY_DB_ARN, ""),
            target_file_system_id=environ.get(ENV_FILE_SYSTEM_ID, ""),
            global_datastore_id=environ.get(ENV_GLOBAL_DATASTORE_ID, ""),
            target_redis_group_id=environ.get(ENV_REDIS_GROUP_ID, ""),
            target_ecs_cluster=cluster,
            target_ecs_service=service,
            # The template names the cluster and service alike in both regions.
            source_ecs_cluster=cluster,
            source_ecs_service=service,
            desired_count=count,
            secret_names=tuple(
                s for s in (environ.get(ENV_DB_SECRET_NAME, ""), environ.get(ENV_REDIS_SECRET_NAME, "")) if s
            ),
            hosted_zone_id=environ.get(ENV_HOSTED_ZONE_ID, ""),
            domain_name=environ.get(ENV_DOMAIN_NAME, ""),
            target_group_arn=environ.get(ENV_TARGET_GROUP_ARN, ""),
            source_health_check_id=environ.get(ENV_PRIMARY_HEALTH_CHECK_ID, ""),
            # The fence group is found by its name when the fence runs (the primary answers then); the DR
            # load balancer from the SECONDARY record.
            source_db_fence_security_group_name=environ.get(ENV_DB_FENCE_SECURITY_GROUP_NAME, ""),
        )


# DR stack parameters that name primary-side resources; read when the primary stack cannot be.
PEER_PARAMETERS = ("GlobalDatastoreId", "PrimaryDbArn", "PrimaryHealthCheckId")


def stack_values(factory: Any, region: str, stack: str) -> dict[str, str]:
    """A stack's outputs, plus the parameters in ``PEER_PARAMETERS`` that no output of the same name
    shadows (the DR stack is given the primary's ids as parameters: they stay readable when the
    primary region is not)."""
    try:
        resp = factory.client("cloudformation", region).describe_stacks(StackName=stack)
    except (ClientError, BotoCoreError) as e:
        raise StackError(
            region,
            stack,
            f"cannot read the stack ({e})",
            "check the region answers and the stack is deployed (streamflix-dr status)",
        ) from e
    stacks = resp.get("Stacks") or []
    if not stacks:
        raise StackError(region, stack, "does not exist", "deploy it first (streamflix-dr deploy)")
    values = {
        p["ParameterKey"]: p.get("ParameterValue", "")
        for p in stacks[0].get("Parameters") or []
        if p.get("ParameterKey") in PEER_PARAMETERS and p.get("ParameterValue")
    }
    values.update({o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs") or []})
    return values


def stack_outputs(factory: Any, region: str, stack: str) -> dict[str, str]:
    """A stack's outputs as a dict. Raises ``StackError`` if the stack cannot be read."""
    try:
        resp = factory.client("cloudformation", region).describe_stacks(StackName=stack)
    except (ClientError, BotoCoreError) as e:
        raise StackError(
            region,
            stack,
            f"cannot read the stack ({e})",
            "check the region answers and the stack is deployed (streamflix-dr status)",
        ) from e
    stacks = resp.get("Stacks") or []
    if not stacks:
        raise StackError(region, stack, "does not exist", "deploy it first (streamflix-dr deploy)")
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs") or []}
