"""StreamFlix application: a small HTTPS service over PostgreSQL, Redis/Valkey and the EFS mount.

Endpoints (JSON unless said otherwise):

* ``GET /health`` - checks the database (``SELECT 1``), the cache (``PING``) and the file system (the
  mount answers ``statvfs`` and can be listed). 200 only when all three answer; 503 otherwise, naming
  the failed checks in ``failed``. A store that answers but refuses writes (a hot-standby replica or a
  fenced primary: ``transaction_read_only``; a Redis replica: ``role`` slave; an EFS replication
  destination: not writable) does NOT fail the check: a warm standby with a replica is healthy for
  reads. Each check reports ``read_only`` instead.
* ``POST /titles`` ``{"id"?, "name", "metadata"?}`` -> 201 after PostgreSQL's COMMIT returned;
  ``GET /titles/<id>``; ``GET /titles?since=<ISO 8601 or epoch seconds>&limit=<n>``.
* ``PUT /sessions/<id>`` (body = the session, ``?ttl=<seconds>``) -> 201 after SET answered OK;
  ``GET /sessions/<id>`` (body as stored, ``application/octet-stream``).
* ``PUT /media/<name>`` (body = the file) -> 201 after the file was written, fsync'd and renamed into
  place (and the directory fsync'd); ``GET /media/<name>``.

A write the store did not acknowledge answers 503 with the store's error: ``{"error": "read-only"}``
for SQLSTATE 25006, Redis ``READONLY`` and ``EROFS``/``EACCES`` on the mount; ``{"error":
"unavailable"}`` with the store's message otherwise.

Environment (the task definition's; defaults in brackets): ``PORT`` [8443], ``BIND_ADDRESS``
[0.0.0.0], ``STREAMFLIX_ROLE``, ``STREAMFLIX_REGION``, ``DB_HOST``, ``DB_PORT`` [5432], ``DB_NAME``
[the secret's ``dbname`` or ``streamflix``], ``DB_SECRET`` (JSON with ``username``/``password``),
``DB_CA_BUNDLE`` [/etc/streamflix/rds-global-bundle.pem], ``REDIS_HOST``, ``REDIS_PORT`` [6379],
``REDIS_AUTH_TOKEN``, ``REDIS_CA_BUNDLE`` [the system CAs], ``MEDIA_PATH`` [/data].

TLS everywhere: PostgreSQL with ``sslmode=verify-full`` against ``DB_CA_BUNDLE`` (RDS: "Using SSL/TLS
to encrypt a connection to a DB instance",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html); Redis over TLS with
certificate and hostname verification; HTTPS served with a self-signed certificate made at start
(the ALB does not validate target certificates: "The load balancer establishes TLS connections with
the targets using certificates that you install on the targets. The load balancer does not validate
these certificates", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#target-group-routing-configuration).
The container's root file system is read-only (``ReadonlyRootFilesystem``), so the certificate and
key are kept in anonymous memory files (``memfd_create``), never on disk.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import errno
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("streamflix_app")

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_SESSION_BYTES = 64 * 1024
CHECK_TIMEOUT_SECONDS = 2.0
STORE_TIMEOUT_SECONDS = 3
READ_ONLY_SQLSTATE = "25006"
DEFAULT_DB_CA_BUNDLE = "/etc/streamflix/rds-global-bundle.pem"
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS titles ("
    " id text PRIMARY KEY,"
    " name text NOT NULL,"
    " metadata jsonb NOT NULL DEFAULT '{}'::jsonb,"
    " created_at timestamptz NOT NULL DEFAULT clock_timestamp())",
    "CREATE INDEX IF NOT EXISTS titles_created_at ON titles (created_at)",
)


class StoreError(Exception):
    """A store did not do what was asked; ``read_only`` when it refused a write as read-only."""

    def __init__(self, store: str, message: str, *, read_only: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.store = store
        self.read_only = read_only
        self.code = code


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Config:
    port: int = 8443
    bind_address: str = "0.0.0.0"  # noqa: S104 - a container listens on its task ENI
    role: str = ""
    region: str = ""
    db_host: str = ""
    db_port: int = 5432
    db_name: str = "streamflix"
    db_user: str = ""
    db_password: str = field(default="", repr=False)
    db_ca_bundle: str = DEFAULT_DB_CA_BUNDLE
    redis_host: str = ""
    redis_port: int = 6379
    redis_auth_token: str = field(default="", repr=False)
    redis_ca_bundle: str | None = None
    media_path: Path = Path("/data")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        secret: dict[str, Any] = {}
        raw = env.get("DB_SECRET", "")
        if raw:
            try:
                secret = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"DB_SECRET is not JSON with username/password: {exc}") from exc
        return cls(
            port=int(env.get("PORT") or 8443),
            bind_address=env.get("BIND_ADDRESS") or "0.0.0.0",  # noqa: S104
            role=env.get("STREAMFLIX_ROLE", ""),
            region=env.get("STREAMFLIX_REGION", ""),
            db_host=env.get("DB_HOST", ""),
            db_port=int(env.get("DB_PORT") or 5432),
            db_name=env.get("DB_NAME") or str(secret.get("dbname") or "streamflix"),
            db_user=str(secret.get("username") or ""),
            db_password=str(secret.get("password") or ""),
            db_ca_bundle=env.get("DB_CA_BUNDLE") or DEFAULT_DB_CA_BUNDLE,
            redis_host=env.get("REDIS_HOST", ""),
            redis_port=int(env.get("REDIS_PORT") or 6379),
            redis_auth_token=env.get("REDIS_AUTH_TOKEN", ""),
            redis_ca_bundle=env.get("REDIS_CA_BUNDLE") or None,
            media_path=Path(env.get("MEDIA_PATH") or "/data"),
        )


def _configured(host: str) -> bool:
    # The template passes "none" where the stack has no such store (DR base phase).
    return bool(host) and host.lower() != "none"


# --- PostgreSQL -------------------------------------------------------------------------------------


class Database:
    """A few PostgreSQL connections (TLS, verify-full), reused; a failed one is discarded."""

    def __init__(self, cfg: Config, size: int = 4) -> None:
        self.cfg = cfg
        self.size = size
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._schema_ready = False

    def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - imported when first used: health answers fast at start

        if not _configured(self.cfg.db_host):
            raise StoreError("db", "DB_HOST is not set (this stack has no database)")
        return psycopg.connect(
            host=self.cfg.db_host,
            port=self.cfg.db_port,
            dbname=self.cfg.db_name,
            user=self.cfg.db_user,
            password=self.cfg.db_password,
            sslmode="verify-full",
            sslrootcert=self.cfg.db_ca_bundle,
            connect_timeout=STORE_TIMEOUT_SECONDS,
            application_name="streamflix-app",
            options=f"-c statement_timeout={STORE_TIMEOUT_SECONDS * 1000}",
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not conn.closed and conn.info.transaction_status == 0:  # IDLE
                with self._lock:
                    if len(self._idle) < self.size:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def run(self, fn: Callable[[Any], Any], *, retry: bool = False) -> Any:
        """``fn(conn)``; psycopg errors become StoreError. ``retry``: once more on a fresh connection."""
        import psycopg  # noqa: PLC0415

        for attempt in (1, 2):
            try:
                with self.connection() as conn:
                    return fn(conn)
            except psycopg.OperationalError as exc:
                if retry and attempt == 1:
                    continue
                raise _pg_error(exc) from exc
            except psycopg.Error as exc:
                raise _pg_error(exc) from exc
        raise AssertionError("unreachable")

    def ensure_schema(self, conn: Any) -> None:
        if self._schema_ready:
            return
        exists = conn.execute("SELECT to_regclass('public.titles') IS NOT NULL").fetchone()[0]
        conn.commit()
        if not exists:
            for statement in SCHEMA:
                conn.execute(statement)
            conn.commit()
        self._schema_ready = True

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


def _pg_error(exc: Exception) -> StoreError:
    code = getattr(getattr(exc, "diag", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    message = str(exc).strip() or type(exc).__name__
    return StoreError("db", message, read_only=code == READ_ONLY_SQLSTATE, code=code)


# --- Redis / Valkey ---------------------------------------------------------------------------------


class Cache:
    """A redis-py client over TLS (certificate and host name verified); its own pool is thread-safe."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        if not _configured(self.cfg.redis_host):
            raise StoreError("cache", "REDIS_HOST is not set (this stack has no cache)")
        with self._lock:
            if self._client is None:
                import redis  # noqa: PLC0415

                self._client = redis.Redis(
                    host=self.cfg.redis_host,
                    port=self.cfg.redis_port,
                    password=self.cfg.redis_auth_token or None,
                    ssl=True,
                    ssl_cert_reqs="required",
                    ssl_ca_certs=self.cfg.redis_ca_bundle,
                    ssl_check_hostname=True,
                    socket_timeout=STORE_TIMEOUT_SECONDS,
                    socket_connect_timeout=STORE_TIMEOUT_SECONDS,
                    retry_on_timeout=False,
                )
            return self._client

    def run(self, fn: Callable[[Any], Any]) -> Any:
        import redis  # noqa: PLC0415

        try:
            return fn(self.client())
        except redis.exceptions.ReadOnlyError as exc:
            raise StoreError("cache", str(exc), read_only=True, code="READONLY") from exc
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreError("cache", str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None


# --- the EFS mount ----------------------------------------------------------------------------------


class Media:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        parts = name.split("/")
        if not name or len(name) > 512 or not all(_SEGMENT.match(p) for p in parts):
            raise HttpError(400, f"media name {name!r}: segments of [A-Za-z0-9._-], not starting with '.'")
        return self.root.joinpath(*parts)

    def write(self, name: str, data: bytes) -> None:
        target = self.path(name)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _fs_error(exc) from exc

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fs_error(exc) from exc


def _fs_error(exc: OSError) -> StoreError:
    read_only = exc.errno in {errno.EROFS, errno.EACCES, errno.EPERM}
    return StoreError(
        "fs", f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, exc.errno)})", read_only=read_only
    )


# --- health -----------------------------------------------------------------------------------------


class App:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.db = Database(cfg)
        self.cache = Cache(cfg)
        self.media = Media(cfg.media_path)
        self.started = time.time()
        self._checks = concurrent.futures.ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)
        self.db.close()
        self.cache.close()

    def _check_db(self) -> dict[str, Any]:
        def probe(conn: Any) -> tuple[Any, ...]:
            row = conn.execute(
                "SELECT 1, pg_is_in_recovery(), current_setting('transaction_read_only')"
            ).fetchone()
            conn.rollback()
            return tuple(row)

        one, in_recovery, tro = self.db.run(probe, retry=True)
        return {
            "ok": one == 1,
            "read_only": bool(in_recovery) or tro == "on",
            "in_recovery": bool(in_recovery),
        }

    def _check_cache(self) -> dict[str, Any]:
        def probe(client: Any) -> tuple[bool, str]:
            pong = client.ping()
            role = client.execute_command("ROLE")
            return bool(pong), (role[0].decode() if isinstance(role[0], bytes) else str(role[0]))

        pong, role = self.cache.run(probe)
        return {"ok": pong, "read_only": role != "master", "role": role}

    def _check_fs(self) -> dict[str, Any]:
        root = self.cfg.media_path
        try:
            os.statvfs(root)
            os.listdir(root)
        except OSError as exc:
            raise _fs_error(exc) from exc
        return {"ok": True, "read_only": not os.access(root, os.W_OK)}

    def health(self) -> tuple[int, dict[str, Any]]:
        checks = {"db": self._check_db, "cache": self._check_cache, "fs": self._check_fs}
        futures = {name: self._checks.submit(fn) for name, fn in checks.items()}
        results: dict[str, Any] = {}
        deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                results[name] = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS}s"}
            except StoreError as exc:
                results[name] = {"ok": False, "error": str(exc), **({"code": exc.code} if exc.code else {})}
            except Exception as exc:
                results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        failed = [name for name, result in results.items() if not result.get("ok")]
        body = {
            "status": "ok" if not failed else "failing",
            "failed": failed,
            "role": self.cfg.role,
            "region": self.cfg.region,
            "pid": os.getpid(),
            "checks": results,
        }
        return (200 if not failed else 503), body

    # --- titles -----------------------------------------------------------------------------------

    def create_title(self, doc: dict[str, Any]) -> dict[str, Any]:
        title_id = str(doc.get("id") or uuid.uuid4())
        name = doc.get("name")
        metadata = doc.get("metadata") or {}
        if not _ID.match(title_id):
            raise HttpError(400, f"id {title_id!r}: 1 to 128 of [A-Za-z0-9._:-]")
        if not isinstance(name, str) or not name:
            raise HttpError(400, "name: a non-empty string is required")
        if not isinstance(metadata, dict):
            raise HttpError(400, "metadata: an object is required")

        def insert(conn: Any) -> Any:
            from psycopg.types.json import Jsonb  # noqa: PLC0415

            self.db.ensure_schema(conn)
            row = conn.execute(
                "INSERT INTO titles (id, name, metadata) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING RETURNING created_at",
                (title_id, name, Jsonb(metadata)),
            ).fetchone()
            conn.commit()  # acknowledged only once COMMIT returned
            return row

        row = self.db.run(insert)
        if row is None:
            raise HttpError(409, f"title {title_id!r} exists")
        return {"id": title_id, "name": name, "metadata": metadata, "created_at": row[0].isoformat()}

    def get_title(self, title_id: str) -> dict[str, Any] | None:
        def select(conn: Any) -> Any:
            row = conn.execute(
                "SELECT id, name, metadata, created_at FROM titles WHERE id = %s", (title_id,)
            ).fetchone()
            conn.rollback()
            return row

        row = self.db.run(select, retry=True)
        return None if row is None else _title(row)

    def list_titles(self, since: dt.datetime | None, limit: int) -> list[dict[str, Any]]:
        def select(conn: Any) -> Any:
            rows = conn.execute(
                "SELECT id, name, metadata, created_at FROM titles WHERE created_at >= %s "
                "ORDER BY created_at, id LIMIT %s",
                (since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC), limit),
            ).fetchall()
            conn.rollback()
            return rows

        return [_title(r) for r in self.db.run(select, retry=True)]


def _title(row: Any) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "metadata": row[2], "created_at": row[3].isoformat()}


def _parse_since(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise HttpError(400, f"since={value!r}: ISO 8601 or epoch seconds") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# --- HTTP -------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "StreamFlix/1.0"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus the peer's delayed ACK
    # stall every response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.client_address[0], format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc, default=str).encode() + b"\n")

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise HttpError(411, "Content-Length is required")
        size = int(length)
        if size > limit:
            raise HttpError(413, f"body of {size} bytes; at most {limit}")
        return self.rfile.read(size) if size else b""

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if parts == ["health"] and method in {"GET", "HEAD"}:
                status, doc = app.health()
                self._json(status, doc)
            elif parts[:1] == ["titles"]:
                self._titles(app, method, parts[1:], query)
            elif parts[:1] == ["sessions"] and len(parts) == 2:
                self._sessions(app, method, parts[1], query)
            elif parts[:1] == ["media"] and len(parts) >= 2:
                self._media(app, method, "/".join(parts[1:]))
            else:
                raise HttpError(404, f"no route for {method} {url.path}")
        except HttpError as exc:
            self._json(exc.status, {"error": str(exc)})
        except StoreError as exc:
            doc = {
                "error": "read-only" if exc.read_only else "unavailable",
                "store": exc.store,
                "detail": str(exc),
            }
            if exc.code:
                doc["code"] = exc.code
            self._json(503, doc)

    def _titles(self, app: App, method: str, rest: list[str], query: dict[str, str]) -> None:
        if method == "POST" and not rest:
            try:
                doc = json.loads(self._body(MAX_SESSION_BYTES) or b"{}")
            except json.JSONDecodeError as exc:
                raise HttpError(400, f"body: JSON object expected ({exc})") from exc
            if not isinstance(doc, dict):
                raise HttpError(400, "body: JSON object expected")
            self._json(201, app.create_title(doc))
        elif method == "GET" and len(rest) == 1:
            title = app.get_title(rest[0])
            if title is None:
                raise HttpError(404, f"title {rest[0]!r} not found")
            self._json(200, title)
        elif method == "GET" and not rest:
            since = _parse_since(query["since"]) if "since" in query else None
            limit = min(max(int(query.get("limit", "1000")), 1), 10000)
            titles = app.list_titles(since, limit)
            self._json(200, {"titles": titles, "count": len(titles)})
        else:
            raise HttpError(405 if not rest or len(rest) == 1 else 404, f"{method} not allowed here")

    def _sessions(self, app: App, method: str, session_id: str, query: dict[str, str]) -> None:
        if not _ID.match(session_id):
            raise HttpError(400, f"session id {session_id!r}: 1 to 128 of [A-Za-z0-9._:-]")
        key = f"session:{session_id}"
        if method == "PUT":
            data = self._body(MAX_SESSION_BYTES)
            ttl = int(query["ttl"]) if "ttl" in query else None
            if app.cache.run(lambda c: c.set(key, data, ex=ttl)) is not True:
                raise StoreError("cache", "SET did not answer OK")
            self._json(201, {"id": session_id, "bytes": len(data)})
        elif method == "GET":
            value = app.cache.run(lambda c: c.get(key))
            if value is None:
                raise HttpError(404, f"session {session_id!r} not found")
            self._send(200, value, "application/octet-stream")
        else:
            raise HttpError(405, f"{method} not allowed here")

    def _media(self, app: App, method: str, name: str) -> None:
        if method == "PUT":
            data = self._body(MAX_BODY_BYTES)
            app.media.write(name, data)
            self._json(201, {"name": name, "bytes": len(data)})
        elif method == "GET":
            content = app.media.read(name)
            if content is None:
                raise HttpError(404, f"media {name!r} not found")
            self._send(200, content, "application/octet-stream")
        else:
            raise HttpError(405, f"{method} not allowed here")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, app: App, tls: ssl.SSLContext) -> None:
        self.app = app
        self.tls = tls
        family = socket.AF_INET6 if ":" in app.cfg.bind_address else socket.AF_INET
        self.address_family = family
        super().__init__((app.cfg.bind_address, app.cfg.port), Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's own thread, not in the accept loop.
        try:
            request.settimeout(30)
            tls_request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info("TLS handshake with %s failed: %s", client_address[0], exc)
            return
        try:
            super().finish_request(tls_request, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls_request.close()


# --- the self-signed certificate --------------------------------------------------------------------


def _memory_file(name: str, data: bytes) -> str:
    """A path to ``data`` that is not on any file system (the root file system is read-only)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name, 0)  # kept open for the process's life; load_cert_chain reads it
        os.write(fd, data)
        return f"/proc/self/fd/{fd}"
    import tempfile  # noqa: PLC0415 - not Linux: a private temporary directory

    directory = Path(tempfile.mkdtemp(prefix="streamflix-tls-"))
    path = directory / name
    path.write_bytes(data)
    path.chmod(0o600)
    return str(path)


def self_signed_context(bind_address: str) -> ssl.SSLContext:
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    addresses = {"127.0.0.1"}
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(bind_address)
        if bind_address not in {"0.0.0.0", "::"}:  # noqa: S104
            addresses.add(bind_address)
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64] or "streamflix-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = _memory_file("cert.pem", cert.public_bytes(serialization.Encoding.PEM))
    key_path = _memory_file(
        "key.pem",
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    cfg = Config.from_env()
    app = App(cfg)
    server = Server(app, self_signed_context(cfg.bind_address))

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "streamflix-app %s listening on https://%s:%d (role=%s region=%s)",
        os.getpid(),
        cfg.bind_address,
        cfg.port,
        cfg.role,
        cfg.region,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        app.close()
    return 0
