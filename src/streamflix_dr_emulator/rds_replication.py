"""RDS read-replica promotion as AWS runs it, replica backups, and the ``AWS/RDS ReplicaLag`` metric.

* ``CreateDBInstanceReadReplica`` has no BackupRetentionPeriod: a new read replica has automated backups
  off (0). moto copied its source's retention. CloudFormation's AWS::RDS::DBInstance handler applies
  ``BackupRetentionPeriod`` to a replica with ModifyDBInstance after the create
  (aws-cloudformation/aws-cloudformation-resource-providers-rds, aws-rds-dbinstance
  ``BaseHandlerStd``/``CreateHandler``: a read replica is created, then "updated" with the properties
  CreateDBInstanceReadReplica does not take), so a template's value arrives, as an instance that has
  backed up once (the handler waits until the instance is available again).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
* ``PromoteReadReplica`` (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html):
  "Backup duration is a function of the amount of changes to the database since the previous backup. If
  you plan to promote a read replica to a standalone instance, we recommend that you enable backups and
  complete at least one backup prior to promotion. In addition, a read replica cannot be promoted to a
  standalone instance when it is in the backing-up status." ``BackupRetentionPeriod``: "Setting this
  parameter to a positive number enables backups ... Default: 1 ... Must be a value from 0 to 35". The
  RDS User Guide ("Promoting a read replica to be a standalone DB instance",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html): "When you promote
  a read replica, ... replication is stopped and the read replica is rebooted. When the reboot is complete,
  the read replica is available as a new DB instance". Modelled over the emulated clock
  (:mod:`regional_state`): ``modifying`` then ``rebooting`` (replication already stopped; the instance
  still names its source), then the link is gone (ReadReplicaSourceDBInstanceIdentifier cleared, the source
  no longer lists it), then ``backing-up`` when the promotion turned backups on for an instance that never
  backed up (retention was 0), then ``available``. A replica that had backups does not back up. Phase
  lengths: :func:`configure_promotion` (and ``PUT /_streamflix/rds/promotion``).
  Refused: an instance that is not a replica, or not ``available`` (InvalidDBInstanceState, "The
  specified DB instance is not in the available state"); unknown: DBInstanceNotFound.
* ``ModifyDBInstance`` (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html):
  ``BackupRetentionPeriod`` 0-35 and not 0 on a source of read replicas; ``VpcSecurityGroupIds`` must
  name security groups of the instance's region (AWS answers InvalidParameterValue "Invalid security group
  , groupId= ..., groupName=." — aws/aws-cli#574); the instance then reports exactly those groups.
* ``ReplicaLag`` (seconds, dimension ``DBInstanceIdentifier``) is published into moto's CloudWatch of the
  replica's region by :func:`publish_replica_lag`: with its value from the PostgreSQL engine when the
  replica has one (``engines.rds_hooks``), else from the control plane (``dataplane.pump``: 0 while the
  source is reachable, no datapoint while it is not; the meaning of the metric is quoted there).
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html

Tests on plain moto (``mock_aws``) get the same behaviour with :func:`patch_moto` (``monkeypatch``);
:func:`promote_read_replica` alone has the signature of moto's ``RDSBackend.promote_read_replica``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from streamflix_dr_emulator import extension_http, regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/rds"

# Emulated seconds per promotion phase. modifying/rebooting are short: the emulator answers at once
# and the runbook's latency model owns the documented promotion time. A first backup is long (a full
# snapshot; RDS documents no figure): long enough to outlast any poll budget that assumed no backup.
DEFAULT_PROMOTION = {"modifying_seconds": 1.0, "rebooting_seconds": 1.0, "backup_seconds": 600.0}
_promotion_config: dict[str, float] = dict(DEFAULT_PROMOTION)

_PROMOTION_ATTR = "_streamflix_promotion"
_BACKED_UP_ATTR = "_streamflix_backed_up"
_STATUS_ATTR = "_streamflix_status"


@dataclass
class _Promotion:
    started: float
    modifying: float
    rebooting: float
    backup: float  # 0 when no backup is taken
    source_ref: str | None
    finished_link: bool = False

    def phase(self, now: float) -> str:
        t = now - self.started
        if t < self.modifying:
            return "modifying"
        if t < self.modifying + self.rebooting:
            return "rebooting"
        if t < self.modifying + self.rebooting + self.backup:
            return "backing-up"
        return "available"


def configure_promotion(**values: float) -> dict[str, float]:
    """Set any of ``modifying_seconds``, ``rebooting_seconds``, ``backup_seconds``; return the config."""
    for name, value in values.items():
        if name not in DEFAULT_PROMOTION:
            raise ValueError(
                f"unknown promotion setting {name!r}; known: {', '.join(sorted(DEFAULT_PROMOTION))}"
            )
        if float(value) < 0:
            raise ValueError(f"{name}={value!r} must be >= 0")
    _promotion_config.update({k: float(v) for k, v in values.items()})
    return dict(_promotion_config)


def promotion_config() -> dict[str, float]:
    """The current promotion phase lengths (emulated seconds)."""
    return dict(_promotion_config)


def _backend(account_id: str, region: str) -> Any:
    from moto.rds.models import rds_backends  # noqa: PLC0415

    return rds_backends[account_id][region]


def source_of(account_id: str, region: str, db_id: str) -> tuple[str, str] | None:
    """(region, identifier) of the instance ``db_id`` replicates from; None when not a replica."""
    db = _backend(account_id, region).databases.get(db_id)
    if db is None or not db.is_replica or not db.source_db_instance_identifier:
        return None
    src: str = db.source_db_instance_identifier
    if src.startswith("arn:"):
        parts = src.split(":")
        return (parts[3], parts[-1])
    return (region, src)


def is_replica(account_id: str, region: str, db_id: str) -> bool:
    """True while ``db_id`` is a read replica."""
    db = _backend(account_id, region).databases.get(db_id)
    return bool(db is not None and db.is_replica)


def exists(account_id: str, region: str, db_id: str) -> bool:
    """True when moto knows the instance."""
    return db_id in _backend(account_id, region).databases


def replicas(account_id: str) -> list[tuple[str, str]]:
    """(region, identifier) of every read replica of the account, in regions moto has loaded."""
    from moto.rds.models import rds_backends  # noqa: PLC0415

    found = []
    for region, backend in rds_backends[account_id].items():
        for db_id, db in list(backend.databases.items()):
            if db.is_replica:
                found.append((region, db_id))
    return found


def publish_replica_lag(account_id: str, region: str, db_id: str, lag_seconds: float) -> None:
    """Put one ``AWS/RDS ReplicaLag`` datapoint for the replica ``db_id``."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    cloudwatch_backends[account_id][region].put_metric_data(
        "AWS/RDS",
        [
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db_id}],
                "Value": max(0.0, lag_seconds),
                "Unit": "Seconds",
                # moto's CloudWatch keeps naive UTC datetimes (its utcnow()); an aware one breaks its queries.
                "Timestamp": regional_state.now_datetime().replace(tzinfo=None),
            }
        ],
    )


def _invalid_state(db_id: str, message: str) -> Exception:
    from moto.rds.exceptions import InvalidDBInstanceStateError  # noqa: PLC0415

    error = InvalidDBInstanceStateError(db_id, "promote")
    error.message = message
    return error


def _rds_error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError  # noqa: PLC0415

    return RDSClientError(code, message)


def _settle(db: Any) -> None:
    """Clear the replica link once the promotion's reboot is over (the source forgets it too)."""
    promotion: _Promotion | None = db.__dict__.get(_PROMOTION_ATTR)
    if promotion is None or promotion.finished_link:
        return
    if promotion.phase(regional_state.now()) in ("modifying", "rebooting"):
        return
    with regional_state.LOCK:
        if promotion.finished_link:
            return
        promotion.finished_link = True
        db.source_db_instance_identifier = None
        if promotion.source_ref:
            try:
                source = db.backend.find_db_from_id(promotion.source_ref)
            except Exception:  # the source may be gone (deleted, region lost)
                source = None
            if source is not None:
                for ref in (db.db_instance_arn, db.db_instance_identifier):
                    if ref in source.replicas:
                        source.replicas.remove(ref)


def settle_all() -> None:
    """Finish the link clearing of every promotion whose reboot is over (all accounts and regions)."""
    from moto.rds.models import rds_backends  # noqa: PLC0415

    for account, regions in list(rds_backends.items()):
        if account == "global":
            continue
        for backend in list(regions.values()):
            for db in list(backend.databases.values()):
                if _PROMOTION_ATTR in db.__dict__:
                    _settle(db)


def _retention(value: Any, *, field: str = "BackupRetentionPeriod") -> int:
    try:
        days = int(value)
    except (TypeError, ValueError) as e:
        raise _rds_error("InvalidParameterValue", f"{field} must be an integer from 0 to 35.") from e
    if not 0 <= days <= 35:
        raise _rds_error("InvalidParameterValue", f"{field} must be a value from 0 to 35 (got {days}).")
    return days


# AWS API: rds PromoteReadReplica —
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html
def promote_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
    """PromoteReadReplica on moto's ``RDSBackend`` ``self`` (method-compatible; see the module docstring)."""
    from moto.rds.exceptions import DBInstanceNotFoundError  # noqa: PLC0415

    db_id = str(db_kwargs.get("db_instance_identifier") or "").lower()
    database = self.databases.get(db_id)
    if database is None:
        raise DBInstanceNotFoundError(db_id)
    if not database.is_replica:
        raise _invalid_state(
            db_id, f"DB instance {db_id} is not a read replica; only a read replica can be promoted."
        )
    current = database.status
    if current != "available":
        # "a read replica cannot be promoted to a standalone instance when it is in the backing-up status"
        raise _invalid_state(
            db_id, f"The specified DB instance is not in the available state (it is {current})."
        )
    requested = db_kwargs.get("backup_retention_period")
    before = int(database.backup_retention_period or 0)
    after = _retention(requested) if requested is not None else max(before, 1)  # "Default: 1"
    if after == 0 and database.replicas:
        raise _rds_error(
            "InvalidParameterCombination",
            f"BackupRetentionPeriod can't be set to 0: {db_id} is a source to read replicas.",
        )
    # Replication stops at promotion (with engines on, rds_hooks promotes the PostgreSQL replica after this).
    with regional_state.LOCK:
        needs_backup = after > 0 and not database.__dict__.get(_BACKED_UP_ATTR, False)
        config = _promotion_config
        database.__dict__[_PROMOTION_ATTR] = _Promotion(
            started=regional_state.now(),
            modifying=config["modifying_seconds"],
            rebooting=config["rebooting_seconds"],
            backup=config["backup_seconds"] if needs_backup else 0.0,
            source_ref=database.source_db_instance_identifier,
        )
        database.is_replica = False
        database.backup_retention_period = after
        if db_kwargs.get("preferred_backup_window"):
            database.preferred_backup_window = db_kwargs["preferred_backup_window"]
        if after > 0:
            database.__dict__[_BACKED_UP_ATTR] = True  # the backup this promotion takes, if any
        _settle(database)
    log.info(
        "RDS read replica %s/%s promotion started (source %s, backup during promotion: %s)",
        self.region_name,
        db_id,
        database.source_db_instance_identifier,
        needs_backup,
    )
    return database


def _http(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    if path == "/promotion":
        if method == "PUT":
            try:
                return 200, {"promotion": configure_promotion(**body)}
            except (TypeError, ValueError) as e:
                raise extension_http.HttpError(400, "BadRequest", str(e)) from e
        if method == "GET":
            return 200, {"promotion": promotion_config()}
    raise extension_http.HttpError(404, "NotFound", f"no rds endpoint {method} {path}")


_installed = False


def _patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, value) of every moto RDS patch here, built on moto's current attributes."""
    from moto.rds.models import DBInstance, RDSBackend  # noqa: PLC0415

    patches: list[tuple[Any, str, Any]] = []

    patches.append((RDSBackend, "promote_read_replica", promote_read_replica))

    # DBInstance.status: the promotion phase while one runs, else what moto set.
    def get_status(self: Any) -> str:
        promotion: _Promotion | None = self.__dict__.get(_PROMOTION_ATTR)
        if promotion is not None:
            _settle(self)
            phase = promotion.phase(regional_state.now())
            if phase != "available":
                return phase
            del self.__dict__[_PROMOTION_ATTR]
        # An instance made before the patch keeps moto's plain attribute.
        return str(self.__dict__.get(_STATUS_ATTR, self.__dict__.get("status", "available")))

    def set_status(self: Any, value: str) -> None:
        self.__dict__[_STATUS_ATTR] = value

    patches.append((DBInstance, "status", property(get_status, set_status)))

    original_source_property: Any = DBInstance.__dict__["read_replica_source_db_instance_identifier"]

    def read_replica_source(self: Any) -> Any:
        _settle(self)
        return original_source_property.fget(self)

    patches.append((DBInstance, "read_replica_source_db_instance_identifier", property(read_replica_source)))

    original_replicas_property: Any = DBInstance.__dict__["read_replica_db_instance_identifiers"]

    def read_replicas(self: Any) -> Any:
        settle_all()
        return original_replicas_property.fget(self)

    patches.append((DBInstance, "read_replica_db_instance_identifiers", property(read_replicas)))

    original_replica = RDSBackend.create_db_instance_read_replica

    # AWS API: rds CreateDBInstanceReadReplica (no BackupRetentionPeriod: backups off) —
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
    def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        replica = original_replica(self, db_kwargs)
        replica.__dict__.pop(_PROMOTION_ATTR, None)  # moto copies the source object
        replica.status = "available"
        applied = db_kwargs.get("backup_retention_period")
        if applied is not None:
            # The CloudFormation handler's ModifyDBInstance after the create (module docstring).
            replica.backup_retention_period = _retention(applied)
            replica.__dict__[_BACKED_UP_ATTR] = replica.backup_retention_period > 0
        else:
            replica.backup_retention_period = 0
            replica.__dict__[_BACKED_UP_ATTR] = False
        return replica

    patches.append((RDSBackend, "create_db_instance_read_replica", create_db_instance_read_replica))

    original_create = RDSBackend.create_db_instance

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = original_create(self, db_kwargs)
        database.__dict__[_BACKED_UP_ATTR] = int(database.backup_retention_period or 0) > 0
        return database

    patches.append((RDSBackend, "create_db_instance", create_db_instance))

    original_modify = RDSBackend.modify_db_instance

    # AWS API: rds ModifyDBInstance —
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        from moto.ec2.models import ec2_backends  # noqa: PLC0415

        database = self.describe_db_instances(db_instance_identifier)[0]
        retention = db_kwargs.get("backup_retention_period")
        if retention is not None:
            days = _retention(retention)
            if days == 0 and database.replicas:
                raise _rds_error(
                    "InvalidParameterCombination",
                    f"BackupRetentionPeriod can't be set to 0 on {db_instance_identifier}: it is a source "
                    "to read replicas.",
                )
        groups = db_kwargs.get("vpc_security_group_ids")
        if groups:
            ec2 = ec2_backends[self.account_id][self.region_name]
            known = {g.id for g in ec2.describe_security_groups()}
            for group in groups:
                if group not in known:
                    raise _rds_error(
                        "InvalidParameterValue", f"Invalid security group , groupId= {group}, groupName=."
                    )
        result = original_modify(self, db_instance_identifier, db_kwargs)
        if retention is not None:
            result.__dict__[_BACKED_UP_ATTR] = int(retention) > 0
        return result

    patches.append((RDSBackend, "modify_db_instance", modify_db_instance))
    return patches


def patch_moto(monkeypatch: Any) -> None:
    """Apply this module's RDS behaviour to plain moto (``mock_aws``) for one test, through ``monkeypatch``.

    Promotion phases run on :mod:`regional_state`'s clock: a test with a fake clock moves it with
    ``regional_state.advance(seconds)`` (or shortens them with :func:`configure_promotion`).
    """
    for owner, name, value in _patches():
        monkeypatch.setattr(owner, name, value, raising=False)


def install() -> None:
    """Patch moto's RDS: promotion over time, replica backups, ModifyDBInstance checks."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    for owner, name, value in _patches():
        patch_attr(owner, name, value)

    def on_clock(_now: float) -> None:
        settle_all()

    regional_state.on_advance("rds_replication", on_clock)
    extension_http.register(PREFIX, _http)
    _installed = True
