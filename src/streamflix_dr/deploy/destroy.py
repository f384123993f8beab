"""Tear both regions down in the safe order (aws-notes §10 "Teardown"). Idempotent: gone is fine.

1. EFS replication removed: a primary update with ``DrFileSystemId=''`` (the template drops its
   ReplicationConfiguration), then DeleteReplicationConfiguration directly if one is still there
   (primary stack gone or failed). A file system in a replication configuration cannot be deleted.
2. The Redis secondary disassociated from the Global Datastore (DeleteGlobalReplicationGroup and
   the DR replication group's deletion both refuse while it is a member).
3. Backup vaults emptied (DeleteBackupVault refuses a vault with recovery points), secret replicas
   removed (DeleteSecret refuses a primary secret that still has replicas). Stack-owned buckets are
   emptied by the template's own Custom::EmptyBucket on delete.
4. The DR stack deleted, 5. then the primary stack, 6. then the artifact buckets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.aws.status import StackState
from streamflix_dr.config import Environment
from streamflix_dr.constants import Output, Param, Role, stack_name
from streamflix_dr.deploy.artifacts import ArtifactBucket
from streamflix_dr.deploy.orchestrator import MINUTE, Timeouts, account_id, artifact_buckets
from streamflix_dr.deploy.stacks import Stack, StackEvent, outputs_of, parameters_of
from streamflix_dr.errors import AbortedByUser, AwsError, StackError, StackTimeoutError

log = logging.getLogger(__name__)

NO_ECHO = "****"
_GONE_CODES = {
    "ReplicationNotFound",
    "FileSystemNotFound",
    "GlobalReplicationGroupNotFoundFault",
    "ReplicationGroupNotFoundFault",
    "ResourceNotFoundException",
    "AccessDeniedException_NotFound",
}


@dataclass(frozen=True)
class DestroyStep:
    """One teardown step and what it found/did."""

    step: str
    region: str
    action: str  # done | already-gone | skipped
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"step": self.step, "region": self.region, "action": self.action, "detail": self.detail}


@dataclass(frozen=True)
class DestroyPlan:
    """What exists and will be removed; shown to the operator before anything happens."""

    env: str
    stacks: tuple[tuple[str, str, str], ...]  # (region, stack, status)
    buckets: tuple[tuple[str, str], ...]  # (region, bucket)

    @property
    def empty(self) -> bool:
        return not self.stacks and not self.buckets

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "stacks": [{"region": r, "stack": s, "status": st} for r, s, st in self.stacks],
            "buckets": [{"region": r, "bucket": b} for r, b in self.buckets],
        }


@dataclass(frozen=True)
class DestroyResult:
    """The teardown report."""

    env: str
    steps: tuple[DestroyStep, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "seconds": round(self.seconds, 3),
            "steps": [s.to_dict() for s in self.steps],
        }


def destroy(
    env: Environment,
    factory: ClientFactory,
    *,
    confirm: Callable[[DestroyPlan], bool],
    on_event: Callable[[StackEvent], None] = lambda _e: None,
    timeouts: Timeouts | None = None,
) -> DestroyResult:
    """Remove both regions' stacks and everything that would block their deletion.

    Args:
        env: the validated environment.
        factory: where AWS calls go.
        confirm: asked once with what exists; False raises ``AbortedByUser`` before anything changes.
            Not asked when nothing exists.
        on_event: receives stack events while stacks update and delete.
        timeouts: bounds and polling clock.

    Raises:
        StackError: a stack could not be updated or deleted (failed resources named).
        StackTimeoutError: an operation exceeded its bound.
        AbortedByUser: ``confirm`` returned False.
    """
    t = timeouts or Timeouts()
    started = t.timing.clock()
    stacks = {
        role: Stack(
            factory.client("cloudformation", env.region_of(role).region),
            env.region_of(role).region,
            stack_name(role, env.suffix),
            t.timing,
        )
        for role in (Role.PRIMARY, Role.DR)
    }
    descs = {role: s.describe() for role, s in stacks.items()}
    buckets = artifact_buckets(env, factory, account_id(factory, env.primary_region))
    existing_buckets = {role: b for role, b in buckets.items() if b.exists()}
    plan = DestroyPlan(
        env=env.name,
        stacks=tuple((stacks[r].region, stacks[r].name, d["StackStatus"]) for r, d in descs.items() if d),
        buckets=tuple((b.region, b.name) for b in existing_buckets.values()),
    )
    steps: list[DestroyStep] = []
    if plan.empty:
        return DestroyResult(
            env.name,
            (DestroyStep("everything", "-", "already-gone", "no stacks and no artifact buckets"),),
            0.0,
        )
    if not confirm(plan):
        raise AbortedByUser(f"destroy of {env.name} declined; nothing was changed.", fix="rerun and confirm")

    outputs = {role: outputs_of(d) for role, d in descs.items()}
    steps.extend(
        _remove_efs_replication(env, factory, stacks[Role.PRIMARY], outputs=outputs, on_event=on_event, t=t)
    )
    steps.append(_disassociate_redis(env, factory, stacks, outputs, t))
    for role in (Role.PRIMARY, Role.DR):
        steps.append(
            _empty_vault(factory, env.region_of(role).region, outputs[role].get(Output.BACKUP_VAULT_NAME))
        )
    steps.append(_remove_secret_replicas(env, factory, outputs[Role.PRIMARY]))
    for role in (Role.DR, Role.PRIMARY):
        s = stacks[role]
        gone = not s.delete(timeout_s=t.delete_minutes * MINUTE, on_event=on_event)
        steps.append(
            DestroyStep(f"delete {role.value} stack", s.region, "already-gone" if gone else "done", s.name)
        )
    steps.append(_remove_standalone_secrets(env, factory, outputs))
    steps.append(_remove_function_log_groups(env, factory))
    for b in buckets.values():
        steps.append(_remove_bucket(b))
    return DestroyResult(env.name, tuple(steps), t.timing.clock() - started)


def _remove_standalone_secrets(
    env: Environment, factory: ClientFactory, outputs: dict[Role, dict[str, str]]
) -> DestroyStep:
    """Secrets no stack owns any more: a failover's StopReplicationToReplica made the DR replicas standalone
    secrets in the DR region, and a later deploy would fail on their names. Deleted without a recovery
    window (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html)."""
    names = {
        n
        for role in (Role.PRIMARY, Role.DR)
        for key in (Output.DB_SECRET_NAME, Output.REDIS_AUTH_SECRET_NAME)
        if (n := outputs[role].get(key))
    }
    removed: list[str] = []
    for region in (env.dr_region, env.primary_region):
        sm = factory.client("secretsmanager", region)
        for name in sorted(names):
            try:
                desc = sm.describe_secret(SecretId=name)
                if desc.get("DeletedDate"):
                    continue
                if desc.get("ReplicationStatus"):
                    sm.remove_regions_from_replication(
                        SecretId=name, RemoveReplicaRegions=[r["Region"] for r in desc["ReplicationStatus"]]
                    )
                sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
                removed.append(f"{region}:{name}")
            except ClientError as e:
                if _code(e) in _GONE_CODES or _code(e) == "InvalidRequestException":
                    continue
                raise AwsError(
                    f"{region}: could not delete secret {name}: {e}.",
                    fix=f"delete it with `aws secretsmanager delete-secret --secret-id {name} "
                    f"--force-delete-without-recovery --region {region}`, then rerun destroy",
                ) from e
    return DestroyStep(
        "standalone secrets deleted",
        env.dr_region,
        "done" if removed else "already-gone",
        ", ".join(removed) or "none left",
    )


def _remove_function_log_groups(env: Environment, factory: ClientFactory) -> DestroyStep:
    """Lambda creates /aws/lambda/<function> itself on the first invocation: no stack owns it."""
    removed: list[str] = []
    for region in (env.primary_region, env.dr_region):
        logs = factory.client("logs", region)
        try:
            groups = pages_raw(logs, "describe_log_groups", "logGroups", logGroupNamePrefix="/aws/lambda/")
            for g in groups:
                name = str(g.get("logGroupName", ""))
                if carries_suffix(name, env.suffix):
                    logs.delete_log_group(logGroupName=name)
                    removed.append(f"{region}:{name}")
        except ClientError as e:
            if _code(e) not in _GONE_CODES:
                raise AwsError(
                    f"{region}: could not delete Lambda log groups: {e}.",
                    fix="check logs:DescribeLogGroups/DeleteLogGroup, then rerun destroy",
                ) from e
    return DestroyStep(
        "function log groups deleted",
        env.dr_region,
        "done" if removed else "already-gone",
        ", ".join(removed),
    )


_TOKEN = re.compile(r"[-_/.:]")


def carries_suffix(name: str, suffix: str) -> bool:
    """``name`` contains ``suffix`` as a whole token (so suffix ``dev`` does not match ``devx``)."""
    return suffix in _TOKEN.split(name)


def leftovers(env: Environment, factory: ClientFactory) -> tuple[list[str], list[str]]:
    """What still carries the environment's suffix in either region, and what could not be listed.

    Lists stacks, secrets, file systems, caches, Global Datastores, buckets, backup vaults, log groups,
    tables (and SSM parameters other than the environment lock)."""
    found: list[str] = []
    unchecked: list[str] = []
    sfx = env.suffix

    def pages(client: Any, op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
        return pages_raw(client, op, key, **kw)

    live = [st for st in _STACK_STATUSES if st != "DELETE_COMPLETE"]

    def stacks(f: Any) -> list[str]:
        items = pages(f.cloudformation, "list_stacks", "StackSummaries", StackStatusFilter=live)
        return [str(x.get("StackName", "")) for x in items]

    def secrets(f: Any) -> list[str]:
        return [str(x.get("Name", "")) for x in pages(f.secretsmanager, "list_secrets", "SecretList")]

    def file_systems(f: Any) -> list[str]:
        items = pages(f.efs, "describe_file_systems", "FileSystems")
        return [str(x.get(k) or "") for x in items for k in ("Name", "CreationToken")]

    def caches(f: Any) -> list[str]:
        items = pages(f.elasticache, "describe_replication_groups", "ReplicationGroups")
        return [str(x.get("ReplicationGroupId", "")) for x in items]

    def datastores(f: Any) -> list[str]:
        items = f.elasticache.describe_global_replication_groups().get("GlobalReplicationGroups", [])
        return [str(x.get("GlobalReplicationGroupId", "")) for x in items]

    def vaults(f: Any) -> list[str]:
        return [
            str(x.get("BackupVaultName", ""))
            for x in pages(f.backup, "list_backup_vaults", "BackupVaultList")
        ]

    def log_groups(f: Any) -> list[str]:
        return [str(x.get("logGroupName", "")) for x in pages(f.logs, "describe_log_groups", "logGroups")]

    def tables(f: Any) -> list[str]:
        return [str(n) for n in f.dynamodb.list_tables().get("TableNames", [])]

    def databases(f: Any) -> list[str]:
        items = pages(f.rds, "describe_db_instances", "DBInstances")
        return [str(x.get("DBInstanceIdentifier", "")) for x in items]

    listers: dict[str, Callable[[Any], list[str]]] = {
        "stack": stacks,
        "secret": secrets,
        "file system": file_systems,
        "cache": caches,
        "global datastore": datastores,
        "backup vault": vaults,
        "log group": log_groups,
        "table": tables,
        "db instance": databases,
    }
    for region in (env.primary_region, env.dr_region):
        rc = factory.region(region)
        for what, fn in listers.items():
            try:
                found.extend(f"{region} {what} {n}" for n in fn(rc) if carries_suffix(n, sfx))
            except Exception as e:
                unchecked.append(f"{region} {what} ({e.__class__.__name__}: {str(e)[:100]})")
    try:
        buckets = factory.client("s3", env.primary_region).list_buckets().get("Buckets", [])
        found.extend(
            f"global bucket {b['Name']}" for b in buckets if carries_suffix(str(b.get("Name", "")), sfx)
        )
    except Exception as e:  # reported as "not checked", never as "nothing left"
        unchecked.append(f"buckets ({e.__class__.__name__})")
    return found, unchecked


def pages_raw(client: Any, op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(op).paginate(**kw):
        out.extend(page.get(key, []))
    return out


_STACK_STATUSES = (
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "DELETE_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
)


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _remove_efs_replication(
    env: Environment,
    factory: ClientFactory,
    primary: Stack,
    *,
    outputs: dict[Role, dict[str, str]],
    on_event: Callable[[StackEvent], None],
    t: Timeouts,
) -> list[DestroyStep]:
    steps: list[DestroyStep] = []
    state, desc = primary.state()
    params = parameters_of(desc)
    if state is StackState.STABLE and params.get(Param.DR_FILE_SYSTEM_ID):
        # Current values are sent back as they are; only NoEcho ones ("****") need UsePreviousValue.
        values = {k: v for k, v in params.items() if v != NO_ECHO}
        values[Param.DR_FILE_SYSTEM_ID] = ""
        cs = primary.create_change_set(
            change_type="UPDATE",
            parameters=values,
            use_previous=tuple(k for k, v in params.items() if v == NO_ECHO),
            tags={tag["Key"]: tag["Value"] for tag in (desc or {}).get("Tags", [])},
            use_previous_template=True,
        )
        if cs is not None:
            primary.execute(cs, timeout_s=t.stack_minutes * MINUTE, on_event=on_event)
        steps.append(
            DestroyStep(
                "primary update DrFileSystemId=''",
                primary.region,
                "done",
                "the template no longer declares the replication",
            )
        )
    else:
        steps.append(
            DestroyStep(
                "primary update DrFileSystemId=''",
                primary.region,
                "skipped",
                f"primary stack {state.value}" if desc else "no primary stack",
            )
        )
    # Whatever the stack did, make sure no configuration is left (either end can be named).
    candidates = [
        fs
        for fs in (
            outputs[Role.PRIMARY].get(Output.FILE_SYSTEM_ID),
            outputs[Role.DR].get(Output.FILE_SYSTEM_ID),
        )
        if fs
    ]
    removed: list[str] = []
    for fs in candidates:
        for region in (env.primary_region, env.dr_region):
            client = factory.client("efs", region)
            try:
                configs = client.describe_replication_configurations(FileSystemId=fs).get("Replications", [])
            except ClientError as e:
                if _code(e) in _GONE_CODES:
                    continue
                raise AwsError(
                    f"{region}: could not read EFS replication of {fs}: {e}.",
                    fix="check elasticfilesystem:DescribeReplicationConfigurations, then rerun",
                ) from e
            for cfg in configs:
                source = cfg["SourceFileSystemId"]
                src_region = cfg.get("SourceFileSystemRegion", env.primary_region)
                try:
                    factory.client("efs", src_region).delete_replication_configuration(
                        SourceFileSystemId=source
                    )
                    removed.append(source)
                except ClientError as e:
                    if _code(e) not in _GONE_CODES:
                        raise AwsError(
                            f"{src_region}: could not delete the EFS replication of {source}: {e}.",
                            fix="delete it in the EFS console, then rerun destroy",
                        ) from e
            _wait_no_replication(client, fs, region, t)
    steps.append(
        DestroyStep(
            "EFS replication configuration",
            env.primary_region,
            "done" if removed else "already-gone",
            f"deleted for {', '.join(sorted(set(removed)))}" if removed else "none left",
        )
    )
    return steps


def _wait_no_replication(client: Any, fs: str, region: str, t: Timeouts) -> None:
    deadline = t.timing.clock() + 30 * MINUTE
    while True:
        try:
            reps = client.describe_replication_configurations(FileSystemId=fs).get("Replications", [])
        except ClientError as e:
            if _code(e) in _GONE_CODES:
                return
            raise
        if not reps:
            return
        if t.timing.clock() >= deadline:
            raise StackTimeoutError(
                region,
                fs,
                "the EFS replication configuration is still being deleted",
                "wait a few minutes, then run destroy again",
            )
        t.timing.sleep(t.timing.poll_interval)


def _disassociate_redis(
    env: Environment,
    factory: ClientFactory,
    stacks: dict[Role, Stack],
    outputs: dict[Role, dict[str, str]],
    t: Timeouts,
) -> DestroyStep:
    gds = (
        outputs[Role.PRIMARY].get(Output.GLOBAL_DATASTORE_ID)
        or outputs[Role.DR].get(Output.GLOBAL_DATASTORE_ID)
        or parameters_of(stacks[Role.DR].describe()).get(Param.GLOBAL_DATASTORE_ID)
    )
    if not gds:
        return DestroyStep("Redis secondary disassociated", env.dr_region, "skipped", "no Global Datastore")
    ec = factory.client("elasticache", env.primary_region)
    done: list[str] = []
    deadline = t.timing.clock() + 60 * MINUTE
    while True:
        try:
            groups = ec.describe_global_replication_groups(GlobalReplicationGroupId=gds, ShowMemberInfo=True)[
                "GlobalReplicationGroups"
            ]
        except ClientError as e:
            if _code(e) in _GONE_CODES:
                return DestroyStep(
                    "Redis secondary disassociated", env.dr_region, "done" if done else "already-gone", gds
                )
            raise AwsError(
                f"{env.primary_region}: could not read Global Datastore {gds}: {e}.",
                fix="check elasticache:DescribeGlobalReplicationGroups, then rerun destroy",
            ) from e
        secondaries = [
            m for g in groups for m in g.get("Members", []) if m.get("Role", "").upper() == "SECONDARY"
        ]
        primary_member = next(
            (m for g in groups for m in g.get("Members", []) if m.get("Role", "").upper() == "PRIMARY"), None
        )
        home = [m for m in secondaries if m.get("ReplicationGroupRegion") == env.primary_region]
        busy = any(str(g.get("Status", "available")).lower() != "available" for g in groups)
        if primary_member and primary_member.get("ReplicationGroupRegion") == env.dr_region and home:
            # After a failover the DR group is the datastore's PRIMARY, and the primary stack (which owns
            # the datastore) still holds the old primary as a SECONDARY. Fail the datastore back to it, so
            # that each stack can delete what it owns in the usual order.
            # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html
            if not busy and "failed back" not in done:
                try:
                    ec.failover_global_replication_group(
                        GlobalReplicationGroupId=gds,
                        PrimaryRegion=env.primary_region,
                        PrimaryReplicationGroupId=home[0]["ReplicationGroupId"],
                    )
                    done.append("failed back")
                except ClientError as e:
                    if _code(e) not in ("InvalidGlobalReplicationGroupStateFault",):
                        raise AwsError(
                            f"{env.primary_region}: could not fail Global Datastore {gds} back to "
                            f"{home[0]['ReplicationGroupId']}: {e}.",
                            fix="wait until the datastore is available, then rerun destroy",
                        ) from e
            if t.timing.clock() >= deadline:
                raise StackError(
                    env.primary_region,
                    gds,
                    "the Global Datastore is still failing back",
                    "wait, then rerun destroy",
                )
            t.timing.sleep(t.timing.poll_interval)
            continue
        if (
            not secondaries
            and primary_member
            and primary_member.get("ReplicationGroupRegion") == env.dr_region
        ):
            # After a failover the DR group is the datastore's PRIMARY: the DR stack cannot delete it while
            # it is a member, and the primary stack's datastore resource goes after the DR stack. With no
            # secondary left, delete the datastore and keep the DR group, which its stack then deletes.
            # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteGlobalReplicationGroup.html
            try:
                ec.delete_global_replication_group(
                    GlobalReplicationGroupId=gds, RetainPrimaryReplicationGroup=True
                )
                done.append(f"datastore deleted, {primary_member['ReplicationGroupId']} kept for its stack")
            except ClientError as e:
                if _code(e) not in _GONE_CODES and _code(e) != "InvalidGlobalReplicationGroupStateFault":
                    raise AwsError(
                        f"{env.dr_region}: could not delete Global Datastore {gds}: {e}.",
                        fix="wait until it is available, then rerun destroy",
                    ) from e
            if t.timing.clock() >= deadline:
                raise StackError(
                    env.dr_region,
                    gds,
                    "the Global Datastore is still being deleted",
                    "wait, then rerun destroy",
                )
            t.timing.sleep(t.timing.poll_interval)
            continue
        if not secondaries:
            return DestroyStep(
                "Redis secondary disassociated",
                env.dr_region,
                "done" if done else "already-gone",
                f"{gds}: {', '.join(done) or 'no secondary member'}",
            )
        for m in secondaries:
            if m.get("Status", "").lower() in ("disassociating",) or m["ReplicationGroupId"] in done:
                continue
            try:
                ec.disassociate_global_replication_group(
                    GlobalReplicationGroupId=gds,
                    ReplicationGroupId=m["ReplicationGroupId"],
                    ReplicationGroupRegion=m["ReplicationGroupRegion"],
                )
                done.append(m["ReplicationGroupId"])
            except ClientError as e:
                if _code(e) not in _GONE_CODES:
                    raise AwsError(
                        f"{env.primary_region}: could not disassociate {m['ReplicationGroupId']} "
                        f"from {gds}: {e}.",
                        fix="wait until the datastore is available, rerun",
                    ) from e
        if t.timing.clock() >= deadline:
            raise StackError(
                env.primary_region,
                gds,
                "the Redis secondary is still disassociating",
                "wait, then run destroy again",
            )
        t.timing.sleep(t.timing.poll_interval)


def _empty_vault(factory: ClientFactory, region: str, vault: str | None) -> DestroyStep:
    if not vault:
        return DestroyStep("backup vault emptied", region, "skipped", "no vault output")
    backup = factory.client("backup", region)
    deleted = 0
    try:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"BackupVaultName": vault}
            if token:
                kwargs["NextToken"] = token
            page = backup.list_recovery_points_by_backup_vault(**kwargs)
            for rp in page.get("RecoveryPoints", []):
                backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=rp["RecoveryPointArn"])
                deleted += 1
            token = page.get("NextToken")
            if not token:
                break
    except ClientError as e:
        if _code(e) in _GONE_CODES:
            return DestroyStep("backup vault emptied", region, "already-gone", vault)
        raise AwsError(
            f"{region}: could not empty backup vault {vault}: {e}.",
            fix="check backup:ListRecoveryPointsByBackupVault/DeleteRecoveryPoint, rerun",
        ) from e
    return DestroyStep("backup vault emptied", region, "done", f"{vault}: {deleted} recovery points deleted")


def _remove_secret_replicas(
    env: Environment, factory: ClientFactory, primary_outputs: dict[str, str]
) -> DestroyStep:
    sm = factory.client("secretsmanager", env.primary_region)
    removed: list[str] = []
    for key in (Output.DB_SECRET_NAME, Output.REDIS_AUTH_SECRET_NAME):
        name = primary_outputs.get(key)
        if not name:
            continue
        try:
            desc = sm.describe_secret(SecretId=name)
            regions = [r["Region"] for r in desc.get("ReplicationStatus", []) or []]
            if regions:
                sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=regions)
                removed.append(name)
        except ClientError as e:
            if _code(e) in _GONE_CODES:
                continue
            raise AwsError(
                f"{env.primary_region}: could not remove the replicas of secret {name}: {e}.",
                fix="remove them in the Secrets Manager console, then rerun destroy",
            ) from e
    return DestroyStep(
        "secret replicas removed",
        env.primary_region,
        "done" if removed else "already-gone",
        ", ".join(removed) or "none",
    )


def _remove_bucket(bucket: ArtifactBucket) -> DestroyStep:
    gone = not bucket.remove()
    return DestroyStep(
        "artifact bucket removed", bucket.region, "already-gone" if gone else "done", bucket.name
    )
