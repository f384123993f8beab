"""ECS tasks as real local processes of the StreamFlix app (``app/streamflix_app``), health-checked for real.

With engines on (:func:`streamflix_dr_emulator.engines.enabled`), an ECS service's running tasks are
``python -m streamflix_app`` processes started from the service's task definition:

* **Environment**: the container's ``environment``; ``secrets`` resolved from the emulated Secrets
  Manager of the service's region by ``valueFrom`` (ARN or name, optionally ``:json-key:version-stage:
  version-id`` as ECS documents: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
  A secret that does not resolve starts no task; ECS stops such a task with ``ResourceInitializationError:
  unable to pull secrets or registry auth`` (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html),
  recorded in the service's events.
* **The image** is "this app": an image missing from the region's ECR starts nothing (``fixes.ecs_images``
  sets ``streamflix_task_failure``; this module then keeps no process).
* **The EFS volume** (``efsVolumeConfiguration.fileSystemId``) is its ``engines.efs_fs`` directory, given to
  the app as ``MEDIA_PATH``. What stands for the container image's trust store: ``DB_CA_BUNDLE`` and
  ``REDIS_CA_BUNDLE`` point at the run's RDS and ElastiCache CAs (on AWS the image carries the RDS global
  bundle and the system CAs). What stands for the task's ENI: each task gets its own loopback address
  ``127.0.0.<n>`` (``BIND_ADDRESS``) and listens on the container port, as every awsvpc task has its own IP
  and the same port (moto keys a target group's targets by ``Id`` alone, so two tasks on 127.0.0.1 would
  be one target).
* **Read-only destinations**: the app never holds ``CAP_DAC_OVERRIDE``: as a normal user it runs as that
  user; when the emulator runs as root it runs through ``setpriv --bounding-set=-all`` (uid 0 with no
  capability at all, so permission bits bind it as they bind any owner). While
  ``efs_replication.is_read_only`` says so (a replication destination, or protection DISABLED) the file
  system's tree has no write bits (re-applied every second, since syncs add directories); the write bits
  come back when the replication is deleted (failover). A write through the app then fails with
  ``EACCES`` (the app answers 503 read-only), as an NFS client of a destination gets ``EROFS`` on AWS.
  EFS replication itself (``efs_fs``, in the emulator's process) still writes the destination.
* **Targets**: each task is registered in its service's target groups (``Id`` its address, ``Port`` the
  container port) and health-checked for real on the group's protocol, port, path, matcher, interval,
  timeout and thresholds. Intervals are in emulated seconds (``regional_state.now()``, so advancing the
  emulated clock makes checks due), multiplied by :func:`configure`'s ``time_scale`` (1.0 by default; a
  drill or test sets it below 1 to run the same check counts faster). DescribeTargetHealth answers the
  checker's state: ``initial`` (``Elb.RegistrationInProgress`` before the first check,
  ``Elb.InitialHealthChecking`` after), ``healthy`` after one passed check for a newly registered
  target ("After your target is registered, it must pass one health check to be considered healthy")
  and after ``HealthyThresholdCount`` consecutive passes for an unhealthy one, ``unhealthy`` after
  ``UnhealthyThresholdCount`` consecutive failures (``Target.ResponseCodeMismatch``, ``Target.Timeout``,
  ``Target.FailedHealthChecks``). Codes and states:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html; thresholds:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html.
* **Scaling**: CreateService, UpdateService (and anything else that changes ``desiredCount``, e.g.
  Application Auto Scaling or a stack update; the checker reconciles every second) starts and stops
  processes. At most ``max_tasks_per_service`` (default 2) run for real; DescribeServices keeps saying the
  desired count. :func:`describe` says how many are real. Stopping a task deregisters it first
  (no draining delay modelled), then SIGTERM (SIGKILL after 5 s), as ECS stops a task.
* **Region outage**: each task is an engine of its region; ``engines.fail_region`` freezes it (SIGSTOP: the
  process neither answers nor dies), ``restore_region`` thaws it (SIGCONT).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import http.client
import importlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamflix_dr_emulator import efs_replication, engines, regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

APP_ENV_VAR = "STREAMFLIX_APP_DIR"
TICK_SECONDS = 0.1
RECONCILE_EVERY_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0
RETRY_SECONDS = 10.0

_lock = threading.RLock()
_installed = False
_settings: dict[str, float] = {"max_tasks_per_service": 2, "time_scale": 1.0}
_services: dict[tuple[str, str, str, str], ServiceTasks] = {}
_used_addresses: set[str] = set()
_checker: threading.Thread | None = None
_stop_checker = threading.Event()
_atexit_registered = False
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="ecs-health")
_fs_modes: dict[str, tuple[bool, float]] = {}  # directory -> (writable, when applied)


class TaskStartError(Exception):
    """A task could not start (the reason ECS would give)."""


def app_dir() -> Path:
    """Where ``streamflix_app`` lives: ``$STREAMFLIX_APP_DIR`` or ``<repo>/app``."""
    configured = os.environ.get(APP_ENV_VAR)
    path = Path(configured) if configured else Path(__file__).resolve().parents[3] / "app"
    if not (path / "streamflix_app" / "server.py").is_file():
        raise TaskStartError(
            f"{path}: the StreamFlix app (streamflix_app/server.py) is not there; set {APP_ENV_VAR} to the "
            "repository's app/ directory"
        )
    return path


def configure(max_tasks_per_service: int | None = None, time_scale: float | None = None) -> dict[str, float]:
    """Bound the real processes per service; scale health-check intervals and timeouts (the settings)."""
    with _lock:
        if max_tasks_per_service is not None:
            if max_tasks_per_service < 0:
                raise ValueError(f"max_tasks_per_service={max_tasks_per_service!r} must be >= 0")
            _settings["max_tasks_per_service"] = int(max_tasks_per_service)
        if time_scale is not None:
            if not 0 < time_scale <= 1:
                raise ValueError(f"time_scale={time_scale!r} must be in (0, 1]")
            _settings["time_scale"] = float(time_scale)
        return dict(_settings)


# --- health state of one registered target ---------------------------------------------------------


@dataclass
class TargetHealth:
    target_group_arn: str
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    passes: int = 0
    failures: int = 0
    next_due: float = 0.0
    checks: int = 0
    in_flight: bool = False
    healthy_since: float | None = None  # time.monotonic()


@dataclass
class AppTask:
    """One real app process (an engine of its region: fail = SIGSTOP, restore = SIGCONT, stop)."""

    task_id: str
    account_id: str
    region: str
    cluster: str
    service: str
    task_definition: str
    address: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    media_dir: Path | None
    fs_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    health: dict[str, TargetHealth] = field(default_factory=dict)
    container_name: str = ""
    frozen: bool = False
    stopped: bool = False

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def fail(self) -> None:
        if not self.stopped and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def restore(self) -> None:
        if not self.stopped and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        engines.unregister(self)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
                self.process.terminate()
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        with _lock:
            _used_addresses.discard(self.address)

    def memory_bytes(self) -> int:
        """Proportional set size of the process (psutil), 0 when it is gone."""
        import psutil  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            return int(psutil.Process(self.process.pid).memory_full_info().pss)
        except (psutil.Error, AttributeError):
            return 0

    def describe(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "address": self.address,
            "port": self.port,
            "pid": self.process.pid,
            "alive": self.process.poll() is None,
            "frozen": self.frozen,
            "logPath": str(self.log_path),
            "mediaPath": str(self.media_dir) if self.media_dir else None,
            "targetHealth": {arn: h.state for arn, h in self.health.items()},
        }


@dataclass
class ServiceTasks:
    account_id: str
    region: str
    cluster: str
    service: str
    tasks: list[AppTask] = field(default_factory=list)
    desired: int = 0
    failure: str | None = None
    failed_at: float = 0.0  # time.monotonic() of the last start that failed (retried after RETRY_SECONDS)


# --- task definition -> process ---------------------------------------------------------------------


def _get(d: Any, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if isinstance(d, dict) and d.get(key) is not None:
            return d[key]
    return default


def resolve_secret(account_id: str, region: str, value_from: str) -> str:
    """A task definition secret's value from the region's Secrets Manager (ARN or name, json-key form)."""
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

    secret_id, json_key, stage, version = value_from, "", None, None
    if value_from.startswith("arn:"):
        parts = value_from.split(":")
        if len(parts) < 7 or parts[2] != "secretsmanager":
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"{value_from} is not a Secrets Manager ARN (SSM parameters are not modelled by the emulator)"
            )
        secret_id = ":".join(parts[:7])
        extra = [*parts[7:], "", "", ""]
        json_key, stage, version = extra[0], extra[1] or None, extra[2] or None
    try:
        backend = secretsmanager_backends[account_id][region]
        answer = backend.get_secret_value(secret_id=secret_id, version_id=version, version_stage=stage)  # type: ignore[arg-type]
    except Exception as exc:
        raise TaskStartError(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
            f"retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {value_from} from secrets manager: {type(exc).__name__}: {exc}"
        ) from exc
    text = str(answer.get("SecretString") or "")
    if json_key:
        try:
            return str(json.loads(text)[json_key])
        except (ValueError, KeyError) as exc:
            raise TaskStartError(
                f"ResourceInitializationError: unable to pull secrets or registry auth: secret {secret_id} "
                f"has no JSON key {json_key!r}"
            ) from exc
    return text


def _launcher() -> list[str]:
    """The command prefix that runs the app without root's power to ignore file permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise TaskStartError(
            "the emulator runs as root and util-linux's setpriv is missing: without it the app process could "
            "write into a read-only EFS destination; install util-linux or run the emulator as a normal user"
        )
    # uid 0 with an empty bounding set execs with no capabilities (capabilities(7), "Capabilities and
    # execution of programs by root"): no CAP_DAC_OVERRIDE, so permission bits bind it like any owner.
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--"]


def apply_fs_mode(directory: Path, writable: bool, *, force: bool = False) -> None:
    """Make the tree writable for the app (owner write bits) or not (a replication destination)."""
    key = str(directory)
    now = time.monotonic()
    with _lock:
        last = _fs_modes.get(key)
        # A read-only tree is re-applied every second: a sync may have created new directories in it.
        if not force and last is not None and last[0] is writable and (writable or now - last[1] < 1.0):
            return
        _fs_modes[key] = (writable, now)
    for root, dirs, files in os.walk(directory):
        for name in [".", *dirs, *files]:
            path = os.path.join(root, name) if name != "." else root
            with contextlib.suppress(OSError):
                if os.path.islink(path):
                    continue
                mode = os.stat(path).st_mode & 0o7777
                new = (mode | 0o200) if writable else (mode & ~0o222)
                if new != mode:
                    os.chmod(path, new)


def _free_address(port: int) -> str:
    for n in range(2, 255):
        address = f"127.0.0.{n}"
        with _lock:
            if address in _used_addresses:
                continue
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
        with _lock:
            _used_addresses.add(address)
        return address
    raise TaskStartError(f"no loopback address 127.0.0.2-254 has port {port} free")


def _access_point_root(account_id: str, region: str, fs_id: str, access_point_id: str, fs_root: Path) -> Path:
    """The directory a mount through the access point sees: its ``RootDirectory.Path``. When missing,
    "EFS creates the root directory using the CreationInfo settings when a client connects"; without
    ``CreationInfo`` "attempts to mount the file system using the access point will fail"
    (https://docs.aws.amazon.com/efs/latest/ug/API_RootDirectory.html). On a read-only file system (a
    replication destination) nothing can create it: the mount fails until replication brings it.
    """
    from moto.efs.models import efs_backends  # noqa: PLC0415

    def failed(why: str) -> TaskStartError:
        return TaskStartError(
            "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: "
            f"mount of {fs_id} through access point {access_point_id} failed: {why}"
        )

    access_point = efs_backends[account_id][region].access_points.get(access_point_id)
    if access_point is None or str(access_point.file_system_id) != fs_id:
        raise failed(f"the access point does not exist for {fs_id} in {region}")
    directory = access_point.root_directory or {}
    path = str(_get(directory, "Path", "path", default="/")).strip("/")
    root = fs_root / path if path else fs_root
    creation = _get(directory, "CreationInfo", "creationInfo", default={}) or {}
    if not root.is_dir():
        if not creation:
            raise failed(
                f"its root directory /{path} does not exist and the access point has no CreationInfo"
            )
        if efs_replication.is_read_only(account_id, region, fs_id):
            raise failed(
                f"its root directory /{path} does not exist and the file system is read-only (a replication "
                "destination: it appears with the next sync after the source's first mount created it)"
            )
        root.mkdir(parents=True)
        permissions = _get(creation, "Permissions", "permissions")
        if permissions:
            root.chmod(int(str(permissions), 8))
    return root


def _media_dir(
    account_id: str, region: str, container: dict[str, Any], td: Any
) -> tuple[Path | None, str | None]:
    from streamflix_dr_emulator.engines import efs_fs  # noqa: PLC0415

    volumes = {str(_get(v, "name", "Name")): v for v in (getattr(td, "volumes", None) or [])}
    for mount in _get(container, "mountPoints", "MountPoints", default=[]) or []:
        volume = volumes.get(str(_get(mount, "sourceVolume", "SourceVolume")))
        efs = _get(volume or {}, "efsVolumeConfiguration", "eFSVolumeConfiguration", "EFSVolumeConfiguration")
        if not efs:
            continue
        fs_id = str(_get(efs, "fileSystemId", "FilesystemId", "FileSystemId"))
        try:
            root = efs_fs.get(account_id, region, fs_id).root
        except OSError as exc:
            raise TaskStartError(
                f"ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: "
                f"mount of {fs_id} failed: {exc}"
            ) from exc
        auth = _get(efs, "authorizationConfig", "AuthorizationConfig", default={}) or {}
        access_point_id = _get(auth, "accessPointId", "AccessPointId")
        if access_point_id:
            root = _access_point_root(account_id, region, fs_id, str(access_point_id), root)
        return root, fs_id
    return None, None


def _start_task(backend: Any, service: Any, td: Any) -> AppTask:
    from streamflix_dr_emulator.engines import elasticache_hooks, rds_hooks  # noqa: PLC0415

    account_id, region = backend.account_id, backend.region_name
    containers = list(getattr(td, "container_definitions", None) or [])
    container = next((c for c in containers if _get(c, "essential", "Essential", default=True)), None)
    if container is None:
        raise TaskStartError(f"task definition {td.arn} has no essential container")
    mappings = _get(container, "portMappings", "PortMappings", default=[]) or []
    if not mappings:
        raise TaskStartError(f"task definition {td.arn}: container {_get(container, 'name')} maps no port")
    port = int(_get(mappings[0], "containerPort", "ContainerPort"))
    env: dict[str, str] = {}
    for item in _get(container, "environment", "Environment", default=[]) or []:
        env[str(_get(item, "name", "Name"))] = str(_get(item, "value", "Value", default=""))
    for item in _get(container, "secrets", "Secrets", default=[]) or []:
        env[str(_get(item, "name", "Name"))] = resolve_secret(
            account_id, region, str(_get(item, "valueFrom", "ValueFrom"))
        )
    media, fs_id = _media_dir(account_id, region, container, td)
    address = _free_address(port)
    env.update(
        {
            "BIND_ADDRESS": address,
            "PORT": str(port),
            "DB_CA_BUNDLE": str(rds_hooks.ca().ca_file),
            "REDIS_CA_BUNDLE": str(elasticache_hooks.certificate_authority().ca_file),
            "PYTHONPATH": str(app_dir()),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
    )
    if media is not None:
        env["MEDIA_PATH"] = str(media)
        apply_fs_mode(media, not efs_replication.is_read_only(account_id, region, str(fs_id)), force=True)
    task_id = uuid.uuid4().hex
    log_dir = engines.run_dir() / "ecs" / region / service.name
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{task_id}.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [*_launcher(), sys.executable, "-m", "streamflix_app"],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    task = AppTask(
        task_id=task_id,
        account_id=account_id,
        region=region,
        cluster=service.cluster_name,
        service=service.name,
        task_definition=str(service.task_definition),
        address=address,
        port=port,
        process=process,
        log_path=log_path,
        media_dir=media,
        fs_id=fs_id,
    )
    task.container_name = str(_get(container, "name", "Name", default=""))
    _sync_targets(task, service)
    engines.register(region, task)
    log.info("ECS %s/%s: task %s pid %d on %s:%d", region, service.name, task_id, process.pid, address, port)
    return task


def _elbv2(account_id: str, region: str) -> Any:
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    return elbv2_backends[account_id][region]


def _register_target(account_id: str, region: str, arn: str, address: str, port: int) -> None:
    _elbv2(account_id, region).register_targets(arn, [{"Id": address, "Port": port}])


def _sync_targets(task: AppTask, service: Any) -> None:
    """Register the task in the target groups of the service's ``loadBalancers`` (they may be set after
    CreateService: the CloudFormation model adds them), deregister it from groups no longer there."""
    wanted = []
    for lb in getattr(service, "load_balancers", None) or []:
        arn = _get(lb, "targetGroupArn", "TargetGroupArn")
        if (
            arn
            and _get(lb, "containerName", "ContainerName", default=task.container_name) == task.container_name
        ):
            wanted.append(str(arn))
    for arn in wanted:
        if arn not in task.health:
            _register_target(task.account_id, task.region, arn, task.address, task.port)
            task.health[arn] = TargetHealth(arn, next_due=regional_state.now())
    for arn in [a for a in task.health if a not in wanted]:
        with contextlib.suppress(Exception):
            _elbv2(task.account_id, task.region).deregister_targets(
                arn, [{"Id": task.address, "Port": task.port}]
            )
        del task.health[arn]


def _deregister(task: AppTask) -> None:
    for arn in task.health:
        with contextlib.suppress(Exception):
            _elbv2(task.account_id, task.region).deregister_targets(
                arn, [{"Id": task.address, "Port": task.port}]
            )


def _event(service: Any, message: str) -> None:
    with contextlib.suppress(Exception):
        service.events.insert(
            0, {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC), "message": message}
        )


# --- reconcile a service ----------------------------------------------------------------------------


def reconcile(backend: Any, service: Any, *, background: bool = False) -> ServiceTasks | None:
    """Start or stop processes so min(desiredCount, the bound) run (none when the image is missing).

    ``background`` (the checker's periodic pass) retries a failed start only every RETRY_SECONDS; an API
    call (CreateService, UpdateService) tries at once.
    """
    if not engines.enabled():
        return None
    key = (backend.account_id, backend.region_name, str(service.cluster_name), str(service.name))
    failure = getattr(service, "streamflix_task_failure", None)
    active = getattr(service, "status", "ACTIVE") == "ACTIVE"
    desired = int(service.desired_count or 0) if active else 0
    with _lock:
        state = _services.setdefault(key, ServiceTasks(*key))
        state.desired = desired
        retrying = background and state.failed_at and time.monotonic() - state.failed_at < RETRY_SECONDS
        if failure or not retrying:
            state.failure = failure
        want = 0 if failure else desired
        want = min(want, int(_settings["max_tasks_per_service"]))
        stale = [
            t
            for t in state.tasks
            if t.task_definition != str(service.task_definition) or t.process.poll() is not None
        ]
        keep = [t for t in state.tasks if t not in stale]
        surplus = keep[want:]
        keep = keep[:want]
        state.tasks = keep
    for task in keep:
        _sync_targets(task, service)
    for task in stale + surplus:
        _deregister(task)
        task.stop()
        if task in stale and task.process.returncode not in (None, 0, -signal.SIGTERM):
            _event(
                service, f"(service {service.name}) (task {task.task_id}) stopped: Essential container exited"
            )
    started: list[AppTask] = []
    if len(keep) < want and service.task_definition and not retrying:
        td = backend.describe_task_definition(service.task_definition)
        for _ in range(want - len(keep)):
            try:
                started.append(_start_task(backend, service, td))
            except TaskStartError as exc:
                with _lock:
                    state.failure = str(exc)
                    state.failed_at = time.monotonic()
                _event(service, f"(service {service.name}) (task {uuid.uuid4().hex}) stopped: {exc}")
                log.warning("ECS %s/%s: task not started: %s", backend.region_name, service.name, exc)
                break
    with _lock:
        state.tasks.extend(started)
        if started:
            state.failed_at = 0.0
            state.failure = None
    if started:
        # As ECS writes it: "(service <name>) has started <n> tasks: (task <id>) ..." (service event messages,
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html). A
        # newer start supersedes the failures of earlier attempts for whoever reads the events.
        ids = " ".join(f"(task {t.task_id})" for t in started)
        _event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")
    if not background:
        _ensure_checker()
    return state


def _all_services() -> list[tuple[Any, Any]]:
    from moto.ecs.models import ecs_backends  # noqa: PLC0415

    found = []
    for account_backends in list(ecs_backends.values()):
        for backend in list(account_backends.values()):
            for service in list(getattr(backend, "services", {}).values()):
                found.append((backend, service))
    return found


def _reconcile_all() -> None:
    """Replace dead processes, follow changed loadBalancers, retry failed starts, forget deleted services.

    Only services this module already runs (CreateService/UpdateService reached it while engines were
    on): after :func:`forget_all` nothing restarts behind the caller's back.
    """
    seen = set()
    for backend, service in _all_services():
        key = (backend.account_id, backend.region_name, str(service.cluster_name), str(service.name))
        seen.add(key)
        with _lock:
            known = key in _services
        if known:
            reconcile(backend, service, background=True)
    with _lock:
        gone = [k for k in _services if k not in seen]
        tasks = [t for k in gone for t in _services.pop(k).tasks]
    for task in tasks:
        _deregister(task)
        task.stop()


# --- health checks ----------------------------------------------------------------------------------


def _matches(matcher: Any, status: int) -> bool:
    codes = str(_get(matcher or {}, "HttpCode", "GrpcCode", default="200"))
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


def _probe(task: AppTask, tg: Any, timeout: float) -> tuple[bool, str | None, str | None]:
    """One health check: (passed, reason, description)."""
    port = tg.health_check_port
    port = task.port if port in (None, "traffic-port") else int(port)
    protocol = str(tg.health_check_protocol or tg.protocol or "HTTP").upper()
    path = tg.health_check_path or "/"
    if protocol == "HTTPS":
        # The load balancer does not validate the target's certificate (see app/streamflix_app/server.py).
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            task.address, port, timeout=timeout, context=unverified_tls()
        )
    else:
        conn = http.client.HTTPConnection(task.address, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0", "Connection": "close"})
        response = conn.getresponse()
        response.read()
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        conn.close()
    if _matches(tg.matcher, response.status):
        return True, None, None
    return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{response.status}]"


_unverified: ssl.SSLContext | None = None


def unverified_tls() -> ssl.SSLContext:
    """One client context that does not validate the peer, as the ALB does with targets (built once:
    ``ssl.create_default_context`` loads the system trust store on every call, tens of milliseconds)."""
    global _unverified  # noqa: PLW0603
    with _lock:
        if _unverified is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            _unverified = context
        return _unverified


def _check(task: AppTask, health: TargetHealth, tg: Any) -> None:
    scale = _settings["time_scale"]
    timeout = max(0.2, float(tg.health_check_timeout_seconds) * scale)
    try:
        passed, reason, description = _probe(task, tg, timeout)
    finally:
        health.in_flight = False
    with _lock:
        if task.stopped:
            return
        health.checks += 1
        if passed:
            health.passes += 1
            health.failures = 0
            # A newly registered target is healthy after one passed check; an unhealthy one after
            # HealthyThresholdCount consecutive passes (target-group-health-checks, module docstring).
            needed = 1 if health.state == "initial" else int(tg.healthy_threshold_count)
            if health.state != "healthy" and health.passes >= needed:
                health.state, health.reason, health.description = "healthy", None, None
                health.healthy_since = time.monotonic()
            elif health.state == "initial":
                health.reason, health.description = (
                    "Elb.InitialHealthChecking",
                    "Initial health checks in progress",
                )
        else:
            health.failures += 1
            health.passes = 0
            if health.state == "initial" and health.failures < int(tg.unhealthy_threshold_count):
                health.reason, health.description = (
                    "Elb.InitialHealthChecking",
                    "Initial health checks in progress",
                )
            elif health.failures >= int(tg.unhealthy_threshold_count) or health.state == "unhealthy":
                health.state, health.reason, health.description = "unhealthy", reason, description
                health.healthy_since = None


def _tick() -> None:
    now = regional_state.now()
    scale = _settings["time_scale"]
    with _lock:
        tasks = [t for s in _services.values() for t in s.tasks]
    for task in tasks:
        if task.media_dir is not None and task.fs_id is not None:
            with contextlib.suppress(Exception):
                apply_fs_mode(
                    task.media_dir, not efs_replication.is_read_only(task.account_id, task.region, task.fs_id)
                )
        for arn, health in list(task.health.items()):
            if health.in_flight or now < health.next_due:
                continue
            try:
                tg = _elbv2(task.account_id, task.region).target_groups[arn]
            except KeyError:
                continue
            interval = float(tg.health_check_interval_seconds) * scale
            # Catch up with a clock that jumped (one check per interval), but never fall further behind.
            health.next_due = max(health.next_due + interval, now - interval)
            health.in_flight = True
            _pool.submit(_check, task, health, tg)


def _run_checker(stop: threading.Event) -> None:
    last_reconcile = 0.0
    while not stop.wait(TICK_SECONDS):
        if not engines.enabled():
            continue
        try:
            if time.monotonic() - last_reconcile >= RECONCILE_EVERY_SECONDS:
                last_reconcile = time.monotonic()
                _reconcile_all()
            _tick()
        except Exception:
            log.exception("ECS task checker")


def _ensure_checker() -> None:
    global _checker, _stop_checker, _atexit_registered  # noqa: PLW0603
    with _lock:
        if not _atexit_registered:
            # No app process outlives the emulator's interpreter (the processes share its process
            # group, so a Ctrl-C reaches them too).
            atexit.register(stop_all)
            _atexit_registered = True
        if _checker is None or not _checker.is_alive():
            _stop_checker = threading.Event()
            _checker = threading.Thread(
                target=_run_checker, args=(_stop_checker,), name="ecs-tasks", daemon=True
            )
            _checker.start()


# --- what the rest of the emulator asks --------------------------------------------------------------


def target_health(
    account_id: str, region: str, target_group_arn: str, address: str, port: int
) -> TargetHealth | None:
    with _lock:
        for state in _services.values():
            if (state.account_id, state.region) != (account_id, region):
                continue
            for task in state.tasks:
                if task.address == address and task.port == port and target_group_arn in task.health:
                    return task.health[target_group_arn]
    return None


def healthy_targets(account_id: str, region: str, target_group_arn: str) -> list[tuple[str, int]]:
    """(address, port) of the group's healthy targets, in start order."""
    with _lock:
        return [
            (t.address, t.port)
            for s in _services.values()
            if (s.account_id, s.region) == (account_id, region)
            for t in s.tasks
            if t.health.get(target_group_arn) is not None and t.health[target_group_arn].state == "healthy"
        ]


def tasks(region: str | None = None, service: str | None = None) -> list[AppTask]:
    with _lock:
        return [
            t
            for s in _services.values()
            if (region is None or s.region == region) and (service is None or s.service == service)
            for t in s.tasks
        ]


def describe(region: str | None = None) -> list[dict[str, Any]]:
    """Per service: desired count (what DescribeServices says), real processes, the bound, each task."""
    with _lock:
        states = [s for s in _services.values() if region is None or s.region == region]
        bound = int(_settings["max_tasks_per_service"])
        return [
            {
                "accountId": s.account_id,
                "region": s.region,
                "cluster": s.cluster,
                "service": s.service,
                "desiredCount": s.desired,
                "realTasks": len(s.tasks),
                "maxRealTasks": bound,
                "failure": s.failure,
                "tasks": [t.describe() for t in s.tasks],
            }
            for s in states
        ]


def stop_all() -> None:
    """Stop every task process (engines.shutdown_all stops them as engines too)."""
    with _lock:
        all_tasks = [t for s in _services.values() for t in s.tasks]
        _services.clear()
    for task in all_tasks:
        _deregister(task)
        task.stop()


def forget_all() -> None:
    """Stop every task and the checker (it starts again with the next CreateService/UpdateService)."""
    global _checker  # noqa: PLW0603
    _stop_checker.set()
    with _lock:
        _checker = None
    stop_all()
    with _lock:
        _fs_modes.clear()
        _used_addresses.clear()


def http_handler(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    """``GET /_streamflix/ecs-tasks[/<region>]``: :func:`describe` (desired vs real processes), for
    ``extension_http``."""
    del body
    if method != "GET":
        return 405, {"error": "MethodNotAllowed", "message": f"{method}: only GET"}
    region = path.strip("/") or None
    services = [s for s in describe(region) if s["accountId"] == account_id]
    return 200, {"services": services, "maxRealTasksPerService": int(_settings["max_tasks_per_service"])}


# --- moto seams -------------------------------------------------------------------------------------


def install() -> None:
    """Wrap ECS create/update/delete service and elbv2 target health. Idempotent; inert with engines off."""
    global _installed  # noqa: PLW0603 - one patch per process
    with _lock:
        if _installed:
            return
        from moto.ecs.models import EC2ContainerServiceBackend  # noqa: PLC0415
        from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup  # noqa: PLC0415

        create_service = EC2ContainerServiceBackend.create_service
        update_service = EC2ContainerServiceBackend.update_service
        delete_service = EC2ContainerServiceBackend.delete_service
        health_for = FakeTargetGroup.health_for

        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            service = create_service(self, *args, **kwargs)
            reconcile(self, service)
            return service

        def update(self: Any, *args: Any, **kwargs: Any) -> Any:
            service = update_service(self, *args, **kwargs)
            reconcile(self, service)
            return service

        def delete(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
            service = delete_service(self, cluster_name, service_name, force)
            key = (self.account_id, self.region_name, str(service.cluster_name), str(service.name))
            with _lock:
                state = _services.pop(key, None)
            for task in state.tasks if state else []:
                _deregister(task)
                task.stop()
            return service

        def health(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            if engines.enabled():
                t = self.targets.get(target["Id"])
                if t is not None:
                    state = target_health(
                        self.account_id, self.region_name, self.arn, str(t["Id"]), int(t["Port"])
                    )
                    if state is not None:
                        port = (
                            self.health_check_port if self.health_check_port != "traffic-port" else t["Port"]
                        )
                        return FakeHealthStatus(
                            t["Id"], t["Port"], port, state.state, state.reason, state.description
                        )
            return health_for(self, target, ec2_backend)

        patch_attr(EC2ContainerServiceBackend, "create_service", create)
        patch_attr(EC2ContainerServiceBackend, "update_service", update)
        patch_attr(EC2ContainerServiceBackend, "delete_service", delete)
        patch_attr(FakeTargetGroup, "health_for", health)
        if importlib.util.find_spec("streamflix_dr_emulator.extension_http") is not None:
            extension_http = importlib.import_module("streamflix_dr_emulator.extension_http")
            extension_http.register("/_streamflix/ecs-tasks", http_handler)
        _installed = True
