"""The network between emulated engines and their clients: TLS fronts, a per-run CA, region links.

* :class:`CertificateAuthority`: one per emulator run (``cryptography``), ``ca.pem`` in the run
  directory; clients verify the engines' certificates against it.
* :class:`TlsFront`: a TLS-terminating TCP proxy on ``127.0.0.1:<free port>`` in front of an
  engine that is itself built without TLS. Plain-text clients are refused, as RDS refuses them
  with ``rds.force_ssl=1`` and ElastiCache with ``TransitEncryptionMode: required``. A protocol
  that negotiates TLS inside its own wire protocol (PostgreSQL's SSLRequest) passes a
  ``preamble``; TLS-on-connect protocols (Redis/Valkey) pass none.
* :class:`RegionLink`: a TCP relay between two regions that delays every chunk by the one-way
  latency (half the round trip), optionally limits bandwidth, and can be cut: a cut drops the
  connections, discards what was still in flight (lost, as in a real outage) and refuses new
  connections until mended.

Everything runs on one asyncio event loop in a daemon thread (:func:`loop`), shared by every front
and link of the process, so a drill's many connections cost no thread each. The public methods
are synchronous and thread-safe. Every front and link registers itself with
:func:`streamflix_dr_emulator.engines.register` under its region(s), so
:func:`~streamflix_dr_emulator.engines.fail_region` reaches it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from streamflix_dr.errors import EmulatorError
from streamflix_dr_emulator import engines

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

# Round trip between eu-west-2 (London) and us-east-1 (N. Virginia), modelled as 75 ms. Sources:
# - measured averages between EC2 regions, "Latency Between AWS Global Regions" as tabulated in
#   https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html : us-east-1 <->
#   eu-west-1 (Ireland) 80.5 ms; London is ~450 km nearer Virginia than Dublin's routes land;
# - the physical floor: ~5,900 km great circle London-Virginia, light in fibre ~204,000 km/s, so
#   >= 58 ms round trip before any router (the method of
#   https://dev.to/aws-builders/looking-at-aws-inter-region-latency-through-distance-34eh).
# Override with rtt_seconds when a drill wants a measured figure. Also in docs/engines.md.
EU_WEST_2_US_EAST_1_RTT_SECONDS = 0.075

_CHUNK = 65536
T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# The shared event loop
# --------------------------------------------------------------------------------------------

_loop_lock = threading.Lock()
_background: set[asyncio.Future[None]] = set()
_loop: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The process-wide event loop of the fronts and links, started on first use."""
    global _loop  # noqa: PLW0603 - one loop per process
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            new = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(new)
                new.call_soon(ready.set)
                new.run_forever()

            threading.Thread(target=run, name="engines-net", daemon=True).start()
            ready.wait()
            _loop = new
        return _loop


def _in_loop_thread() -> bool:
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


def _call(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run ``coro`` on the shared loop and wait for its result (from any other thread)."""
    if _in_loop_thread():
        raise RuntimeError("engines.net: a blocking call was made from the event loop thread")
    return asyncio.run_coroutine_threadsafe(coro, loop()).result(timeout)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Certificate authority
# --------------------------------------------------------------------------------------------


class CertificateAuthority:
    """A certificate authority generated for one emulator run (EC P-256, valid for a day)."""

    def __init__(self, directory: Path | None = None, name: str = "StreamFlix DR emulator CA") -> None:
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import NameOID  # noqa: PLC0415

        self.directory = Path(directory) if directory is not None else engines.run_dir() / "tls"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._name = subject
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self.directory / "ca.pem"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self.ca_file.chmod(0o644)
        self._issued = 0
        self._lock = threading.Lock()

    def issue(self, hostnames: Iterable[str]) -> tuple[Path, Path]:
        """Issue a server certificate for ``hostnames`` (DNS names or IP addresses).

        Returns:
            (certfile, keyfile): PEM files in the CA's directory; the key is readable by its owner only.
        """
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

        names = [h for h in dict.fromkeys(hostnames) if h]
        if not names:
            raise ValueError("hostnames is empty: a certificate needs at least one name")
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        with self._lock:
            self._issued += 1
            stem = f"server-{self._issued}"
        certfile = self.directory / f"{stem}.pem"
        keyfile = self.directory / f"{stem}.key"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile.touch(mode=0o600)
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return certfile, keyfile

    def server_context(self, hostnames: Iterable[str]) -> ssl.SSLContext:
        """A server-side TLS context (TLS 1.2+) with a fresh certificate for ``hostnames``."""
        certfile, keyfile = self.issue(hostnames)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(certfile, keyfile)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client-side TLS context that trusts this CA only and checks host names."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


# --------------------------------------------------------------------------------------------
# Relays
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Negotiation:
    """What a protocol's plain-text preamble decided for one connection.

    ``tls=True``: the front does the TLS handshake next. ``tls=False``: the connection stays plain
    (a protocol that allows it, e.g. PostgreSQL without ``rds.force_ssl``), and ``pending`` holds
    the bytes the preamble already read, to be sent to the engine first.
    """

    tls: bool
    pending: bytes = b""


# A preamble runs on the plain connection before TLS: it reads and answers the protocol's own
# "let us use TLS" exchange. It returns a Negotiation, or None after it has answered the client
# with the protocol's refusal (the front then closes the connection).
Preamble = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Negotiation | None]]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, live: Callable[[], bool]) -> None:
    try:
        while True:
            data = await reader.read(_CHUNK)
            if not data or not live():
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    with contextlib.suppress(Exception):
        # The underlying socket, so a TLS connection is reset rather than closed politely.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(Exception):
        transport.abort()


class _Relay:
    """What a front and a link share: a listener on the shared loop, connections, fail/restore."""

    regions: tuple[str, ...]

    def __init__(self, label: str) -> None:
        self.label = label
        self._failed = threading.Event()
        self._closed = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self.port = 0
        self.host = HOST

    def _start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._server = _call(self._listen(0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        for region in dict.fromkeys(self.regions):
            engines.register(region, self)

    async def _listen(self, port: int) -> asyncio.base_events.Server:
        if self._ssl_context is None:
            return await asyncio.start_server(self._accept, HOST, port)
        return await asyncio.start_server(
            self._accept, HOST, port, ssl=self._ssl_context, ssl_handshake_timeout=15
        )

    @property
    def failed(self) -> bool:
        """True while the relay refuses and drops connections."""
        return self._failed.is_set()

    def _live(self) -> bool:
        return not self._failed.is_set() and not self._closed

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._live():
            _abort(writer)
            return
        self._writers.add(writer)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as e:
            log.debug("%s: connection ended: %r", self.label, e, exc_info=True)
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _track(self, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)

    def _discard_in_flight(self) -> None:
        """Forget data accepted and not yet delivered (links override this)."""

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    def _run_now(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``fn`` on the loop and wait (from the loop's own thread: schedule it)."""
        if _in_loop_thread():
            task = asyncio.ensure_future(fn())
            _background.add(task)
            task.add_done_callback(_background.discard)
            return
        _call(fn(), timeout=10)

    def fail(self) -> None:
        """Refuse new connections (the port is closed) and drop the open ones, at once."""
        if self._closed:
            return
        self._failed.set()

        async def down() -> None:
            self._drop_all()
            self._discard_in_flight()
            if self._server is not None:
                self._server.close()
                self._server = None

        self._run_now(down)
        log.info("%s failed", self.label)

    def restore(self) -> None:
        """Listen again on the same port and accept connections."""
        if self._closed or not self._failed.is_set():
            return

        async def up() -> None:
            if self._server is None:
                self._server = await self._listen(self.port)

        try:
            self._run_now(up)
        except OSError as e:
            raise EmulatorError(
                f"{self.label}: port {self.port} was taken while the region was down ({e}).",
                fix="run the drill again (ports are picked afresh)",
            ) from e
        self._failed.clear()
        log.info("%s restored", self.label)

    def close(self) -> None:
        """Stop listening, drop every connection, leave the registry. Idempotent."""
        if self._closed:
            return
        self._closed = True
        engines.unregister(self)

        async def shut() -> None:
            self._drop_all()
            if self._server is not None:
                self._server.close()
                self._server = None

        if _loop is not None and not _loop.is_closed():
            with contextlib.suppress(Exception):
                self._run_now(shut)

    def stop(self) -> None:
        """Same as :meth:`close` (the registry's name for it)."""
        self.close()


class TlsFront(_Relay):
    """A TLS endpoint on ``127.0.0.1:<port>`` that relays plaintext to an engine.

    Args:
        backend_host: the engine's host, or the path of its Unix socket (starting with ``/``).
        backend_port: the engine's TCP port (ignored for a Unix socket).
        ca: the run's certificate authority; the front's certificate is issued for ``hostnames``.
        hostnames: names (and IP addresses) clients use to reach the front; ``127.0.0.1`` is added.
        region: the region the engine lives in (for :func:`engines.fail_region`).
        preamble: the protocol's plain-text negotiation before TLS (see :data:`Preamble`);
            None for TLS-on-connect protocols.
        alpn: ALPN protocol names to offer (PostgreSQL's direct TLS uses ``postgresql``).
    """

    def __init__(
        self,
        backend_host: str,
        backend_port: int,
        ca: CertificateAuthority,
        hostnames: Iterable[str],
        region: str,
        *,
        preamble: Preamble | None = None,
        alpn: Iterable[str] = (),
    ) -> None:
        super().__init__(f"TLS front {region} -> {backend_host}:{backend_port}")
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.region = region
        self.regions = (region,)
        self.hostnames = tuple(dict.fromkeys([*hostnames, HOST]))
        self.preamble = preamble
        self.context = ca.server_context(self.hostnames)
        protocols = list(alpn)
        if protocols:
            self.context.set_alpn_protocols(protocols)
        self.ca = ca
        # TLS-on-connect: the listener does the handshake (the ClientHello may arrive before the
        # handler runs, so upgrading later would miss it). With a preamble the client waits for the
        # protocol's answer before its ClientHello, so the handler upgrades in place.
        self._start(self.context if preamble is None else None)
        log.info("%s listening on %s:%d", self.label, HOST, self.port)

    async def _connect_backend(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.backend_host.startswith("/"):
            return await asyncio.open_unix_connection(self.backend_host)
        return await asyncio.open_connection(self.backend_host, self.backend_port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending = b""
        if self.preamble is not None:
            negotiation = await self.preamble(reader, writer)
            if negotiation is None:
                await writer.drain()
                return
            if negotiation.tls:
                # StreamWriter.start_tls (Python 3.11+): upgrade the accepted connection in place.
                await asyncio.wait_for(writer.start_tls(self.context), timeout=15)
            pending = negotiation.pending
        if not self._live():
            return
        backend_reader, backend_writer = await self._connect_backend()
        self._track(backend_writer)
        if pending:
            backend_writer.write(pending)
        try:
            await asyncio.gather(
                _pump(reader, backend_writer, self._live),
                _pump(backend_reader, writer, self._live),
            )
        finally:
            self._writers.discard(backend_writer)
            with contextlib.suppress(Exception):
                backend_writer.close()


class RegionLink(_Relay):
    """A TCP relay between two regions with one-way latency ``rtt_seconds / 2`` and an optional bandwidth.

    Connect to ``127.0.0.1:<port>`` in place of ``target_host:target_port``. Each chunk read from
    one side is delivered to the other side ``rtt/2`` later (and, with a bandwidth, no sooner than
    the bytes ahead of it allow). :meth:`cut` drops every connection and discards the chunks still
    in flight; new connections are refused until :meth:`mend`.

    The target is set with :meth:`connect_to` (or at construction) so a link can be made before the
    engine behind it exists; a ``target_host`` starting with ``/`` is a Unix socket path.
    """

    def __init__(
        self,
        src_region: str,
        dst_region: str,
        rtt_seconds: float = EU_WEST_2_US_EAST_1_RTT_SECONDS,
        bandwidth_bytes_per_s: float | None = None,
        *,
        target_host: str = HOST,
        target_port: int = 0,
    ) -> None:
        if rtt_seconds < 0:
            raise ValueError(f"rtt_seconds={rtt_seconds!r} must be >= 0")
        if bandwidth_bytes_per_s is not None and bandwidth_bytes_per_s <= 0:
            raise ValueError(f"bandwidth_bytes_per_s={bandwidth_bytes_per_s!r} must be > 0 or None")
        super().__init__(f"link {src_region} <-> {dst_region}")
        self.src_region = src_region
        self.dst_region = dst_region
        self.regions = (src_region, dst_region)
        self.rtt_seconds = rtt_seconds
        self.bandwidth_bytes_per_s = bandwidth_bytes_per_s
        self.target_host = target_host
        self.target_port = target_port
        # Bytes accepted from one side and not yet delivered to the other (lost on a cut).
        self.in_flight_bytes = 0
        self.lost_bytes = 0
        self.delivered_bytes = 0
        self._wires: dict[int, collections.deque[tuple[float, bytes]]] = {}
        self._start()
        log.info("%s listening on %s:%d (rtt %.0f ms)", self.label, HOST, self.port, rtt_seconds * 1000)

    def _discard_in_flight(self) -> None:
        # Runs on the loop, right after the connections were dropped: whatever is still queued
        # never crosses (the delivery tasks find their queues empty).
        for wire in list(self._wires.values()):
            self._lose(wire)

    def _lose(self, wire: collections.deque[tuple[float, bytes]]) -> None:
        while wire:
            _, data = wire.popleft()
            self.in_flight_bytes -= len(data)
            self.lost_bytes += len(data)

    def connect_to(self, host: str, port: int) -> None:
        """Point the link at the engine (new connections only)."""
        self.target_host = host
        self.target_port = port

    def cut(self) -> None:
        """Drop every connection and refuse new ones; data still in flight is lost."""
        self.fail()

    def mend(self) -> None:
        """Accept connections again after :meth:`cut`."""
        self.restore()

    @property
    def is_cut(self) -> bool:
        """True while the link is cut."""
        return self.failed

    async def _delayed_pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Chunks wait in ``wire`` (due time, bytes) until delivered; a cut empties it at once.
        wire: collections.deque[tuple[float, bytes]] = collections.deque()
        arrived = asyncio.Event()
        done = False
        self._wires[id(wire)] = wire
        one_way = self.rtt_seconds / 2

        async def deliver() -> None:
            try:
                while True:
                    if not wire:
                        if done:
                            break
                        arrived.clear()
                        await arrived.wait()
                        continue
                    due, data = wire[0]
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        continue  # the wire may have been emptied by a cut meanwhile
                    if not self._live():
                        break
                    wire.popleft()
                    self.in_flight_bytes -= len(data)
                    self.delivered_bytes += len(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    if writer.can_write_eof() and self._live():
                        writer.write_eof()
                    else:
                        writer.close()

        sender = asyncio.ensure_future(deliver())
        free_at = 0.0  # when the (modelled) wire is free again, for the bandwidth limit
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data or not self._live():
                    break
                now = time.monotonic()
                if self.bandwidth_bytes_per_s:
                    start = max(now, free_at)
                    free_at = start + len(data) / self.bandwidth_bytes_per_s
                    due = free_at + one_way
                else:
                    due = now + one_way
                self.in_flight_bytes += len(data)
                wire.append((due, data))
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            done = True
            arrived.set()
            if not self._live():
                sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self._lose(wire)
            self._wires.pop(id(wire), None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.target_port and not self.target_host.startswith("/"):
            raise ConnectionRefusedError(f"{self.label}: no target set (connect_to was not called)")
        if self.target_host.startswith("/"):
            target_reader, target_writer = await asyncio.open_unix_connection(self.target_host)
        else:
            target_reader, target_writer = await asyncio.open_connection(self.target_host, self.target_port)
        self._track(target_writer)
        try:
            await asyncio.gather(
                self._delayed_pump(reader, target_writer),
                self._delayed_pump(target_reader, writer),
            )
        finally:
            self._writers.discard(target_writer)
            with contextlib.suppress(Exception):
                target_writer.close()
