"""RDS behaviours a failback needs that moto 5.2.5 gets wrong, each traced to AWS's documentation.

* ``ModifyDBInstance(NewDBInstanceIdentifier=...)`` — renaming. AWS (RDS UG "Renaming a DB instance",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html): "the endpoint for the
  DB instance changes"; "The renamed DB instance is not available until the new name becomes effective"
  (status ``renaming`` until then); "You cannot use an existing DB instance name when renaming an
  instance"; "All read replicas associated with a DB instance remain associated with that instance after
  it is renamed"; tags stay. The API reference: the rename happens "immediately if you enable
  ApplyImmediately, or ... during the next maintenance window"; "This value is stored as a lowercase
  string"; 1-63 letters, digits or hyphens, first a letter, no trailing hyphen or two consecutive hyphens
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html).
  moto renamed at once, kept ``available``, accepted an existing name (itself included) and left the
  replicas pointing at the old identifier (so replication followed whatever took the name next).
  Deferred renames (no ApplyImmediately) are not modelled: refused loudly instead of done early.
* ``CreateDBInstanceReadReplica`` — "Your source DB instance or cluster must have backup retention
  enabled" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html);
  AWS answers InvalidDBInstanceState "Automated backups are not enabled for this database instance. To
  enable automated backups, use ModifyDBInstance to set the backup retention period to a non-zero value."
  (the text fog/fog-aws tests/requests/rds/instance_tests.rb and Terraform users quote from AWS). A
  source that is not ``available`` (renaming, creating...) is refused with InvalidDBInstanceState. The
  new identifier must be free in the destination region (DBInstanceAlreadyExists: moto overwrote the
  existing instance). "All read replica DB instances are created with backups disabled" (same page):
  moto copied the source's retention. moto's shallow copy also shared the source's replica list.

CloudFormation keeps a physical id as a string: a stack whose ``DBInstanceIdentifier`` is X refers to
whatever instance is named X. moto's stacks hold the model object, so after a rename the stack followed
the renamed instance (``DescribeStackResources`` showed ``X-old-...``, a delete would have deleted it). On a
rename the stacks that hold the instance are remembered by name; the next instance created under that name
in that region becomes theirs again (between the two, the stack still points at the renamed object: AWS
would find no instance by that name).

ElastiCache:

* ``DeleteReplicationGroup`` — "ElastiCache immediately begins deleting the selected resources"
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteReplicationGroup.html): the
  group reads ``deleting`` and then is gone (ReplicationGroupNotFoundFault), its id free again. moto kept it
  ``deleting`` forever, so a member the failback must re-create under its template id never could be
  ("We don't support adding an existing cluster as secondary", ElastiCache UG, Global Datastore
  prerequisites: a disassociated member is deleted and created again).

Replication progress is observable without any emulator-specific request:

* AWS replicates continuously, whoever looks. The control plane's replication state (the syncs of EFS
  replications without engine directories, the ``AWS/RDS ReplicaLag`` and ``AWS/EFS TimeSinceLastSync``
  datapoints; ``dataplane.pump``) catches up with the emulated clock lazily, so a failback that only
  reads ``LastReplicatedTimestamp`` (``DescribeReplicationConfigurations``) and ``ReplicaLag`` after
  fencing the writers saw no progress at all and refused to promote. ``DescribeReplicationConfigurations``
  and ``GetMetricStatistics`` now catch it up first. Not while an in-process ``mock_aws`` context is
  active: moto's backends are shared with such unit tests, which would get datapoints they never asked for.

The emulator's rename takes ``RENAME_SECONDS`` of emulated time (AWS: "about 10 minutes" for the DNS name)
and a replication group's deletion ``DELETE_SECONDS``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

RENAME_SECONDS = 1.0
DELETE_SECONDS = 1.0
_DELETED_AT = "_streamflix_deleted_at"
_RENAMING_UNTIL = "_streamflix_renaming_until"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

BACKUPS_NOT_ENABLED = (
    "Automated backups are not enabled for this database instance. To enable automated backups, use "
    "ModifyDBInstance to set the backup retention period to a non-zero value."
)


def _error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError  # noqa: PLC0415

    return RDSClientError(code, message)


def _refresh(db: Any) -> None:
    """Finish a rename whose time has come (statuses are evaluated lazily, on read)."""
    until = getattr(db, _RENAMING_UNTIL, None)
    if until is not None and regional_state.now() >= until:
        db.status = "available"
        delattr(db, _RENAMING_UNTIL)


def is_renaming(db: Any) -> bool:
    _refresh(db)
    return getattr(db, _RENAMING_UNTIL, None) is not None


def _validate_identifier(value: str) -> str:
    new = value.lower()
    if not (1 <= len(new) <= 63) or not _IDENTIFIER.match(new):
        raise _error(
            "InvalidParameterValue",
            f"The parameter NewDBInstanceIdentifier {value!r} is not a valid identifier. Identifiers must "
            "begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end "
            "with a hyphen or contain two consecutive hyphens.",
        )
    return new


# (account, region, identifier) -> [(stack, logical id)] of stacks that named an instance renamed away.
_named_by_stacks: dict[tuple[str, str, str], list[tuple[Any, str]]] = {}


def _remember_stacks(account: str, region: str, db: Any, old_id: str) -> None:
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415

    refs: list[tuple[Any, str]] = []
    for stack in list(cloudformation_backends[account][region].stacks.values()):
        parsed = getattr(getattr(stack, "resource_map", None), "_parsed_resources", {})
        refs.extend((stack, logical) for logical, obj in list(parsed.items()) if obj is db)
    if refs:
        _named_by_stacks[(account, region, old_id)] = refs


def _hand_name_back(account: str, region: str, db: Any) -> None:
    for stack, logical in _named_by_stacks.pop((account, region, db.db_instance_identifier), []):
        db.logical_resource_id = logical  # what moto's parser sets on the objects it creates
        stack.resource_map._parsed_resources[logical] = db


def _relink(backend: Any, db: Any, old_arn: str, old_id: str) -> None:
    """After a rename, replicas and sources refer to the instance by its new ARN/identifier."""
    from moto.rds.models import rds_backends  # noqa: PLC0415

    new_arn, new_id = db.db_instance_arn, db.db_instance_identifier
    for region_backend in rds_backends[backend.account_id].values():
        for other in list(region_backend.databases.values()):
            if other is db:
                continue
            src = getattr(other, "source_db_instance_identifier", None)
            if src == old_arn:
                other.source_db_instance_identifier = new_arn
            elif src == old_id and region_backend is backend:
                other.source_db_instance_identifier = new_id
            reps = getattr(other, "replicas", None)
            if isinstance(reps, list):
                other.replicas = [new_arn if r == old_arn else new_id if r == old_id else r for r in reps]


def _purge_deleted(backend: Any) -> None:
    """Drop replication groups whose deletion has finished."""
    now = regional_state.now()
    for rg_id, rg in list(backend.replication_groups.items()):
        at = getattr(rg, _DELETED_AT, None)
        if at is not None and now >= at + DELETE_SECONDS:
            del backend.replication_groups[rg_id]
            for cluster_id in list(getattr(rg, "member_clusters", []) or []):
                backend.cache_clusters.pop(cluster_id, None)


def _install_elasticache() -> None:
    from moto.elasticache.models import ElastiCacheBackend  # noqa: PLC0415

    original_delete = ElastiCacheBackend.delete_replication_group
    original_describe = ElastiCacheBackend.describe_replication_groups
    original_create = ElastiCacheBackend.create_replication_group

    # AWS API: elasticache DeleteReplicationGroup (deleting, then gone).
    def delete_replication_group(self: Any, replication_group_id: str, *args: Any, **kwargs: Any) -> Any:
        _purge_deleted(self)
        rg = original_delete(self, replication_group_id, *args, **kwargs)
        if getattr(rg, _DELETED_AT, None) is None:
            setattr(rg, _DELETED_AT, regional_state.now())
        return rg

    def describe_replication_groups(self: Any, *args: Any, **kwargs: Any) -> Any:
        _purge_deleted(self)
        return original_describe(self, *args, **kwargs)

    def create_replication_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        _purge_deleted(self)
        return original_create(self, *args, **kwargs)

    patch_attr(ElastiCacheBackend, "delete_replication_group", delete_replication_group)
    patch_attr(ElastiCacheBackend, "describe_replication_groups", describe_replication_groups)
    patch_attr(ElastiCacheBackend, "create_replication_group", create_replication_group)


def _pump_unless_mocked() -> None:
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    from streamflix_dr_emulator import dataplane  # noqa: PLC0415 - dataplane imports the replication modules

    if not botocore_stubber.enabled:  # enabled only inside a mock_aws context (in-process unit tests)
        dataplane.pump()


def _install_pump_on_read() -> None:
    from moto.cloudwatch.models import CloudWatchBackend  # noqa: PLC0415

    from streamflix_dr_emulator import efs_replication  # noqa: PLC0415 - installed before us

    original_describe = efs_replication.describe_replications
    original_statistics = CloudWatchBackend.get_metric_statistics

    # AWS API: elasticfilesystem DescribeReplicationConfigurations (LastReplicatedTimestamp reflects time).
    def describe_replications(*args: Any, **kwargs: Any) -> Any:
        _pump_unless_mocked()
        return original_describe(*args, **kwargs)

    # AWS API: monitoring GetMetricStatistics (ReplicaLag / TimeSinceLastSync reflect time).
    def get_metric_statistics(self: Any, *args: Any, **kwargs: Any) -> Any:
        _pump_unless_mocked()
        return original_statistics(self, *args, **kwargs)

    patch_attr(efs_replication, "describe_replications", describe_replications)
    patch_attr(CloudWatchBackend, "get_metric_statistics", get_metric_statistics)


_installed = False


def install() -> None:
    """Patch moto's RDS backend (rename, replica preconditions) and ElastiCache's group deletion."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    _install_elasticache()
    _install_pump_on_read()
    from moto.rds.exceptions import DBInstanceAlreadyExists, DBInstanceNotFoundError  # noqa: PLC0415
    from moto.rds.models import RDSBackend  # noqa: PLC0415

    original_modify = RDSBackend.modify_db_instance
    original_describe = RDSBackend.describe_db_instances
    original_replica = RDSBackend.create_db_instance_read_replica

    # AWS API: rds DescribeDBInstances — a rename's status (renaming -> available) read lazily.
    def describe_db_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = original_describe(self, *args, **kwargs)
        for db in found:
            _refresh(db)
        return found

    # AWS API: rds ModifyDBInstance, NewDBInstanceIdentifier —
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        db = self.databases.get(db_instance_identifier)
        if db is None:
            raise DBInstanceNotFoundError(db_instance_identifier)
        if is_renaming(db):
            raise _error(
                "InvalidDBInstanceState",
                f"DB instance {db_instance_identifier} is renaming; it cannot be modified until it is "
                "available.",
            )
        new = db_kwargs.get("new_db_instance_identifier")
        if not new:
            return original_modify(self, db_instance_identifier, db_kwargs)
        new = _validate_identifier(str(new))
        if new in self.databases:
            raise DBInstanceAlreadyExists()
        if not db_kwargs.get("apply_immediately"):
            raise _error(
                "InvalidParameterCombination",
                "The emulator does not model a rename deferred to the maintenance window (AWS would rename "
                f"{db_instance_identifier} then); pass ApplyImmediately=true.",
            )
        with regional_state.LOCK:
            old_arn, old_id = db.db_instance_arn, db.db_instance_identifier
            _remember_stacks(self.account_id, self.region_name, db, old_id)
            db_kwargs = dict(db_kwargs, new_db_instance_identifier=new)
            renamed = original_modify(self, db_instance_identifier, db_kwargs)
            _relink(self, renamed, old_arn, old_id)
            renamed.status = "renaming"
            setattr(renamed, _RENAMING_UNTIL, regional_state.now() + RENAME_SECONDS)
        log.info("RDS %s/%s renamed to %s", self.region_name, old_id, new)
        return renamed

    # AWS API: rds CreateDBInstanceReadReplica —
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
    def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        db_id = str(db_kwargs.get("db_instance_identifier") or "")
        if db_id in self.databases:
            raise DBInstanceAlreadyExists()
        source_ref = str(db_kwargs.get("source_db_instance_identifier") or "")
        source = self.find_db_from_id(source_ref)  # DBInstanceNotFound when absent
        if is_renaming(source) or source.status != "available":
            raise _error(
                "InvalidDBInstanceState",
                f"Instance {source.db_instance_identifier} is not in available state ({source.status}).",
            )
        if not int(source.backup_retention_period or 0):
            raise _error("InvalidDBInstanceState", BACKUPS_NOT_ENABLED)
        with regional_state.LOCK:
            replica = original_replica(self, db_kwargs)
            # moto copies the source object shallowly: give the replica its own replica list. Backups are
            # off unless asked for (the API has no such parameter; CloudFormation's handler applies the
            # template's BackupRetentionPeriod right after create, in shouldUpdateAfterCreate).
            replica.replicas = []
            if db_kwargs.get("backup_retention_period") is None:
                replica.backup_retention_period = 0
            _hand_name_back(self.account_id, self.region_name, replica)
        return replica

    patch_attr(RDSBackend, "describe_db_instances", describe_db_instances)
    patch_attr(RDSBackend, "modify_db_instance", modify_db_instance)
    patch_attr(RDSBackend, "create_db_instance_read_replica", create_db_instance_read_replica)
    _installed = True
