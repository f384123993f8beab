"""engines.net: the per-run CA, TLS fronts (TLS-on-connect and with a protocol preamble) and region links."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import net


class EchoServer:
    """A plain TCP echo server standing for an engine built without TLS."""

    def __init__(self) -> None:
        self.sock = socket.create_server((net.HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    self.received += data
                    conn.sendall(data)
            except OSError:
                pass  # the relay in front dropped the connection (what the tests do on purpose)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def ca() -> Iterator[net.CertificateAuthority]:
    yield net.CertificateAuthority()
    engines.shutdown_all()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def tls_client(ca: net.CertificateAuthority, port: int, hostname: str = net.HOST) -> ssl.SSLSocket:
    raw = socket.create_connection((net.HOST, port), timeout=10)
    return ca.client_context().wrap_socket(raw, server_hostname=hostname)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def dropped(sock: socket.socket) -> bool:
    """True when the peer closed or reset the connection (nothing more will come)."""
    try:
        return sock.recv(16) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def test_ca_writes_its_certificate_and_issues_server_certificates(ca: net.CertificateAuthority) -> None:
    assert ca.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    certfile, keyfile = ca.issue(["db.example", "127.0.0.1"])
    assert certfile.exists()
    assert keyfile.stat().st_mode & 0o077 == 0  # the key is readable by its owner only
    with pytest.raises(ValueError, match="hostnames is empty"):
        ca.issue([])


def test_tls_front_relays_to_the_engine_and_verifies_as_its_names(
    ca: net.CertificateAuthority, echo: EchoServer
) -> None:
    front = net.TlsFront(net.HOST, echo.port, ca, ["cache.example"], "eu-west-2")
    try:
        for name in ("cache.example", net.HOST):
            with tls_client(ca, front.port, name) as client:
                client.sendall(b"PING")
                assert recv_exactly(client, 4) == b"PING"
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_client(ca, front.port, "other.example")
    finally:
        front.close()


def test_tls_front_refuses_a_plain_text_client(ca: net.CertificateAuthority, echo: EchoServer) -> None:
    front = net.TlsFront(net.HOST, echo.port, ca, ["cache.example"], "eu-west-2")
    before = len(echo.received)
    try:
        with socket.create_connection((net.HOST, front.port), timeout=10) as plain:
            plain.sendall(b"AUTH secret\r\n")
            reply = b""
            try:
                while chunk := plain.recv(1024):
                    reply += chunk
            except ConnectionResetError:
                pass
        assert b"AUTH" not in reply
        assert len(echo.received) == before  # nothing reached the engine
    finally:
        front.close()


def test_failed_front_drops_connections_and_refuses_until_restored(
    ca: net.CertificateAuthority, echo: EchoServer
) -> None:
    front = net.TlsFront(net.HOST, echo.port, ca, ["cache.example"], "eu-west-2")
    try:
        client = tls_client(ca, front.port)
        client.sendall(b"one")
        assert recv_exactly(client, 3) == b"one"
        engines.fail_region("eu-west-2")
        try:
            assert engines.is_failed("eu-west-2")
            assert front.failed
            with pytest.raises(OSError):
                client.sendall(b"two")
                if not client.recv(3):
                    raise ConnectionResetError("closed")
            with pytest.raises(OSError):
                tls_client(ca, front.port)
        finally:
            engines.restore_region("eu-west-2")
        with tls_client(ca, front.port) as again:
            again.sendall(b"three")
            assert recv_exactly(again, 5) == b"three"
    finally:
        front.close()


def test_front_with_a_preamble_negotiates_before_tls(ca: net.CertificateAuthority, echo: EchoServer) -> None:
    async def preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> net.Negotiation | None:
        hello = await reader.readexactly(5)
        if hello == b"STLS\n":
            writer.write(b"OK\n")
            await writer.drain()
            return net.Negotiation(tls=True)
        if hello == b"PLAIN":
            return net.Negotiation(tls=False, pending=b"[plain]")
        writer.write(b"NO\n")
        return None

    front = net.TlsFront(net.HOST, echo.port, ca, ["db.example"], "us-east-1", preamble=preamble)
    try:
        raw = socket.create_connection((net.HOST, front.port), timeout=10)
        raw.sendall(b"STLS\n")
        assert recv_exactly(raw, 3) == b"OK\n"
        with ca.client_context().wrap_socket(raw, server_hostname="db.example") as client:
            client.sendall(b"secret")
            assert recv_exactly(client, 6) == b"secret"
        with socket.create_connection((net.HOST, front.port), timeout=10) as plain:
            plain.sendall(b"PLAIN")
            assert recv_exactly(plain, 7) == b"[plain]"  # the bytes the preamble read, then the relay
        with socket.create_connection((net.HOST, front.port), timeout=10) as refused:
            refused.sendall(b"HELLO")
            assert refused.recv(16) == b"NO\n"
            assert refused.recv(16) == b""
    finally:
        front.close()


def test_region_link_delivers_both_ways(echo: EchoServer) -> None:
    link = net.RegionLink("eu-west-2", "us-east-1", rtt_seconds=0.02, target_port=echo.port)
    try:
        assert set(link.regions) == {"eu-west-2", "us-east-1"}
        with socket.create_connection((net.HOST, link.port), timeout=10) as client:
            client.sendall(b"replicate me")
            assert recv_exactly(client, 12) == b"replicate me"
        assert link.delivered_bytes >= 24
    finally:
        link.close()


def test_cut_link_loses_what_is_in_flight_and_refuses_until_mended(echo: EchoServer) -> None:
    # A long one-way delay, so the chunk is certainly still on the wire when the link is cut.
    link = net.RegionLink("eu-west-2", "us-east-1", rtt_seconds=20.0, target_port=echo.port)
    before = len(echo.received)
    try:
        client = socket.create_connection((net.HOST, link.port), timeout=10)
        client.sendall(b"in flight")
        deadline = 100
        while link.in_flight_bytes < 9 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert link.in_flight_bytes == 9
        engines.fail_region("us-east-1")  # either region's outage cuts the link
        try:
            assert link.is_cut
            assert dropped(client)
            assert link.lost_bytes == 9
            assert len(echo.received) == before  # it never reached the other side
            with pytest.raises(OSError), socket.create_connection((net.HOST, link.port), timeout=5) as late:
                late.sendall(b"x")
                if not late.recv(1):
                    raise ConnectionResetError("closed")
        finally:
            engines.restore_region("us-east-1")
        client.close()
        assert not link.is_cut
        link.rtt_seconds = 0.0
        with socket.create_connection((net.HOST, link.port), timeout=10) as again:
            again.sendall(b"after")
            assert recv_exactly(again, 5) == b"after"
    finally:
        link.close()


def test_bandwidth_holds_bytes_back_until_the_wire_has_carried_them(echo: EchoServer) -> None:
    # No latency, 100 B/s: 1,000 bytes need 10 s of wire, so none has arrived when the link is cut.
    link = net.RegionLink(
        "eu-west-2", "us-east-1", rtt_seconds=0.0, bandwidth_bytes_per_s=100, target_port=echo.port
    )
    before = len(echo.received)
    try:
        with socket.create_connection((net.HOST, link.port), timeout=10) as client:
            client.sendall(b"x" * 1000)
            for _ in range(200):
                if link.in_flight_bytes == 1000:
                    break
                threading.Event().wait(0.05)
            assert link.in_flight_bytes == 1000
            assert link.delivered_bytes == 0
            link.cut()
            assert link.lost_bytes == 1000
            assert len(echo.received) == before
    finally:
        link.close()


def test_link_stays_cut_while_the_other_region_is_still_down(echo: EchoServer) -> None:
    link = net.RegionLink("eu-west-2", "us-east-1", rtt_seconds=0.0, target_port=echo.port)
    try:
        engines.fail_region("eu-west-2")
        engines.fail_region("us-east-1")
        engines.restore_region("us-east-1")
        assert link.is_cut
        engines.restore_region("eu-west-2")
        assert not link.is_cut
    finally:
        engines.restore_region("eu-west-2")
        engines.restore_region("us-east-1")
        link.close()


def test_link_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="rtt_seconds"):
        net.RegionLink("eu-west-2", "us-east-1", rtt_seconds=-1)
    with pytest.raises(ValueError, match="bandwidth"):
        net.RegionLink("eu-west-2", "us-east-1", bandwidth_bytes_per_s=0)


def test_switch_follows_the_environment_until_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "_enabled", None)
    monkeypatch.setenv(engines.ENV_VAR, "1")
    assert engines.enabled()
    monkeypatch.setenv(engines.ENV_VAR, "0")
    assert not engines.enabled()
    engines.enable(True)
    assert engines.enabled()
    engines.enable(False)
    assert not engines.enabled()
