"""Wiring of the PostgreSQL engine into moto's RDS backend (no moto file is edited).

Each hook wraps one ``moto.rds.models.RDSBackend`` method: the original (or whatever the
emulator's earlier modules installed, e.g. ``rds_replication``'s PromoteReadReplica) runs first
and decides the control-plane answer, errors included; then, while
:func:`streamflix_dr_emulator.engines.enabled`, the engine follows:

* CreateDBInstance (also CloudFormation's AWS::RDS::DBInstance) with a ``postgres`` engine
  starts a server with the master user and password (CloudFormation's
  ``{{resolve:secretsmanager:...}}`` references are resolved here, from the emulated Secrets
  Manager of the instance's region); ``Endpoint.Address``/``Port`` become the TLS front's
  ``127.0.0.1``/port.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
* CreateDBInstanceReadReplica (the source may be an ARN in another region) starts a streaming
  replica through a region link.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
* PromoteReadReplica: ``pg_promote()`` after the control-plane promotion.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html
* ModifyDBParameterGroup: the group's parameters reach every instance of the region that uses it
  (dynamic ones at once, through a reload); ModifyDBInstance with a new DBParameterGroupName
  applies that group.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBParameterGroup.html
* RebootDBInstance restarts the server (static parameters take effect).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html
* DeleteDBInstance stops the server and removes its data directory.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
* ``AWS/RDS ReplicaLag`` of every engine-backed replica is published into moto's CloudWatch of
  the replica's region every :data:`LAG_INTERVAL_SECONDS` (and on demand by
  :func:`publish_replica_lag`). https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from streamflix_dr.errors import EmulatorError
from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import net
from streamflix_dr_emulator.engines.postgres import PostgresInstance

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 5.0
# The link every cross-region replica's stream crosses (engines.net cites the 75 ms figure).
REPLICATION_RTT_SECONDS = net.EU_WEST_2_US_EAST_1_RTT_SECONDS
REPLICATION_BANDWIDTH_BYTES_PER_S: float | None = None

_lock = threading.RLock()
# id(moto DBInstance) -> (the DBInstance, its engine). Keyed by object so a rename
# (ModifyDBInstance NewDBInstanceIdentifier) keeps the engine; moto's replica is a copy.copy of
# its source, so nothing is stored on the DBInstance itself.
_engines: dict[int, tuple[Any, PostgresInstance]] = {}
_ca: net.CertificateAuthority | None = None
# (account, region, identifier) -> the TLS front that stands for that identifier's DNS name while no
# instance holds it. On AWS an instance's endpoint is "<identifier>.<account-and-region hash>.<region>.
# rds.amazonaws.com": it follows the identifier, not the instance. A rename moves the instance to its new
# name's endpoint, and an instance later created under the old identifier answers at the old endpoint
# again (RDS UG, "Renaming a DB instance": "When you rename a DB instance, the endpoint for the DB
# instance changes ... you can use the old name for a new DB instance";
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html). So the local front
# (the endpoint's port, which the stacks' task definitions carry) is kept per identifier.
_names: dict[tuple[str, str, str], net.TlsFront] = {}
_lag_thread: threading.Thread | None = None
_lag_stop = threading.Event()

# {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
_SECRET_REF = re.compile(
    r"\{\{resolve:secretsmanager:(?P<id>arn:[^:]+:secretsmanager:[^:]+:\d+:secret:[^:}]+|[^:}]+)"
    r"(?::(?P<type>SecretString)?(?::(?P<key>[^:}]*)(?::(?P<stage>[^:}]*)(?::(?P<version>[^:}]*))?)?)?)?\}\}"
)


def ca() -> net.CertificateAuthority:
    """The certificate authority of the run's RDS endpoints (``<run dir>/tls/ca.pem``)."""
    global _ca  # noqa: PLW0603
    with _lock:
        if _ca is None or not _ca.ca_file.exists():
            _ca = net.CertificateAuthority()
        return _ca


def engine_of(database: Any) -> PostgresInstance | None:
    """The PostgreSQL engine behind a moto DBInstance, if any."""
    entry = _engines.get(id(database))
    return entry[1] if entry is not None and entry[0] is database else None


def find(region: str, db_instance_identifier: str) -> PostgresInstance | None:
    """The engine of the instance ``db_instance_identifier`` in ``region`` (any account), if any."""
    with _lock:
        for database, inst in _engines.values():
            if database.region == region and database.db_instance_identifier == db_instance_identifier:
                return inst
    return None


def resolve_secret_refs(value: str | None, account_id: str, region: str) -> str | None:
    """Replace CloudFormation's secretsmanager dynamic references in ``value`` by the secret's value."""
    if not value or "{{resolve:" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        import json  # noqa: PLC0415

        from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

        backend = secretsmanager_backends[account_id][region]
        kwargs: dict[str, Any] = {"secret_id": match["id"], "version_id": match["version"] or None}
        kwargs["version_stage"] = match["stage"] or (None if match["version"] else "AWSCURRENT")
        try:
            secret = backend.get_secret_value(**kwargs)
        except Exception as e:
            raise EmulatorError(
                f"PostgreSQL engine {region}: the dynamic reference {match[0]!r} names no secret value "
                f"in the emulated Secrets Manager ({e}).",
                fix="create the secret before the DB instance (DependsOn) or pass the password itself",
            ) from e
        text = (
            secret.get("SecretString") if isinstance(secret, dict) else getattr(secret, "secret_string", None)
        )
        if text is None:
            raise EmulatorError(f"PostgreSQL engine {region}: secret {match['id']} has no SecretString.")
        if not match["key"]:
            return str(text)
        try:
            return str(json.loads(text)[match["key"]])
        except (ValueError, KeyError, TypeError) as e:
            raise EmulatorError(
                f"PostgreSQL engine {region}: secret {match['id']} has no JSON key {match['key']!r}.",
                fix="fix the key in the dynamic reference",
            ) from e

    if not _SECRET_REF.search(value):
        raise EmulatorError(
            f"PostgreSQL engine {region}: unsupported dynamic reference in {value!r}.",
            fix="use {{resolve:secretsmanager:<id>:SecretString:<key>}}",
        )
    return _SECRET_REF.sub(one, value)


def _group_parameters(backend: Any, group_name: str | None) -> dict[str, str]:
    if not group_name:
        return {}
    group = backend.db_parameter_groups.get(group_name.lower())
    if group is None:
        return {}  # a default.* group: PostgreSQL's defaults
    return {
        name: str(p.get("ParameterValue"))
        for name, p in group.parameters.items()
        if p.get("ParameterValue") is not None
    }


def _force_ssl(parameters: dict[str, str], engine_version: str | None) -> bool:
    # rds.force_ssl defaults to 1 from RDS for PostgreSQL 15 on, 0 before
    # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html,
    # "Requiring an SSL connection to a PostgreSQL DB instance").
    if "rds.force_ssl" in parameters:
        return parameters["rds.force_ssl"].strip().lower() in {"1", "on", "true"}
    try:
        major = int(str(engine_version or "0").split(".")[0])
    except ValueError:
        major = 0
    return major >= 15


def _is_postgres(database: Any) -> bool:
    return str(getattr(database, "engine", "")).lower() == "postgres"


def _remember(database: Any, inst: PostgresInstance) -> None:
    key = (database.account_id, database.region, database.db_instance_identifier)
    with _lock:
        _engines[id(database)] = (database, inst)
        named = _names.pop(key, None)
    if named is not None and inst.front is not None:
        # The identifier's endpoint (its port) answers again, now for this instance.
        fresh = inst.front
        named.backend_host, named.backend_port = fresh.backend_host, fresh.backend_port
        named.preamble = fresh.preamble
        fresh.close()
        inst.front = named
    database.port = inst.port


def _rename(database: Any, inst: PostgresInstance, old_id: str) -> None:
    """ModifyDBInstance NewDBInstanceIdentifier: the instance leaves its old endpoint (which then reaches
    nothing, until an instance is created under the old identifier) for its new name's endpoint. The
    rename reboots the instance (with ApplyImmediately): open connections are dropped."""
    front = inst.front
    if front is None:
        return
    # Nothing listens there: a client of the old endpoint is refused, as with a name that resolves to
    # no instance.
    front.backend_host = str(inst.socket_dir / ".s.PGSQL.renamed-away")
    front.backend_port = 0

    async def drop() -> None:
        front._drop_all()

    front._run_now(drop)
    with _lock:
        _names[(database.account_id, database.region, old_id)] = front
    inst.hostnames = (_moto_address(database),)
    inst.front = None
    inst._open_front()
    database.port = inst.port


def _start_primary(backend: Any, database: Any) -> None:
    account_id, region = backend.account_id, backend.region_name
    username = resolve_secret_refs(database.master_username, account_id, region)
    # moto's public property refuses to return it (as the API never does); the model keeps it here.
    password = resolve_secret_refs(getattr(database, "_master_user_password", None), account_id, region)
    if not username or not password:
        raise EmulatorError(
            f"PostgreSQL engine {region}/{database.db_instance_identifier}: no master user name or password "
            "(ManageMasterUserPassword is not supported by the engine).",
            fix="pass MasterUsername and MasterUserPassword (or a secretsmanager dynamic reference)",
        )
    parameters = _group_parameters(backend, database.db_parameter_group_name)
    inst = PostgresInstance.create_primary(
        database.db_instance_identifier,
        region,
        username,
        password,
        ca=ca(),
        db_name=database.db_name,
        parameters=parameters,
        force_ssl=_force_ssl(parameters, database.engine_version),
        hostnames=(_moto_address(database),),
    )
    _remember(database, inst)


def _start_replica(backend: Any, replica: Any, source_ref: str) -> None:
    region = backend.region_name
    source_db = backend.find_db_from_id(source_ref)
    source = engine_of(source_db)
    if source is None:
        log.warning(
            "PostgreSQL engine: replica %s/%s gets no engine: source %s has none (engines were off)",
            region,
            replica.db_instance_identifier,
            source_ref,
        )
        return
    group = replica.db_parameter_group_name
    parameters = _group_parameters(backend, group)
    inst = PostgresInstance.create_replica(
        source,
        replica.db_instance_identifier,
        region,
        parameters=parameters,
        force_ssl=_force_ssl(parameters, replica.engine_version),
        hostnames=(_moto_address(replica),),
        rtt_seconds=REPLICATION_RTT_SECONDS if source.region != region else 0.0,
        bandwidth_bytes_per_s=REPLICATION_BANDWIDTH_BYTES_PER_S,
    )
    _remember(replica, inst)
    _ensure_lag_publisher()


def _moto_address(database: Any) -> str:
    # moto's own address form, kept as a name in the certificate for clients that use it.
    return f"{database.db_instance_identifier}.aaaaaaaaaa.{database.region}.rds.amazonaws.com"


def _apply_group(backend: Any, group_name: str) -> None:
    parameters = _group_parameters(backend, group_name)
    with _lock:
        targets = [
            (database, inst)
            for database, inst in _engines.values()
            if database.region == backend.region_name
            and database.account_id == backend.account_id
            and (database.db_parameter_group_name or "").lower() == group_name.lower()
            and backend.databases.get(database.db_instance_identifier) is database
        ]
    for database, inst in targets:
        inst.apply_parameters(parameters)
        inst.set_force_ssl(_force_ssl(parameters, database.engine_version))


# --------------------------------------------------------------------------------------------
# ReplicaLag
# --------------------------------------------------------------------------------------------


def publish_replica_lag() -> dict[tuple[str, str], float]:
    """Publish one ``AWS/RDS ReplicaLag`` datapoint per engine-backed replica; return what was published."""
    from streamflix_dr_emulator import rds_replication, regional_state  # noqa: PLC0415

    published: dict[tuple[str, str], float] = {}
    with _lock:
        entries = list(_engines.values())
    for database, inst in entries:
        if inst.link is None or inst.source is None:
            continue  # not (or no longer) a replica
        region = database.region
        if engines.is_failed(region) or regional_state.is_failed(region):
            continue  # the region's CloudWatch is down with it
        try:
            lag = inst.replica_lag_seconds()
        except Exception as e:
            log.debug("ReplicaLag of %s/%s unknown: %s", region, database.db_instance_identifier, e)
            continue
        if lag is None:
            continue
        rds_replication.publish_replica_lag(database.account_id, region, database.db_instance_identifier, lag)
        published[(region, database.db_instance_identifier)] = lag
    return published


def _ensure_lag_publisher() -> None:
    global _lag_thread  # noqa: PLW0603
    with _lock:
        if _lag_thread is not None and _lag_thread.is_alive():
            return
        _lag_stop.clear()

        def run() -> None:
            while not _lag_stop.wait(LAG_INTERVAL_SECONDS):
                with _lock:
                    if not _engines:
                        return
                try:
                    publish_replica_lag()
                except Exception:
                    log.exception("publishing ReplicaLag failed")

        _lag_thread = threading.Thread(target=run, name="rds-replica-lag", daemon=True)
        _lag_thread.start()


def forget_all() -> None:
    """Drop every engine reference (after :func:`engines.shutdown_all` stopped them)."""
    global _ca  # noqa: PLW0603
    _lag_stop.set()
    with _lock:
        _engines.clear()
        fronts = list(_names.values())
        _names.clear()
        _ca = None
    for front in fronts:
        front.close()


# --------------------------------------------------------------------------------------------
# The hooks
# --------------------------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Wrap moto's RDS backend methods. Idempotent; every hook is a no-op while engines are off."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.rds.models import DBInstance, RDSBackend  # noqa: PLC0415

    from streamflix_dr_emulator.cfn._common import patch_attr  # noqa: PLC0415

    create = RDSBackend.create_db_instance
    create_replica = RDSBackend.create_db_instance_read_replica
    promote = RDSBackend.promote_read_replica
    delete = RDSBackend.delete_db_instance
    modify_group = RDSBackend.modify_db_parameter_group
    modify_instance = RDSBackend.modify_db_instance
    reboot = RDSBackend.reboot_db_instance
    address: Any = DBInstance.__dict__["address"]  # the property object

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = create(self, db_kwargs)
        if engines.enabled() and _is_postgres(database):
            try:
                _start_primary(self, database)
            except BaseException:
                # The instance cannot exist without its engine: undo the control-plane create.
                self.databases.pop(database.db_instance_identifier, None)
                raise
        return database

    def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        replica = create_replica(self, db_kwargs)
        if engines.enabled() and _is_postgres(replica):
            try:
                _start_replica(self, replica, db_kwargs["source_db_instance_identifier"])
            except BaseException:
                self.databases.pop(replica.db_instance_identifier, None)
                source = self.find_db_from_id(db_kwargs["source_db_instance_identifier"])
                source.remove_replica(replica)
                raise
        return replica

    def promote_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        promoted = promote(self, db_kwargs)
        inst = engine_of(promoted)
        if inst is not None and inst.link is not None:
            inst.promote()
        return promoted

    def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
        database = delete(self, db_instance_identifier, *args, **kwargs)
        with _lock:
            entry = _engines.pop(id(database), None)
        if entry is not None:
            entry[1].delete()
        return database

    def modify_db_parameter_group(self: Any, db_parameter_group_name: str, parameters: Any) -> Any:
        group = modify_group(self, db_parameter_group_name, parameters)
        if engines.enabled():
            _apply_group(self, group.name)
        return group

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        renaming = bool(db_kwargs.get("new_db_instance_identifier"))
        database = modify_instance(self, db_instance_identifier, db_kwargs)
        inst = engine_of(database)
        if inst is not None and renaming and database.db_instance_identifier != db_instance_identifier:
            _rename(database, inst, db_instance_identifier)
        if inst is not None:
            if db_kwargs.get("db_parameter_group_name"):
                parameters = _group_parameters(self, database.db_parameter_group_name)
                inst.apply_parameters(parameters)
                inst.set_force_ssl(_force_ssl(parameters, database.engine_version))
            if db_kwargs.get("master_user_password"):
                password = resolve_secret_refs(
                    db_kwargs["master_user_password"], self.account_id, self.region_name
                )
                inst.set_master_password(str(password))
            # The endpoint stays the TLS front whatever the request said about the port.
            database.port = inst.port
        return database

    def reboot_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
        # RebootDBInstance restarts the database engine; static parameters take effect then.
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html
        database = reboot(self, db_instance_identifier, *args, **kwargs)
        inst = engine_of(database)
        if inst is not None:
            inst.restart()
        return database

    def engine_address(self: Any) -> str:
        if engine_of(self) is not None:
            return net.HOST
        return str(address.fget(self))

    patch_attr(RDSBackend, "create_db_instance", create_db_instance)
    patch_attr(RDSBackend, "create_db_instance_read_replica", create_db_instance_read_replica)
    patch_attr(RDSBackend, "promote_read_replica", promote_read_replica)
    patch_attr(RDSBackend, "delete_db_instance", delete_db_instance)
    patch_attr(RDSBackend, "modify_db_parameter_group", modify_db_parameter_group)
    patch_attr(RDSBackend, "modify_db_instance", modify_db_instance)
    patch_attr(RDSBackend, "reboot_db_instance", reboot_db_instance)
    patch_attr(DBInstance, "address", property(engine_address))
    _installed = True
