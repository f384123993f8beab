"""Python client for the emulator's clock, region-outage switch and EFS syncs (``dataplane`` says what
each call models). It reads and writes no data: rows, keys and files live in the real engines, reached
with ordinary clients (psycopg, redis-py, ``engines.efs_fs``) at the endpoints the AWS APIs describe.

Standard library only (urllib), so a drill can use it without extra dependencies. Every failure is
a :class:`DataPlaneError` (a ``streamflix_dr.errors.EmulatorError``); :class:`RegionUnavailable` when
the emulator cannot be reached.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from streamflix_dr.errors import EmulatorError

log = logging.getLogger(__name__)

_PREFIX = "/_streamflix/dataplane"


class DataPlaneError(EmulatorError):
    """A data-plane call failed."""

    def __init__(self, message: str, *, code: str = "", status: int = 0, fix: str | None = None) -> None:
        self.code = code
        self.status = status
        super().__init__(message, fix=fix)


class RegionUnavailable(DataPlaneError):
    """The emulator cannot be reached."""


_FIX_BY_CODE: dict[str, str] = {
    "NotFound": "the emulator keeps no data: use the engines (STREAMFLIX_EMULATOR_ENGINES=1), their clients",
    "BadRequest": "fix the argument named in the message",
}


class DataPlaneClient:
    """Talks to ``<endpoint_url>/_streamflix/dataplane`` (clock, outages, EFS syncs; no data)."""

    def __init__(self, endpoint_url: str, *, account_id: str | None = None, timeout: float = 10.0) -> None:
        """Args:
        endpoint_url: the emulator endpoint, e.g. ``http://127.0.0.1:5000``.
        account_id: sent as ``x-moto-account-id``; moto's default account when None.
        timeout: seconds per HTTP request.
        """
        if not endpoint_url.startswith(("http://", "https://")):
            raise DataPlaneError(
                f"endpoint_url={endpoint_url!r} is not an http(s) URL",
                fix="pass the emulator endpoint, e.g. http://127.0.0.1:5000",
            )
        self._base = endpoint_url.rstrip("/") + _PREFIX
        self._account_id = account_id
        self._timeout = timeout

    # -- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self._account_id:
            headers["x-moto-account-id"] = self._account_id
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=headers)  # noqa: S310 - URL built from an http(s) endpoint checked above
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as e:
            raise self._error(method, path, e) from e
        except (urllib.error.URLError, OSError) as e:
            raise RegionUnavailable(
                f"{method} {path}: the emulator at {self._base} cannot be reached ({e})",
                code="ConnectionError",
                fix="start the emulator (streamflix-dr emulator) and check the endpoint URL",
            ) from e

    @staticmethod
    def _error(method: str, path: str, e: urllib.error.HTTPError) -> DataPlaneError:
        try:
            payload = json.loads(e.read() or b"{}")
        except json.JSONDecodeError:
            payload = {}
        code = str(payload.get("error", "")) or f"HTTP{e.code}"
        message = str(payload.get("message", e.reason))
        fix = _FIX_BY_CODE.get(code, "see the emulator log")
        return DataPlaneError(f"{method} {path}: {message}", code=code, status=e.code, fix=fix)

    @staticmethod
    def _q(part: str) -> str:
        if not part:
            raise DataPlaneError("an empty region or resource id was given", fix="pass a non-empty value")
        return urllib.parse.quote(part, safe="")

    # -- control -------------------------------------------------------------------------------

    def fail_region(self, region: str) -> None:
        """Start an emulated outage: the region's AWS APIs answer 503 and its engines stop answering."""
        self._call("POST", f"/regions/{self._q(region)}/fail")

    def restore_region(self, region: str) -> None:
        """End the emulated outage of ``region``."""
        self._call("POST", f"/regions/{self._q(region)}/restore")

    def sync(self) -> None:
        """Every EFS replication syncs now (regions in an outage excepted); fresh ReplicaLag and
        TimeSinceLastSync datapoints. RDS and ElastiCache replicate continuously on their own."""
        self._call("POST", "/sync")

    def advance_clock(self, seconds: float) -> float:
        """Advance the emulated clock; returns the new emulated time (epoch seconds)."""
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def configure(self, **settings: float) -> dict[str, float]:
        """Set ``efs_sync_interval_seconds`` (the EFS sync interval, > 0); returns the configuration."""
        return dict(self._call("PUT", "/config", settings)["config"])

    def state(self) -> dict[str, Any]:
        """``{"now", "failed_regions", "config"}``."""
        return self._call("GET", "/state")

    def reset(self) -> None:
        """Forget the settings, the clock offset and every outage."""
        self._call("POST", "/reset")
