"""RDS read-replica promotion fixes for moto, and the ``AWS/RDS ReplicaLag`` metric.

* ``PromoteReadReplica``: moto 5.2.5 flips ``is_replica`` but leaves the link on both instances.
  AWS: the promoted instance is a standalone instance (no ``ReadReplicaSourceDBInstanceIdentifier``)
  and the source no longer lists it in ``ReadReplicaDBInstanceIdentifiers`` (cross-region replicas
  are listed there by ARN). An instance that is not a replica is refused with
  InvalidDBInstanceState (HTTP 400); an unknown one with DBInstanceNotFound (404).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html
* ``ReplicaLag`` (seconds, dimension ``DBInstanceIdentifier``) is published into moto's CloudWatch
  of the replica's region by the data plane whenever it replicates rows.
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)


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


_installed = False


def install() -> None:
    """Patch moto's RDS backend ``promote_read_replica``."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.rds.exceptions import DBInstanceNotFoundError, InvalidDBInstanceStateError  # noqa: PLC0415
    from moto.rds.models import RDSBackend  # noqa: PLC0415

    original = RDSBackend.promote_read_replica

    # AWS API: rds PromoteReadReplica —
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html
    def promote_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        db_id = str(db_kwargs.get("db_instance_identifier") or "")
        database = self.databases.get(db_id)
        if database is None:
            raise DBInstanceNotFoundError(db_id)
        if not database.is_replica:
            error = InvalidDBInstanceStateError(db_id, "promote")
            error.message = f"DB instance {db_id} is not a read replica; only a read replica can be promoted."
            raise error
        # Replication stops at promotion: rows the replica has applied by now are what it keeps.
        from streamflix_dr_emulator import dataplane  # noqa: PLC0415 - dataplane imports this module

        with regional_state.LOCK:
            dataplane.pump()
            source_ref = database.source_db_instance_identifier
            promoted = original(self, db_kwargs)
            if source_ref:
                try:
                    source = self.find_db_from_id(source_ref)
                except Exception:  # the source may be gone (deleted, region lost)
                    source = None
                if source is not None:
                    for ref in (promoted.db_instance_arn, promoted.db_instance_identifier):
                        if ref in source.replicas:
                            source.replicas.remove(ref)
            promoted.source_db_instance_identifier = None
            promoted.is_replica = False
        log.info("RDS read replica %s/%s promoted (source was %s)", self.region_name, db_id, source_ref)
        return promoted

    patch_attr(RDSBackend, "promote_read_replica", promote_read_replica)
    _installed = True
