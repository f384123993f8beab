"""Start moto in-process, with the StreamFlix DR extension installed, on 127.0.0.1.

``running()`` is what ``streamflix_dr.cli.common.open_target(emulator=True)`` and the test
fixtures use; ``serve()`` is the blocking form behind ``streamflix-dr emulator``.
``inject_throttling()`` makes the next N calls of one action answer with AWS's throttling
error so retry paths can be exercised against the emulator.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from streamflix_dr.errors import EmulatorError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

# moto reads these at import time or per request; set before moto is imported. The in-process
# Lambda runner (lambda_runtime) replaces Docker, so moto must never try to reach a daemon.
_MOTO_ENV = {
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}

_throttle_lock = threading.Lock()
# (service, action) -> remaining number of calls to throttle.
_throttles: dict[tuple[str, str], int] = {}
_throttle_patched = False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(port: int = 0) -> Iterator[str]:
    """Run the emulator for the duration of the ``with`` block and yield its endpoint URL.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.

    Yields:
        ``http://127.0.0.1:<port>``, usable as ``endpoint_url`` for every service and region.

    Raises:
        EmulatorError: moto is not installed or the port cannot be bound.
    """
    for key, value in _MOTO_ENV.items():
        os.environ.setdefault(key, value)
    started = time.monotonic()
    try:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on the install
        raise EmulatorError(
            f"moto is not installed ({e}).", fix="pip install 'streamflix-dr[emulator]'"
        ) from e
    from streamflix_dr_emulator import install, lambda_runtime  # noqa: PLC0415

    install.install()
    _patch_dispatch()
    # werkzeug logs every request at INFO on its own handler; keep the CLI's output readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    chosen = port or _free_port()
    # The same pieces as moto's ThreadedMotoServer, but the socket is bound here, in the caller's
    # thread: ThreadedMotoServer binds in its worker thread and waits forever when that fails.
    app = DomainDispatcherApplication(create_backend_app)
    try:
        # werkzeug prints and calls sys.exit(1) when the port is taken; find out first.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, chosen))
        httpd = make_server(HOST, chosen, app, threaded=True, request_handler=MotoRequestHandler)
    except (OSError, SystemExit) as e:
        raise EmulatorError(
            f"the emulator cannot listen on {HOST}:{chosen} ({e or 'address in use'}).",
            fix="pick another --port or stop the process using it",
        ) from e
    thread = threading.Thread(target=httpd.serve_forever, name=f"emulator-{chosen}", daemon=True)
    thread.start()
    endpoint = f"http://{HOST}:{chosen}"
    # Handlers call the innermost running emulator; restore the outer one when this one stops.
    previous_endpoint = lambda_runtime.get_endpoint()
    lambda_runtime.set_endpoint(endpoint)
    log.info("emulator listening on %s (started in %.2fs)", endpoint, time.monotonic() - started)
    try:
        yield endpoint
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
        lambda_runtime.set_endpoint(previous_endpoint)
        log.info("emulator on %s stopped", endpoint)


def serve(port: int = 0, *, ready: Any = None, stop: threading.Event | None = None) -> None:
    """Serve until interrupted (Ctrl-C) or until ``stop`` is set.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        ready: called once with the endpoint URL when the server accepts requests.
        stop: optional event that ends serving (tests); otherwise runs until KeyboardInterrupt.
    """
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and a service manager's SIGTERM both end serving cleanly (also when SIGINT was
        # ignored, as for a background job of a non-interactive shell).
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        with running(port) as endpoint:
            if ready is not None:
                ready(endpoint)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.5):
                    pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- throttling fault injection -------------------------------------------------------------


def inject_throttling(service: str, action: str, count: int = 1) -> None:
    """Make the next ``count`` calls of ``service``/``action`` fail as AWS throttles them.

    The answer is HTTP 400 with error code ``Throttling`` for query-protocol services
    (CloudFormation, RDS, ElastiCache, ...), and ``ThrottlingException`` for JSON/REST
    services (Secrets Manager, ECS, Lambda, ...): the codes AWS documents in each API
    reference's "Common Errors" (https://docs.aws.amazon.com/<service>/latest/APIReference/CommonErrors.html)
    and the ones botocore's standard retry mode treats as throttling. S3 (its own dispatch) is
    not covered.

    Args:
        service: boto3 service name, e.g. ``"cloudformation"``, ``"secretsmanager"``.
        action: API operation name as AWS spells it, e.g. ``"DescribeStacks"``.
        count: how many consecutive calls to throttle; 0 clears the entry.
    """
    if count < 0:
        raise ValueError(f"count={count!r}: must be >= 0; pass 0 to clear")
    with _throttle_lock:
        if count:
            _throttles[(service, action)] = count
        else:
            _throttles.pop((service, action), None)


def clear_throttling() -> None:
    """Forget every pending throttling injection."""
    with _throttle_lock:
        _throttles.clear()


def pending_throttling(service: str, action: str) -> int:
    """How many calls of ``service``/``action`` are still to be throttled."""
    with _throttle_lock:
        return _throttles.get((service, action), 0)


def _take_throttle(service: str, action: str) -> bool:
    with _throttle_lock:
        left = _throttles.get((service, action), 0)
        if not left:
            return False
        if left == 1:
            del _throttles[(service, action)]
        else:
            _throttles[(service, action)] = left - 1
        return True


def _patch_dispatch() -> None:
    """Wrap moto's per-request action dispatch once so injected throttles answer first."""
    global _throttle_patched  # noqa: PLW0603 - one patch per process, like moto's backends
    with _throttle_lock:
        if _throttle_patched:
            return
        from botocore.exceptions import UnknownServiceError  # noqa: PLC0415
        from moto.core.exceptions import ServiceException  # noqa: PLC0415
        from moto.core.responses import ActionResult, BaseResponse  # noqa: PLC0415
        from moto.core.utils import get_service_model  # noqa: PLC0415

        from streamflix_dr_emulator.cfn._common import patch_attr  # noqa: PLC0415

        class _Throttled(ServiceException):
            # Defined here, not in a moto module: moto looks the error shape up in the service
            # model named by the exception's module, and "core" is no service.
            pass

        original = BaseResponse.call_action

        def call_action(self: Any) -> Any:
            service = self.boto3_service_name
            if _throttles and service:
                try:
                    action = self._get_action()
                except Exception:
                    action = ""
                if action and _take_throttle(service, action):
                    try:
                        protocol = get_service_model(service).protocol
                    except UnknownServiceError:  # pragma: no cover - moto knows its services
                        protocol = "json"
                    code = "Throttling" if protocol in ("query", "ec2") else "ThrottlingException"
                    error = _Throttled(code, "Rate exceeded")
                    log.info("throttling %s.%s as injected", service, action)
                    # botocore does not model throttling codes per service; moto warns on each use.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        _status, headers, body = self.serialized(ActionResult(error))
                    headers["status"] = 400
                    return 400, headers, body
            return original(self)

        patch_attr(BaseResponse, "call_action", call_action)
        _throttle_patched = True
