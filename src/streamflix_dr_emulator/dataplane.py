"""The emulated world's clock, its region-outage switch, EFS syncs on demand, and the replication
metrics of the control plane. No data lives here: rows, keys and files live only in the real engines
(``engines/``: PostgreSQL, Valkey, EFS directories), switched on by ``engines.enable(True)`` /
``STREAMFLIX_EMULATOR_ENGINES=1``.

* **time** — every interval uses :mod:`regional_state`'s emulated clock; :func:`advance_clock` moves it
  and brings the replication state up to the new now (:func:`pump`), so tests never sleep.
* **the region-outage switch** — :func:`fail_region` makes moto's API of that region answer
  ``503 ServiceUnavailable`` (the "Common Errors" every AWS API reference lists for a service that
  cannot answer) and stops that region's engines, at one instant (:mod:`outage`); global services
  (Route 53, IAM, STS...) stay up. :func:`restore_region` ends it.
* **EFS syncs** — :func:`sync` runs every EFS replication's sync now: with engines on, the directory
  engine copies the files (``engines.efs_fs``); a replication whose file systems have no directory
  (created with engines off) has nothing to copy, so its sync only completes on the control plane
  (``LastReplicatedTimestamp``). Between forced syncs, an engine-less replication completes a sync
  every ``efs_sync_interval_seconds`` after its creation (the same interval the directory engine uses,
  ``efs_fs.configure``), while both its regions answer; a sync that fell due during an outage completes
  when the regions answer again, not earlier.
* **the replication metrics the product reads**, each published into moto's CloudWatch where AWS
  publishes it, and only from what the emulator knows (no value is invented):

  - ``AWS/RDS ReplicaLag`` (dimension ``DBInstanceIdentifier``, unit Seconds, in the replica's region).
    AWS: "The amount of time a read replica DB instance lags behind the source DB instance"
    (RDS UG "Amazon CloudWatch metrics for Amazon RDS",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html); "When the ReplicaLag
    metric reaches 0, the replica has caught up to the source DB instance" (RDS UG "Monitoring
    MariaDB read replicas", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MariaDB.Replication.ReadReplicas.Monitor.html).
    A replica backed by a PostgreSQL engine gets its datapoints from the engine only
    (``engines.rds_hooks.publish_replica_lag``: the real replay lag). A replica without an engine has no
    data, so there is nothing it can lag behind: 0 while its source is reachable. While the source's
    region (or the replica's own) is in an outage the emulator cannot know the lag, so it publishes no
    datapoint; the product then reports the lag as unknown, which is what it must do on AWS too when
    the metric stops.
  - ``AWS/EFS TimeSinceLastSync`` (dimensions ``FileSystemId`` = source, ``DestinationFileSystemId``,
    unit Seconds, in the source's region). AWS: "Shows the amount of time that has passed since the last
    successful sync to the destination file system in a replication configuration. All changes to data
    on the source file system that occurred before the TimeSinceLastSync value were successfully
    replicated. Any changes on the source that occurred after TimeSinceLastSync might not be fully
    replicated." (EFS UG "CloudWatch metrics for Amazon EFS",
    https://docs.aws.amazon.com/efs/latest/ug/efs-metrics.html; "Viewing replication details",
    https://docs.aws.amazon.com/efs/latest/ug/monitoring-replication-status.html). The value is always
    now minus the last completed sync the replication records (``Replication.last_replicated``, set by
    the directory engine's syncs or by the control plane's for engine-less replications); nothing is
    published before the first sync, nor while the source region (whose CloudWatch holds the metric)
    is down.

  At most one datapoint per metric per emulated second; :func:`pump` runs on every clock move, every
  ``GetMetricStatistics`` and ``DescribeReplicationConfigurations`` (``failback_apis``), so a reader
  sees datapoints up to its own now.

HTTP API (JSON in and out) on the emulator's own port, under ``/_streamflix/dataplane``::

    GET  /state                          {"now", "failed_regions", "config"}
    GET  /config | PUT /config           {"efs_sync_interval_seconds"} -> {"config": {...}}
    POST /reset                          forget the clock offset, outages and settings
    POST /sync                           every EFS replication syncs now; fresh metric datapoints
    POST /clock/advance  {"seconds": n}  {"now"}
    POST /regions/<region>/fail | /restore

Errors: ``{"error": code, "message": ...}`` with 400 BadRequest or 404 NotFound (any other path: there
is no row, file or key API; use the engines' own endpoints and clients). ``client.DataPlaneClient``
wraps all of this.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

from streamflix_dr_emulator import (
    efs_replication,
    outage,
    rds_replication,
    regional_state,
)
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/dataplane"

# One datapoint per emulated second per metric is plenty (CloudWatch's finest standard period is 60s).
_METRIC_MIN_INTERVAL = 1.0

# metric key -> emulated instant of its last datapoint (rate limiting, no data).
_last_metric: dict[tuple[str, ...], float] = {}
# region -> emulated instant its last outage ended: no sync can have completed before it.
_restored_at: dict[str, float] = {}


class DataPlaneError(Exception):
    """Base of this API's failures; ``status`` and ``code`` go on the wire."""

    status = 400
    code = "BadRequest"


class BadRequest(DataPlaneError):
    """The request names no valid value."""


class NotFound(DataPlaneError):
    """No such endpoint."""

    status = 404
    code = "NotFound"


# --- configuration, clock, outage -----------------------------------------------------------


def _efs_fs() -> Any:
    from streamflix_dr_emulator.engines import efs_fs  # noqa: PLC0415 - engines import the replication modules

    return efs_fs


def config() -> dict[str, float]:
    """``{"efs_sync_interval_seconds"}``: the EFS sync interval (shared with the directory engine)."""
    return {"efs_sync_interval_seconds": float(_efs_fs().configure()["sync_interval_seconds"])}


def configure(**values: Any) -> dict[str, float]:
    """Set ``efs_sync_interval_seconds`` (> 0); return the whole configuration."""
    known = ("efs_sync_interval_seconds",)
    for name, value in values.items():
        if name not in known:
            raise BadRequest(
                f"unknown setting {name!r}; known: {', '.join(known)} (replication lags are the engines' "
                "own: engines.net region links)"
            )
        try:
            number = float(value)
        except (TypeError, ValueError) as e:
            raise BadRequest(f"{name}={value!r} is not a number of seconds") from e
        if not number > 0:
            raise BadRequest(f"{name}={value!r} must be > 0")
    with regional_state.LOCK:
        pump()  # syncs due under the old interval complete under it
        if "efs_sync_interval_seconds" in values:
            _efs_fs().configure(sync_interval_seconds=float(values["efs_sync_interval_seconds"]))
        return config()


def advance_clock(seconds: float) -> float:
    """Advance the emulated clock, run the syncs that fell due, publish metrics; return the new time."""
    with regional_state.LOCK:
        regional_state.advance(seconds)
        pump()
        now = regional_state.now()
    _pump_engines()
    return now


def fail_region(region: str) -> None:
    """Start an emulated outage of ``region`` (APIs answer 503, engines stop answering)."""
    with regional_state.LOCK:
        pump()  # what fell due before the failure has completed; nothing after it will
        outage.fail_region(region)


def restore_region(region: str) -> None:
    """End the emulated outage of ``region`` (APIs and engines)."""
    with regional_state.LOCK:
        was_failed = regional_state.is_failed(region)
        outage.restore_region(region)
        if was_failed:
            _restored_at[region] = regional_state.now()


def reset() -> None:
    """Forget the clock offset, every outage and the settings."""
    with regional_state.LOCK:
        for region in regional_state.failed_regions():
            outage.restore_region(region)  # the engines' half of the outage ends with it
        _last_metric.clear()
        _restored_at.clear()
        efs_fs = _efs_fs()
        efs_fs.configure(sync_interval_seconds=efs_fs.DEFAULT_SYNC_INTERVAL_SECONDS)
        regional_state.reset()


def sync() -> None:
    """Every EFS replication syncs now (regions in an outage excepted) and every replication metric gets
    a fresh datapoint: with engines on, the directory engine copies the files and the PostgreSQL
    replicas report their real lag."""
    from streamflix_dr_emulator import engines  # noqa: PLC0415

    if engines.enabled():
        from streamflix_dr_emulator.engines import rds_hooks  # noqa: PLC0415

        _efs_fs().sync()
        rds_hooks.publish_replica_lag()
    pump(force=True)


def _pump_engines() -> None:
    from streamflix_dr_emulator import engines  # noqa: PLC0415

    if engines.enabled():
        _efs_fs().pump(False)


# --- the control plane's replication state ---------------------------------------------------


def _accounts(backends: Any) -> list[str]:
    return [a for a in list(backends.keys()) if a != "global"]


def _due(key: tuple[str, ...], now: float, force: bool) -> bool:
    last = _last_metric.get(key, float("-inf"))
    if (force and last < now) or now - last >= _METRIC_MIN_INTERVAL:
        _last_metric[key] = now
        return True
    return False


def pump(force: bool = False) -> None:
    """Bring the control plane's replication state up to the emulated now: the syncs of engine-less EFS
    replications that fell due (all of them now with ``force``), then one datapoint per replication
    metric (see the module docstring for what each means and when none is published)."""
    from moto.rds.models import rds_backends  # noqa: PLC0415

    with regional_state.LOCK:
        now = regional_state.now()
        _sync_engineless_efs(now, force)
        _publish_time_since_last_sync(now, force)
        for account in _accounts(rds_backends):
            _publish_replica_lag(account, now, force)


def _has_directories(rep: efs_replication.Replication) -> bool:
    efs_fs = _efs_fs()
    return bool(
        efs_fs.exists(rep.account_id, rep.source_region, rep.source_id)
        and efs_fs.exists(rep.account_id, rep.destination_region, rep.destination_id)
    )


def _sync_engineless_efs(now: float, force: bool) -> None:
    interval = float(_efs_fs().configure()["sync_interval_seconds"])
    for rep in efs_replication.replications():
        if _has_directories(rep):
            continue  # the directory engine syncs it (efs_fs) and records each sync itself
        regions = (rep.source_region, rep.destination_region)
        if any(regional_state.is_failed(r) for r in regions):
            continue
        last = rep.last_replicated if rep.last_replicated is not None else rep.creation_time
        if force:
            at: float | None = now
        elif now >= last + interval:
            at = last + interval * math.floor((now - last) / interval)
            # A sync due while a region was down completes once both answer again, not before.
            at = max([at, *(_restored_at.get(r, at) for r in regions)])
        else:
            at = None
        if at is not None:
            # Nothing to copy (no directories, no data): the sync completes on the control plane only.
            efs_replication.record_sync(rep, min(at, now))
            _last_metric[("TimeSinceLastSync", rep.account_id, rep.source_id)] = now


def _publish_time_since_last_sync(now: float, force: bool) -> None:
    for rep in efs_replication.replications():
        if rep.last_replicated is None or regional_state.is_failed(rep.source_region):
            continue  # no sync yet / the source region's CloudWatch is down with it
        if _due(("TimeSinceLastSync", rep.account_id, rep.source_id), now, force):
            efs_replication.publish_time_since_last_sync(rep)


def _publish_replica_lag(account: str, now: float, force: bool) -> None:
    from moto.rds.models import rds_backends  # noqa: PLC0415

    from streamflix_dr_emulator.engines import rds_hooks  # noqa: PLC0415

    for region, db_id in rds_replication.replicas(account):
        db = rds_backends[account][region].databases.get(db_id)
        if db is None or rds_hooks.engine_of(db) is not None:
            continue  # an engine-backed replica's lag comes from its engine only
        source = rds_replication.source_of(account, region, db_id)
        if (
            source is None
            or regional_state.is_failed(region)
            or regional_state.is_failed(source[0])
            or not rds_replication.exists(account, source[0], source[1])
        ):
            continue  # lag unknown: no datapoint
        if _due(("ReplicaLag", account, region, db_id), now, force):
            rds_replication.publish_replica_lag(account, region, db_id, 0.0)


# --- HTTP ---------------------------------------------------------------------------------------


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
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise BadRequest(f"seconds={seconds!r}: give a number >= 0")
        return 200, {"now": advance_clock(float(seconds))}
    if endpoint == "fail":
        fail_region(args["region"])
        return 200, _state()
    if endpoint == "restore":
        restore_region(args["region"])
        return 200, _state()
    raise NotFound(f"no data-plane endpoint {endpoint}")  # pragma: no cover - the map lists them all


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    """Answer one request of this API (WSGI)."""
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415
    from werkzeug.wrappers import Request, Response  # noqa: PLC0415

    request = Request(environ)
    try:
        endpoint, args = _URLS.bind_to_environ(environ).match()
        status, payload = _dispatch(endpoint, args, request)
    except DataPlaneError as e:
        status, payload = e.status, {"error": e.code, "message": str(e)}
    except HTTPException as e:
        status = e.code or 400
        code = "NotFound" if status == 404 else "BadRequest"
        message = (
            f"no endpoint {request.method} {request.path}: the emulator keeps no rows, files or keys; "
            "data lives in the engines (STREAMFLIX_EMULATOR_ENGINES=1), reached through the endpoints "
            "the AWS APIs describe"
            if status == 404
            else str(e.description)
        )
        payload = {"error": code, "message": message}
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    return response(environ, start_response)


_URLS: Any = None
_installed = False


def install() -> None:
    """Serve this API on moto's server and make moto's API honour the outage switch."""
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
    # emulator must not keep a shifted clock or an outage from before.
    from moto.core.base_backend import BackendDict  # noqa: PLC0415

    original_reset = BackendDict.__dict__["reset"].__func__

    def reset_backends(cls: Any) -> None:
        original_reset(cls)
        reset()

    patch_attr(BackendDict, "reset", classmethod(reset_backends))

    original_delete = efs_replication.delete_replication

    # AWS API: elasticfilesystem DeleteReplicationConfiguration — the syncs that fell due before the
    # configuration stops replicating have completed (https://docs.aws.amazon.com/efs/latest/ug/API_DeleteReplicationConfiguration.html).
    def delete_replication(*args: Any, **kwargs: Any) -> Any:
        pump()
        return original_delete(*args, **kwargs)

    patch_attr(efs_replication, "delete_replication", delete_replication)
    _installed = True
