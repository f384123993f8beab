"""A small data plane behind the emulated control plane, and the region-outage switch.

moto models resources, not their data. A DR drill has to "write data on the primary side, fail the
primary, fail over and check what data survived", so this module keeps, per account and region:

* **rows in an RDS instance** — inserts go to a writable instance; a read replica refuses them
  like PostgreSQL on a hot standby (``cannot execute INSERT in a read-only transaction``, SQLSTATE
  25006; PostgreSQL docs "Hot Standby"). A replica applies its source's rows after
  ``replication_lag_seconds`` (RDS replication is asynchronous: RDS UG "Working with DB instance
  read replicas"); rows not yet applied when the source region fails or the replica is promoted are
  lost. ``AWS/RDS ReplicaLag`` is published for each replica as it replicates.
* **files in an EFS file system** — a replication destination (or a file system whose replication
  overwrite protection is DISABLED) is read-only, writes fail like ``EROFS`` (EFS UG "Amazon EFS
  replication": the destination is read-only). Replication copies the source as it was at each
  sync instant, every ``efs_sync_interval_seconds`` after the configuration was created (EFS
  documents an RPO of minutes, most file systems within 15 minutes). Deleting the configuration
  keeps what was last synced: files written after the last sync are lost — the real RPO.
  Each sync publishes ``AWS/EFS TimeSinceLastSync``.
* **keys in an ElastiCache replication group** — a Global Datastore secondary is read-only (Redis
  answers ``READONLY You can't write against a read only replica.``) and receives the primary's
  keys after ``cache_replication_lag_seconds`` (ElastiCache UG "Replication across AWS Regions using
  global datastores": asynchronous, typically under a second). Without a Global Datastore the DR
  cache stays empty.
* **the region-outage switch** — :func:`fail_region` makes the data plane AND moto's API of that
  region answer ``503 ServiceUnavailable`` (the "Common Errors" every AWS API reference lists for a
  service that cannot answer); global services (Route 53, IAM, STS...) stay up. Replication out of
  a failed region stops at the instant of the failure. :func:`restore_region` ends it.
* **time** — every lag and interval uses :mod:`regional_state`'s emulated clock; :func:`advance_clock`
  moves it and :func:`sync` forces every replication to catch up now, so tests never sleep.

HTTP API (JSON in and out) on the emulator's own port, under ``/_streamflix/dataplane``::

    GET  /state                                         {"now", "failed_regions", "config"}
    PUT  /config                                        {"replication_lag_seconds", ...}
    POST /reset                                         forget all data, clock offset and outages
    POST /sync                                          replicate everything now
    POST /clock/advance        {"seconds": n}           {"now"}
    POST /regions/<region>/fail | /restore
    POST /rds/<region>/<db>/tables/<table>/rows          {"row": {...}}  -> 201
    GET  /rds/<region>/<db>/tables/<table>/rows          {"rows": [...]}
    PUT  /efs/<region>/<fs>/files/<path>                 {"content": "..."}
    GET  /efs/<region>/<fs>/files/<path>                 {"path", "content"}
    GET  /efs/<region>/<fs>/files                        {"files": {path: content}}
    PUT  /elasticache/<region>/<rg>/keys/<key>           {"value": "..."}
    GET  /elasticache/<region>/<rg>/keys/<key>           {"key", "value"}  (value null when absent)

Errors: ``{"error": code, "message": ...}`` with 400 BadRequest, 404 NotFound, 409 ReadOnly,
503 RegionUnavailable. The account is the ``x-moto-account-id`` header, else moto's default.
``client.DataPlaneClient`` wraps all of this.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from streamflix_dr_emulator import (
    efs_replication,
    elasticache_global,
    outage,
    rds_replication,
    regional_state,
)
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/dataplane"

DEFAULT_CONFIG: dict[str, float] = {
    "replication_lag_seconds": 1.0,
    "efs_sync_interval_seconds": 60.0,
    "cache_replication_lag_seconds": 0.5,
}
_config: dict[str, float] = dict(DEFAULT_CONFIG)

# One datapoint per emulated second per metric is plenty (CloudWatch's finest standard period is 60s).
_METRIC_MIN_INTERVAL = 1.0


class DataPlaneError(Exception):
    """Base of data-plane failures; ``status`` and ``code`` go on the wire."""

    status = 400
    code = "BadRequest"


class BadRequest(DataPlaneError):
    """The request names no valid value."""


class NotFound(DataPlaneError):
    """The resource (instance, file system, replication group, file) does not exist."""

    status = 404
    code = "NotFound"


class ReadOnly(DataPlaneError):
    """The target is a read-only replica / destination."""

    status = 409
    code = "ReadOnly"


class RegionUnavailable(DataPlaneError):
    """The region is in an emulated outage."""

    status = 503
    code = "RegionUnavailable"


@dataclass
class _Store:
    """An append-only, time-stamped log of writes and the link it follows, if any."""

    owner: Any  # the moto object this data belongs to (a reset replaces it: the data goes too)
    entries: list[tuple[float, Any]] = field(default_factory=list)
    link: tuple[str, ...] | None = None
    cursor: int = 0


_stores: dict[tuple[str, ...], _Store] = {}
_last_metric: dict[tuple[str, ...], float] = {}


# --- configuration, clock, outage -----------------------------------------------------------


def configure(**values: float) -> dict[str, float]:
    """Set any of ``replication_lag_seconds``, ``efs_sync_interval_seconds``,
    ``cache_replication_lag_seconds``; return the whole configuration."""
    for name, value in values.items():
        if name not in DEFAULT_CONFIG:
            raise BadRequest(f"unknown setting {name!r}; known: {', '.join(sorted(DEFAULT_CONFIG))}")
        try:
            number = float(value)
        except (TypeError, ValueError) as e:
            raise BadRequest(f"{name}={value!r} is not a number of seconds") from e
        if number < 0 or (name == "efs_sync_interval_seconds" and number == 0):
            raise BadRequest(f"{name}={value!r} must be >= 0 (the sync interval > 0)")
    with regional_state.LOCK:
        pump()
        _config.update({k: float(v) for k, v in values.items()})
        return dict(_config)


def config() -> dict[str, float]:
    """The current configuration."""
    return dict(_config)


def advance_clock(seconds: float) -> float:
    """Advance the emulated clock, replicate what became due, return the new time."""
    with regional_state.LOCK:
        regional_state.advance(seconds)
        pump()
        _pump_engines()
        return regional_state.now()


def fail_region(region: str) -> None:
    """Start an emulated outage of ``region`` (data plane and AWS APIs answer 503)."""
    with regional_state.LOCK:
        pump()  # what was due before the failure has replicated; nothing after it will
        outage.fail_region(region)  # the APIs and the real engines, at one instant


def restore_region(region: str) -> None:
    """End the emulated outage of ``region`` (APIs and engines)."""
    outage.restore_region(region)


def reset() -> None:
    """Forget all data, the configuration, the clock offset and every outage."""
    with regional_state.LOCK:
        for region in regional_state.failed_regions():
            outage.restore_region(region)  # the engines' half of the outage ends with it
        _stores.clear()
        _last_metric.clear()
        _config.clear()
        _config.update(DEFAULT_CONFIG)
        regional_state.reset()


def sync() -> None:
    """Replicate everything now, ignoring lags and sync intervals (regions in an outage excepted);
    with engines on, the EFS directories sync too (``efs_fs``)."""
    pump(force=True)
    _pump_engines(force=True)


def _pump_engines(force: bool = False) -> None:
    from streamflix_dr_emulator import engines  # noqa: PLC0415

    if engines.enabled():
        from streamflix_dr_emulator.engines import efs_fs  # noqa: PLC0415

        efs_fs.pump(force)


# --- replication pump -----------------------------------------------------------------------


def _store(key: tuple[str, ...], owner: Any) -> _Store:
    store = _stores.get(key)
    if store is None or store.owner is not owner:
        store = _Store(owner)
        _stores[key] = store
    return store


def _accounts(backends: Any) -> list[str]:
    return [a for a in list(backends.keys()) if a != "global"]


def _follow(replica: _Store, source: _Store, source_key: tuple[str, ...], cutoff: float) -> None:
    if replica.link != source_key:
        # A new link (new replica, changed roles) starts from a full copy of the source.
        replica.link = source_key
        replica.entries = []
        replica.cursor = 0
    while replica.cursor < len(source.entries) and source.entries[replica.cursor][0] <= cutoff:
        replica.entries.append(source.entries[replica.cursor])
        replica.cursor += 1


def _due(key: tuple[str, ...], now: float, force: bool) -> bool:
    if force or now - _last_metric.get(key, float("-inf")) >= _METRIC_MIN_INTERVAL:
        _last_metric[key] = now
        return True
    return False


def pump(force: bool = False) -> None:
    """Apply every replication that is due at the emulated now (``force``: everything)."""
    from moto.elasticache.models import elasticache_backends  # noqa: PLC0415
    from moto.rds.models import rds_backends  # noqa: PLC0415

    with regional_state.LOCK:
        now = regional_state.now()
        for account in _accounts(rds_backends):
            _pump_rds(account, now, force)
        for account in _accounts(elasticache_backends):
            _pump_cache(account, now, force)
        _pump_efs(now, force)


def _pump_rds(account: str, now: float, force: bool) -> None:
    lag = 0.0 if force else _config["replication_lag_seconds"]
    for region, db_id in rds_replication.replicas(account):
        source = rds_replication.source_of(account, region, db_id)
        if source is None or regional_state.is_failed(source[0]) or regional_state.is_failed(region):
            continue
        src_db = _rds_db(account, source[0], source[1])
        if src_db is None:
            continue
        src_key = ("rds", account, source[0], source[1])
        src = _store(src_key, src_db)
        rep = _store(("rds", account, region, db_id), _rds_db(account, region, db_id))
        _follow(rep, src, src_key, now - lag)
        pending = src.entries[rep.cursor :]
        lag_now = now - pending[0][0] if pending else 0.0
        if _due(("ReplicaLag", account, region, db_id), now, force):
            rds_replication.publish_replica_lag(account, region, db_id, lag_now)


def _pump_cache(account: str, now: float, force: bool) -> None:
    lag = 0.0 if force else _config["cache_replication_lag_seconds"]
    for group in elasticache_global.groups(account):
        primary = group.primary
        if regional_state.is_failed(primary.region):
            continue
        src_key = ("cache", account, primary.region, primary.rg_id)
        src = _store(src_key, primary.rg)
        src.link = None  # a primary follows nobody; after a failback it must resync from scratch
        for member in group.members:
            if member.role != elasticache_global.SECONDARY or regional_state.is_failed(member.region):
                continue
            rep = _store(("cache", account, member.region, member.rg_id), member.rg)
            _follow(rep, src, src_key, now - lag)


def _pump_efs(now: float, force: bool) -> None:
    interval = _config["efs_sync_interval_seconds"]
    for rep in efs_replication.replications():
        if regional_state.is_failed(rep.source_region) or regional_state.is_failed(rep.destination_region):
            continue
        last = rep.last_replicated if rep.last_replicated is not None else rep.creation_time
        if force:
            at: float | None = now
        elif now >= last + interval:
            at = last + interval * ((now - last) // interval)
        else:
            at = None
        if at is not None:
            src = _store(("efs", rep.account_id, rep.source_region, rep.source_id), rep.source_fs)
            dst = _store(
                ("efs", rep.account_id, rep.destination_region, rep.destination_id), rep.destination_fs
            )
            snapshot = _fold_files([e for e in src.entries if e[0] <= at])
            # The destination is rewritten to match the source at the sync instant.
            dst.entries = [(at, (path, content)) for path, content in snapshot.items()]
            efs_replication.record_sync(rep, at)
            _last_metric[("TimeSinceLastSync", rep.account_id, rep.source_id)] = now
        elif _due(("TimeSinceLastSync", rep.account_id, rep.source_id), now, force):
            efs_replication.publish_time_since_last_sync(rep)


def _fold_files(entries: list[tuple[float, Any]]) -> dict[str, str]:
    files: dict[str, str] = {}
    for _, (path, content) in entries:
        if content is None:
            files.pop(path, None)
        else:
            files[path] = content
    return files


# --- reads and writes -----------------------------------------------------------------------


def _check_region(region: str) -> None:
    if not region:
        raise BadRequest("region is required")
    if regional_state.is_failed(region):
        raise RegionUnavailable(f"region {region} is unreachable (emulated outage); try the DR region")


def _rds_db(account: str, region: str, db_id: str) -> Any:
    from moto.rds.models import rds_backends  # noqa: PLC0415

    return rds_backends[account][region].databases.get(db_id)


def insert_row(account: str, region: str, db_id: str, table: str, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` of the RDS instance ``db_id``; ReadOnly on a read replica."""
    if not table or not isinstance(row, dict):
        raise BadRequest(f"table={table!r}, row={row!r}: give a table name and a JSON object row")
    with regional_state.LOCK:
        _check_region(region)
        db = _rds_db(account, region, db_id)
        if db is None:
            raise NotFound(f"DB instance {db_id} not found in {region}")
        pump()
        if rds_replication.is_replica(account, region, db_id):
            raise ReadOnly(
                f"{db_id} in {region} is a read replica: cannot execute INSERT in a read-only transaction"
            )
        _store(("rds", account, region, db_id), db).entries.append((regional_state.now(), (table, dict(row))))


def select_rows(account: str, region: str, db_id: str, table: str) -> list[dict[str, Any]]:
    """Rows of ``table`` visible on ``db_id`` now (a replica sees what it has applied)."""
    with regional_state.LOCK:
        _check_region(region)
        db = _rds_db(account, region, db_id)
        if db is None:
            raise NotFound(f"DB instance {db_id} not found in {region}")
        pump()
        store = _store(("rds", account, region, db_id), db)
        return [dict(row) for _, (name, row) in store.entries if name == table]


def _fs(account: str, region: str, fs_id: str) -> Any:
    from moto.efs.models import efs_backends  # noqa: PLC0415

    fs = efs_backends[account][region].file_systems_by_id.get(fs_id)
    if fs is None:
        raise NotFound(f"file system {fs_id} not found in {region}")
    return fs


def _clean_path(path: str) -> str:
    parts = [p for p in (path or "").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise BadRequest(f"path={path!r}: give a relative file path without '.' or '..' segments")
    return "/".join(parts)


def write_file(account: str, region: str, fs_id: str, path: str, content: str) -> None:
    """Write ``content`` at ``path`` on the file system; ReadOnly (EROFS) on a destination."""
    if not isinstance(content, str):
        raise BadRequest(f"content must be a string, got {type(content).__name__}")
    path = _clean_path(path)
    with regional_state.LOCK:
        _check_region(region)
        fs = _fs(account, region, fs_id)
        pump()
        if efs_replication.is_read_only(account, region, fs_id):
            raise ReadOnly(
                f"{fs_id} in {region} is read-only (ReplicationOverwriteProtection "
                f"{efs_replication.protection(account, region, fs_id)}): "
                f"EROFS: Read-only file system, cannot write {path!r}"
            )
        _store(("efs", account, region, fs_id), fs).entries.append((regional_state.now(), (path, content)))


def list_files(account: str, region: str, fs_id: str) -> dict[str, str]:
    """Every file on the file system now, path -> content."""
    with regional_state.LOCK:
        _check_region(region)
        fs = _fs(account, region, fs_id)
        pump()
        return _fold_files(_store(("efs", account, region, fs_id), fs).entries)


def read_file(account: str, region: str, fs_id: str, path: str) -> str:
    """Content of ``path``; NotFound when absent."""
    path = _clean_path(path)
    files = list_files(account, region, fs_id)
    if path not in files:
        raise NotFound(f"{path!r} does not exist on {fs_id} in {region} (ENOENT)")
    return files[path]


def _rg(account: str, region: str, rg_id: str) -> Any:
    from moto.elasticache.models import elasticache_backends  # noqa: PLC0415

    rg = elasticache_backends[account][region].replication_groups.get(rg_id)
    if rg is None:
        raise NotFound(f"replication group {rg_id} not found in {region}")
    return rg


def set_key(account: str, region: str, rg_id: str, key: str, value: str) -> None:
    """SET ``key`` on the replication group; ReadOnly on a Global Datastore secondary."""
    if not key or not isinstance(value, str):
        raise BadRequest(f"key={key!r}, value={value!r}: give a key and a string value")
    with regional_state.LOCK:
        _check_region(region)
        rg = _rg(account, region, rg_id)
        pump()
        if elasticache_global.member_role(account, region, rg_id) == elasticache_global.SECONDARY:
            raise ReadOnly(
                f"{rg_id} in {region} is a Global Datastore secondary: "
                "READONLY You can't write against a read only replica."
            )
        _store(("cache", account, region, rg_id), rg).entries.append((regional_state.now(), (key, value)))


def get_key(account: str, region: str, rg_id: str, key: str) -> str | None:
    """GET ``key``: its value, or None when absent."""
    with regional_state.LOCK:
        _check_region(region)
        rg = _rg(account, region, rg_id)
        pump()
        value: str | None = None
        for _, (name, stored) in _store(("cache", account, region, rg_id), rg).entries:
            if name == key:
                value = stored
        return value


# --- HTTP ---------------------------------------------------------------------------------------


def _account(request: Any) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415

    return str(
        os.environ.get("MOTO_ACCOUNT_ID") or request.headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    )


def _url_map() -> Any:
    from werkzeug.routing import Map, Rule  # noqa: PLC0415

    p = PREFIX
    return Map(
        [
            Rule(f"{p}/state", endpoint="state", methods=["GET"]),
            Rule(f"{p}/config", endpoint="config", methods=["PUT", "GET"]),
            Rule(f"{p}/reset", endpoint="reset", methods=["POST"]),
            Rule(f"{p}/sync", endpoint="sync", methods=["POST"]),
            Rule(f"{p}/clock/advance", endpoint="advance", methods=["POST"]),
            Rule(f"{p}/regions/<region>/fail", endpoint="fail", methods=["POST"]),
            Rule(f"{p}/regions/<region>/restore", endpoint="restore", methods=["POST"]),
            Rule(f"{p}/rds/<region>/<db_id>/tables/<table>/rows", endpoint="rows", methods=["GET", "POST"]),
            Rule(f"{p}/efs/<region>/<fs_id>/files", endpoint="files", methods=["GET"]),
            Rule(f"{p}/efs/<region>/<fs_id>/files/<path:path>", endpoint="file", methods=["GET", "PUT"]),
            Rule(f"{p}/elasticache/<region>/<rg_id>/keys/<key>", endpoint="key", methods=["GET", "PUT"]),
        ]
    )


def _body(request: Any) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadRequest(f"request body is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def _state() -> dict[str, Any]:
    return {
        "now": regional_state.now(),
        "failed_regions": regional_state.failed_regions(),
        "config": config(),
    }


def _dispatch(endpoint: str, args: dict[str, Any], request: Any) -> tuple[int, dict[str, Any]]:
    account = _account(request)
    method = request.method
    if endpoint == "state":
        return 200, _state()
    if endpoint == "config":
        if method == "PUT":
            return 200, {"config": configure(**_body(request))}
        return 200, {"config": config()}
    if endpoint == "reset":
        reset()
        return 200, _state()
    if endpoint == "sync":
        sync()
        return 200, _state()
    if endpoint == "advance":
        seconds = _body(request).get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise BadRequest(f"seconds={seconds!r}: give a number >= 0")
        return 200, {"now": advance_clock(float(seconds))}
    if endpoint == "fail":
        fail_region(args["region"])
        return 200, _state()
    if endpoint == "restore":
        restore_region(args["region"])
        return 200, _state()
    if endpoint == "rows":
        if method == "POST":
            insert_row(account, args["region"], args["db_id"], args["table"], _body(request).get("row"))  # type: ignore[arg-type]
            return 201, {"inserted": 1}
        return 200, {"rows": select_rows(account, args["region"], args["db_id"], args["table"])}
    if endpoint == "files":
        return 200, {"files": list_files(account, args["region"], args["fs_id"])}
    if endpoint == "file":
        if method == "PUT":
            write_file(account, args["region"], args["fs_id"], args["path"], _body(request).get("content"))  # type: ignore[arg-type]
            return 200, {"path": args["path"]}
        return 200, {
            "path": args["path"],
            "content": read_file(account, args["region"], args["fs_id"], args["path"]),
        }
    if endpoint == "key":
        if method == "PUT":
            set_key(account, args["region"], args["rg_id"], args["key"], _body(request).get("value"))  # type: ignore[arg-type]
            return 200, {"key": args["key"]}
        return 200, {
            "key": args["key"],
            "value": get_key(account, args["region"], args["rg_id"], args["key"]),
        }
    raise NotFound(f"no data-plane endpoint {endpoint}")  # pragma: no cover - the map lists them all


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    """Answer one data-plane request (WSGI)."""
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415
    from werkzeug.wrappers import Request, Response  # noqa: PLC0415

    request = Request(environ)
    try:
        endpoint, args = _URLS.bind_to_environ(environ).match()
        status, payload = _dispatch(endpoint, args, request)
    except DataPlaneError as e:
        status, payload = e.status, {"error": e.code, "message": str(e)}
    except HTTPException as e:
        status, payload = e.code or 400, {"error": "BadRequest", "message": e.description}
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    return response(environ, start_response)


_URLS: Any = None
_installed = False


def install() -> None:
    """Serve the data plane on moto's server and make moto's API honour the outage switch."""
    global _installed, _URLS  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.core.exceptions import ServiceException  # noqa: PLC0415
    from moto.core.responses import ActionResult, BaseResponse  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

    class _ServiceUnavailable(ServiceException):
        # Defined outside moto so moto does not look it up in a moto service's error model.
        code = "ServiceUnavailable"

    _URLS = _url_map()
    original_call = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("PATH_INFO", "")).startswith(PREFIX + "/"):
            return wsgi_app(environ, start_response)
        return original_call(self, environ, start_response)

    patch_attr(DomainDispatcherApplication, "__call__", __call__)

    original_action = BaseResponse.call_action

    # AWS "Common Errors" (every API reference): ServiceUnavailable, HTTP 503 — "The request has
    # failed due to a temporary failure of the server."
    def call_action(self: Any) -> Any:
        region = getattr(self, "region", None)
        if (
            region
            and regional_state.is_failed(region)
            and self.boto3_service_name not in regional_state.GLOBAL_SERVICES
        ):
            error = _ServiceUnavailable(
                "ServiceUnavailable", f"Region {region} is unavailable (emulated regional outage)."
            )
            with warnings.catch_warnings():
                # moto warns that the service model has no such shape: the code is AWS's common error.
                warnings.simplefilter("ignore", UserWarning)
                _, headers, body = self.serialized(ActionResult(error))
            headers["status"] = "503"
            return 503, headers, body
        return original_action(self)

    patch_attr(BaseResponse, "call_action", call_action)

    # moto's reset (``/moto-api/reset``, ``reset_backends``) ends in BackendDict.reset(): a clean
    # emulator must not keep data, a shifted clock or an outage from before.
    from moto.core.base_backend import BackendDict  # noqa: PLC0415

    original_reset = BackendDict.__dict__["reset"].__func__

    def reset_backends(cls: Any) -> None:
        original_reset(cls)
        reset()

    patch_attr(BackendDict, "reset", classmethod(reset_backends))
    _installed = True
