"""Application Load Balancers that answer: one local port per listener, forwarding to healthy targets.

With engines on (:func:`streamflix_dr_emulator.engines.enabled`), every listener of every
``application`` load balancer in moto's elbv2 gets a local server on ``127.0.0.1:<free port>``:

* **HTTPS listeners** terminate TLS with a certificate for the load balancer's DNS name and 127.0.0.1,
  issued by the run's ALB CA (:func:`certificate_authority`, ``<run dir>/tls-alb/ca.pem``; on AWS the
  listener's ACM certificate). **HTTP listeners** answer plain HTTP.
* **Actions** (the listener's default actions; listener rules are not evaluated): ``forward`` (the
  target group, or the first of ``ForwardConfig.TargetGroups``) round-robins over the group's healthy
  targets as ``ecs_tasks`` checks them; when the group has registered targets but none is healthy the
  load balancer fails open and routes to all of them ("If a target group contains only unhealthy
  registered targets, the load balancer routes requests to all those targets, regardless of their
  health status", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html);
  no target at all answers 503, a target that refuses the connection 502, one that does not answer
  within the idle timeout 504 (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
  The hop to an HTTPS target group is TLS without certificate validation (as the ALB does).
  ``redirect`` answers the ``RedirectConfig`` (``#{host}``, ``#{path}``, ``#{query}``, ``#{port}`` and
  ``#{protocol}`` kept from the request), ``fixed-response`` its ``FixedResponseConfig``.
* ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Port`` are added to the forwarded request
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
* **Region outage**: each listener's server is an engine of its region; ``engines.fail_region`` closes its
  port (connections are refused), ``restore_region`` reopens the same port.

The drill reaches a load balancer by its DNS name: :func:`endpoint` / :func:`url` map
``DNSName`` (and a listener port) to the local address. Listeners are discovered by :func:`sync`
(called by those functions and every half second by a background thread).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import importlib.util
import itertools
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import ecs_tasks, net

log = logging.getLogger(__name__)

SYNC_EVERY_SECONDS = 0.5
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)

_lock = threading.RLock()
_fronts: dict[str, ListenerFront] = {}  # listener ARN -> front
_round_robin: dict[str, itertools.count[int]] = {}
_ca: tuple[Any, net.CertificateAuthority] | None = None
_syncer: threading.Thread | None = None
_stop = threading.Event()


def certificate_authority() -> net.CertificateAuthority:
    """The CA of the load balancers' HTTPS listeners in this run (``ca_file`` for clients)."""
    global _ca  # noqa: PLW0603 - one per run directory
    with _lock:
        run = engines.run_dir()
        if _ca is None or _ca[0] != run:
            _ca = (run, net.CertificateAuthority(run / "tls-alb", name="StreamFlix DR emulator ALB CA"))
        return _ca[1]


@dataclass
class ListenerInfo:
    account_id: str
    region: str
    load_balancer_arn: str
    dns_name: str
    listener_arn: str
    protocol: str
    port: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, front: ListenerFront) -> None:
        self.front = front
        super().__init__(("127.0.0.1", front.local_port), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.front.tls is not None:
            try:
                request.settimeout(60)
                request = self.front.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) before the answer: what an ALB logs as a client-side close
        # (460 in its access log), not an error of the load balancer. Anything else is logged in full.
        import sys  # noqa: PLC0415

        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, TimeoutError)):
            log.debug("%s: client %s closed before the answer: %r", self.front, client_address, error)
            return
        log.exception("%s: request from %s failed", self.front, client_address)


class ListenerFront:
    """The local server of one listener (an engine of its region)."""

    def __init__(self, info: ListenerInfo) -> None:
        self.info = info
        self.regions = (info.region,)
        self.tls: ssl.SSLContext | None = None
        if info.protocol == "HTTPS":
            self.tls = certificate_authority().server_context([info.dns_name, "127.0.0.1"])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.local_port = int(probe.getsockname()[1])
        self._server: _Server | None = None
        self._failed = False
        self._open()
        engines.register(info.region, self)

    def _open(self) -> None:
        if self._server is not None:
            return
        server = _Server(self)
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"alb-{self.local_port}",
            daemon=True,
        ).start()
        self._server = server

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    @property
    def failed(self) -> bool:
        return self._failed

    def fail(self) -> None:
        self._failed = True
        self._close()

    def restore(self) -> None:
        self._failed = False
        self._open()

    def stop(self) -> None:
        self._failed = True
        self._close()
        engines.unregister(self)

    def describe(self) -> dict[str, Any]:
        scheme = "https" if self.tls is not None else "http"
        return {
            "loadBalancerArn": self.info.load_balancer_arn,
            "dnsName": self.info.dns_name,
            "region": self.info.region,
            "listenerArn": self.info.listener_arn,
            "protocol": self.info.protocol,
            "port": self.info.port,
            "localPort": self.local_port,
            "url": f"{scheme}://127.0.0.1:{self.local_port}",
            "answering": self._server is not None,
        }


# --- requests -----------------------------------------------------------------------------------------


def _listener(info: ListenerInfo) -> Any:
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    lb = elbv2_backends[info.account_id][info.region].load_balancers.get(info.load_balancer_arn)
    return None if lb is None else lb.listeners.get(info.listener_arn)


def _action_data(action: Any) -> dict[str, Any]:
    return dict(getattr(action, "data", None) or (action if isinstance(action, dict) else {}))


def _pick_target(info: ListenerInfo, tg_arn: str) -> tuple[Any, tuple[str, int] | None]:
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    tg = elbv2_backends[info.account_id][info.region].target_groups.get(tg_arn)
    if tg is None:
        return None, None
    candidates = ecs_tasks.healthy_targets(info.account_id, info.region, tg_arn)
    if not candidates:  # fail open: every registered target (none registered: 503)
        candidates = [(str(t["Id"]), int(t.get("Port") or tg.port)) for t in tg.targets.values()]
    if not candidates:
        return tg, None
    with _lock:
        counter = _round_robin.setdefault(tg_arn, itertools.count())
        index = next(counter)
    return tg, candidates[index % len(candidates)]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus the peer's delayed ACK
    # stall every response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("alb %s: %s", self.server.front.info.dns_name, format % args)

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "text/html"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int) -> None:
        reason = http.client.responses.get(status, "Error")
        body = f"<html><body><center><h1>{status} {reason}</h1></center></body></html>\n".encode()
        self._answer(status, body)

    def _handle(self) -> None:
        front = self.server.front
        if front.failed:
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        listener = _listener(front.info)
        if listener is None:
            self._error(503)
            return
        actions = [_action_data(a) for a in listener.default_actions]
        action = actions[0] if actions else {}
        kind = str(action.get("Type") or "").lower()
        if kind == "redirect":
            self._redirect(action.get("RedirectConfig") or {})
        elif kind == "fixed-response":
            config = action.get("FixedResponseConfig") or {}
            self._answer(
                int(config.get("StatusCode") or 200),
                str(config.get("MessageBody") or "").encode(),
                {"Content-Type": str(config.get("ContentType") or "text/plain")},
            )
        elif kind == "forward":
            tg_arn = action.get("TargetGroupArn")
            if not tg_arn:
                groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
                tg_arn = groups[0].get("TargetGroupArn") if groups else None
            self._forward(str(tg_arn or ""), body)
        else:
            self._error(503)

    def _redirect(self, config: dict[str, Any]) -> None:
        info = self.server.front.info
        host = (self.headers.get("Host") or info.dns_name).split(":")[0]
        path, _, query = self.path.partition("?")
        protocol = str(config.get("Protocol") or "#{protocol}").replace("#{protocol}", info.protocol).lower()
        port = str(config.get("Port") or "#{port}").replace("#{port}", str(info.port))
        location_host = str(config.get("Host") or "#{host}").replace("#{host}", host)
        location_path = str(config.get("Path") or "/#{path}").replace("#{path}", path.lstrip("/"))
        location_query = str(config.get("Query") or "#{query}").replace("#{query}", query)
        default_port = {"https": "443", "http": "80"}.get(protocol)
        netloc = location_host if port == default_port else f"{location_host}:{port}"
        location = f"{protocol}://{netloc}{location_path}" + (f"?{location_query}" if location_query else "")
        status = 301 if str(config.get("StatusCode") or "HTTP_301") == "HTTP_301" else 302
        self._answer(status, b"", {"Location": location, "Content-Type": "text/html"})

    def _forward(self, tg_arn: str, body: bytes) -> None:
        info = self.server.front.info
        tg, target = _pick_target(info, tg_arn)
        if target is None:
            self._error(503)
            return
        address, port = target
        timeout = 60.0
        if str(tg.protocol or "HTTP").upper() == "HTTPS":
            # The ALB does not validate target certificates.
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                address, port, timeout=timeout, context=ecs_tasks.unverified_tls()
            )
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        forwarded_for = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
        headers["X-Forwarded-Proto"] = info.protocol.lower()
        headers["X-Forwarded-Port"] = str(info.port)
        headers["Connection"] = "close"
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError:
            self._error(504)
            return
        except (OSError, http.client.HTTPException):
            self._error(502)
            return
        finally:
            conn.close()
        out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}}
        self._answer(response.status, payload, out)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()


# --- discovery ------------------------------------------------------------------------------------------


def _listeners() -> list[ListenerInfo]:
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    found: list[ListenerInfo] = []
    for account_backends in list(elbv2_backends.values()):
        for backend in list(account_backends.values()):
            for lb in list(backend.load_balancers.values()):
                if str(getattr(lb, "type", "application")) != "application":
                    continue
                for listener in list(lb.listeners.values()):
                    found.append(
                        ListenerInfo(
                            backend.account_id,
                            backend.region_name,
                            lb.arn,
                            str(lb.dns_name),
                            listener.arn,
                            str(listener.protocol).upper(),
                            int(listener.port),
                        )
                    )
    return found


def sync() -> list[ListenerFront]:
    """Open a front for every listener moto has, close those whose listener is gone."""
    if not engines.enabled():
        return []
    fronts = _sync_once()
    _ensure_syncer()
    return fronts


def _sync_once() -> list[ListenerFront]:
    infos = {i.listener_arn: i for i in _listeners()}
    with _lock:
        gone = [arn for arn in _fronts if arn not in infos]
        closing = [_fronts.pop(arn) for arn in gone]
        for arn, info in infos.items():
            if arn not in _fronts:
                _fronts[arn] = ListenerFront(info)
        fronts = list(_fronts.values())
    for front in closing:
        front.stop()
    return fronts


def fronts(region: str | None = None) -> list[dict[str, Any]]:
    """Every listener's local address (what ``GET /_streamflix/alb`` would list)."""
    return [f.describe() for f in sync() if region is None or f.info.region == region]


def endpoint(dns_name: str, listener_port: int | None = None) -> tuple[str, int, str]:
    """(host, local port, protocol) of the load balancer ``dns_name``'s listener (HTTPS first by default)."""
    matches = [f for f in sync() if f.info.dns_name.lower() == dns_name.lower().rstrip(".")]
    if listener_port is not None:
        matches = [f for f in matches if f.info.port == listener_port]
    if not matches:
        raise LookupError(
            f"{dns_name}: no application load balancer listener with that DNS name"
            + (f" on port {listener_port}" if listener_port is not None else "")
            + " (engines on? the load balancer and its listener created?)"
        )
    matches.sort(key=lambda f: (f.info.protocol != "HTTPS", f.info.port))
    front = matches[0]
    return "127.0.0.1", front.local_port, front.info.protocol


def url(dns_name: str, listener_port: int | None = None) -> str:
    """``http(s)://127.0.0.1:<local port>`` of the load balancer's listener."""
    host, port, protocol = endpoint(dns_name, listener_port)
    return f"{protocol.lower()}://{host}:{port}"


def _run_syncer(stop: threading.Event) -> None:
    while not stop.wait(SYNC_EVERY_SECONDS):
        if engines.enabled():
            try:
                _sync_once()
            except Exception:
                log.exception("ALB listener sync")


def _ensure_syncer() -> None:
    global _syncer, _stop  # noqa: PLW0603
    with _lock:
        if _syncer is None or not _syncer.is_alive():
            _stop = threading.Event()
            _syncer = threading.Thread(target=_run_syncer, args=(_stop,), name="alb-sync", daemon=True)
            _syncer.start()


def forget_all() -> None:
    """Close every front (engines.shutdown_all also stops them as engines)."""
    global _ca, _syncer  # noqa: PLW0603
    _stop.set()  # the syncer starts again with the next sync()/endpoint()
    with _lock:
        _syncer = None
        closing = list(_fronts.values())
        _fronts.clear()
        _round_robin.clear()
        _ca = None
    for front in closing:
        with contextlib.suppress(Exception):
            front.stop()


def http_handler(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    """``GET /_streamflix/alb`` (every listener) and ``GET /_streamflix/alb/<DNSName>`` (that load balancer's
    listeners, the preferred one first), for ``extension_http``."""
    del body, account_id  # one local address space for every account
    if method != "GET":
        return 405, {"error": "MethodNotAllowed", "message": f"{method}: only GET"}
    dns_name = path.strip("/")
    if not dns_name:
        return 200, {"listeners": fronts()}
    try:
        host, port, protocol = endpoint(dns_name)
    except LookupError as exc:
        return 404, {"error": "LoadBalancerNotFound", "message": str(exc)}
    listeners = [f for f in fronts() if f["dnsName"].lower() == dns_name.lower()]
    return 200, {
        "dnsName": dns_name,
        "url": f"{protocol.lower()}://{host}:{port}",
        # The HTTPS listeners' CA (on AWS: a public ACM certificate the client already trusts).
        "caFile": str(certificate_authority().ca_file),
        "listeners": listeners,
    }


def install() -> None:
    """Serve ``/_streamflix/alb`` when the emulator has ``extension_http``; listeners need no patch (they are
    discovered from moto's elbv2 state, see :func:`sync`)."""
    if importlib.util.find_spec("streamflix_dr_emulator.extension_http") is not None:
        extension_http = importlib.import_module("streamflix_dr_emulator.extension_http")
        extension_http.register("/_streamflix/alb", http_handler)
