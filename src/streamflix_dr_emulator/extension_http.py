"""Small JSON endpoints of the emulator's own under ``/_streamflix/<name>/...`` on moto's port.

``dataplane`` (clock, region outages, EFS syncs; no data) serves ``/_streamflix/dataplane``; other
extension modules register a prefix here with :func:`register` and get a WSGI-level hook in front of
moto's dispatcher. Each handler takes ``(method, path_after_prefix, body_dict, account_id)`` and returns
``(status, payload)``; a :class:`HttpError` becomes ``{"error": code, "message": ...}`` with its status.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

Handler = Callable[[str, str, dict[str, Any], str], tuple[int, dict[str, Any]]]


class HttpError(Exception):
    """An answer other than 2xx from an extension endpoint."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


_handlers: dict[str, Handler] = {}
_lock = threading.Lock()
_patched = False


def register(prefix: str, handler: Handler) -> None:
    """Serve ``prefix`` (e.g. ``/_streamflix/autoscaling``) with ``handler``; installs the hook once."""
    global _patched  # noqa: PLW0603 - one patch per process
    if not prefix.startswith("/_streamflix/") or prefix.endswith("/"):
        raise ValueError(f"prefix={prefix!r}: use /_streamflix/<name> without a trailing slash")
    with _lock:
        _handlers[prefix] = handler
        if _patched:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

        original_call = DomainDispatcherApplication.__call__

        def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
            path = str(environ.get("PATH_INFO", ""))
            for known, known_handler in list(_handlers.items()):
                if path == known or path.startswith(known + "/"):
                    return _serve(known_handler, path[len(known) :], environ, start_response)
            return original_call(self, environ, start_response)

        patch_attr(DomainDispatcherApplication, "__call__", __call__)
        _patched = True


def _account(environ: dict[str, Any]) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415

    return str(
        os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    )


def _serve(handler: Handler, rest: str, environ: dict[str, Any], start_response: Any) -> Any:
    from werkzeug.wrappers import Request, Response  # noqa: PLC0415

    request = Request(environ)
    try:
        raw = request.get_data(as_text=True)
        body = json.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise HttpError(400, "BadRequest", "request body must be a JSON object")
        status, payload = handler(request.method, rest or "/", body, _account(environ))
    except json.JSONDecodeError as e:
        status, payload = 400, {"error": "BadRequest", "message": f"request body is not JSON: {e}"}
    except HttpError as e:
        status, payload = e.status, {"error": e.code, "message": str(e)}
    response = Response(json.dumps(payload, default=str), status=status, content_type="application/json")
    return response(environ, start_response)
