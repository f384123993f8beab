"""Python client for the emulator's data plane (see ``dataplane`` for what each call models).

Standard library only (urllib), so a drill can use it without extra dependencies. Every failure is
a :class:`DataPlaneError` (a ``streamflix_dr.errors.EmulatorError``): :class:`ReadOnlyError` for a
write on a replica / replication destination, :class:`RegionUnavailable` for a region in an
emulated outage, :class:`DataNotFound` for an unknown resource or file.
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


class ReadOnlyError(DataPlaneError):
    """The target is read-only (read replica, EFS replication destination, Global Datastore secondary)."""


class RegionUnavailable(DataPlaneError):
    """The region is in an emulated outage (or the emulator cannot be reached)."""


class DataNotFound(DataPlaneError):
    """The instance, file system, replication group or file does not exist."""


_BY_CODE: dict[str, tuple[type[DataPlaneError], str]] = {
    "ReadOnly": (ReadOnlyError, "write to the writable side (the primary, or promote/fail over first)"),
    "RegionUnavailable": (RegionUnavailable, "use the DR region, or restore_region() to end the outage"),
    "NotFound": (DataNotFound, "check the region and resource id (describe it with the AWS API)"),
    "BadRequest": (DataPlaneError, "fix the argument named in the message"),
}


class DataPlaneClient:
    """Talks to ``<endpoint_url>/_streamflix/dataplane``."""

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
        cls, fix = _BY_CODE.get(code, (DataPlaneError, "see the emulator log"))
        return cls(f"{method} {path}: {message}", code=code, status=e.code, fix=fix)

    @staticmethod
    def _q(part: str) -> str:
        if not part:
            raise DataPlaneError("an empty region or resource id was given", fix="pass a non-empty value")
        return urllib.parse.quote(part, safe="")

    # -- RDS rows ------------------------------------------------------------------------------

    def insert_row(self, region: str, db_instance_id: str, table: str, row: dict[str, Any]) -> None:
        """INSERT ``row`` into ``table`` on the instance; ReadOnlyError on a read replica."""
        self._call(
            "POST",
            f"/rds/{self._q(region)}/{self._q(db_instance_id)}/tables/{self._q(table)}/rows",
            {"row": row},
        )

    def select_rows(self, region: str, db_instance_id: str, table: str) -> list[dict[str, Any]]:
        """Rows of ``table`` visible on the instance now."""
        result = self._call(
            "GET", f"/rds/{self._q(region)}/{self._q(db_instance_id)}/tables/{self._q(table)}/rows"
        )
        return list(result["rows"])

    # -- EFS files -----------------------------------------------------------------------------

    def write_file(self, region: str, file_system_id: str, path: str, content: str) -> None:
        """Write a file; ReadOnlyError (EROFS) on a replication destination."""
        quoted = "/".join(self._q(p) for p in path.split("/") if p)
        self._call(
            "PUT", f"/efs/{self._q(region)}/{self._q(file_system_id)}/files/{quoted}", {"content": content}
        )

    def read_file(self, region: str, file_system_id: str, path: str) -> str:
        """A file's content; DataNotFound when absent."""
        quoted = "/".join(self._q(p) for p in path.split("/") if p)
        result = self._call("GET", f"/efs/{self._q(region)}/{self._q(file_system_id)}/files/{quoted}")
        return str(result["content"])

    def list_files(self, region: str, file_system_id: str) -> dict[str, str]:
        """Every file, path -> content."""
        result = self._call("GET", f"/efs/{self._q(region)}/{self._q(file_system_id)}/files")
        return dict(result["files"])

    # -- ElastiCache keys ------------------------------------------------------------------------

    def set_key(self, region: str, replication_group_id: str, key: str, value: str) -> None:
        """SET a key; ReadOnlyError on a Global Datastore secondary."""
        self._call(
            "PUT",
            f"/elasticache/{self._q(region)}/{self._q(replication_group_id)}/keys/{self._q(key)}",
            {"value": value},
        )

    def get_key(self, region: str, replication_group_id: str, key: str) -> str | None:
        """GET a key; None when absent."""
        result = self._call(
            "GET", f"/elasticache/{self._q(region)}/{self._q(replication_group_id)}/keys/{self._q(key)}"
        )
        value = result.get("value")
        return None if value is None else str(value)

    # -- control -------------------------------------------------------------------------------

    def fail_region(self, region: str) -> None:
        """Start an emulated outage: the region's AWS APIs and data plane answer 503."""
        self._call("POST", f"/regions/{self._q(region)}/fail")

    def restore_region(self, region: str) -> None:
        """End the emulated outage of ``region``."""
        self._call("POST", f"/regions/{self._q(region)}/restore")

    def sync(self) -> None:
        """Replicate everything now (RDS, EFS, ElastiCache), regions in an outage excepted."""
        self._call("POST", "/sync")

    def advance_clock(self, seconds: float) -> float:
        """Advance the emulated clock; returns the new emulated time (epoch seconds)."""
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def configure(self, **settings: float) -> dict[str, float]:
        """Set the replication lags / EFS sync interval (see ``dataplane.DEFAULT_CONFIG``)."""
        return dict(self._call("PUT", "/config", settings)["config"])

    def state(self) -> dict[str, Any]:
        """``{"now", "failed_regions", "config"}``."""
        return self._call("GET", "/state")

    def reset(self) -> None:
        """Forget all data, settings, clock offset and outages."""
        self._call("POST", "/reset")
