"""One boto3 client factory, cached per (region, service) on the instance.

The target is real AWS through the standard credential chain (optionally a named
profile) or any endpoint URL (an emulator). The emulator is only a URL here: no
code path in the product branches on it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

log = logging.getLogger(__name__)

# botocore's "standard" retry mode retries throttling and transient errors with jittered
# exponential backoff; the retries for the whole package live here and nowhere else.
DEFAULT_MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Target:
    """Where AWS calls go: a profile and/or an endpoint URL, plus explicit credentials if given."""

    profile: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    def describe(self) -> str:
        if self.endpoint_url:
            return f"endpoint {self.endpoint_url}"
        return f"AWS profile {self.profile}" if self.profile else "AWS (default credential chain)"


@dataclass
class ClientFactory:
    """Hands out boto3 clients bound to a region. Thread-safe; clients are cached per instance."""

    target: Target = field(default_factory=Target)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    session_class: Any = boto3.Session
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _session: Any = field(default=None, init=False, repr=False)

    def _get_session(self) -> Any:
        if self._session is None:
            kwargs: dict[str, Any] = {}
            if self.target.profile:
                kwargs["profile_name"] = self.target.profile
            if self.target.access_key_id:
                kwargs["aws_access_key_id"] = self.target.access_key_id
                kwargs["aws_secret_access_key"] = self.target.secret_access_key
                kwargs["aws_session_token"] = self.target.session_token
            self._session = self.session_class(**kwargs)
        return self._session

    def client(self, service: str, region: str) -> Any:
        """A client for ``service`` in ``region`` (always explicit)."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                config = Config(
                    region_name=region,
                    retries={"mode": "standard", "max_attempts": self.max_attempts},
                    connect_timeout=10,
                    read_timeout=60,
                )
                self._clients[key] = self._get_session().client(
                    service, region_name=region, endpoint_url=self.target.endpoint_url, config=config
                )
                log.debug("created %s client in %s (%s)", service, region, self.target.describe())
            return self._clients[key]

    def region(self, region: str) -> RegionClients:
        """A view that hands out clients already bound to ``region``."""
        return RegionClients(self, region)


@dataclass(frozen=True)
class RegionClients:
    """Clients bound to one region."""

    factory: ClientFactory
    name: str

    def client(self, service: str) -> Any:
        return self.factory.client(service, self.name)

    def __getattr__(self, service: str) -> Any:
        # region.cloudformation, region.rds, ... ; names with dashes use client("...").
        if service.startswith("_"):
            raise AttributeError(service)
        return self.factory.client(service.replace("_", "-"), self.name)
