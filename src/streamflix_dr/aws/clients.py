"""One boto3 client factory, cached per (region, service) on the instance.

The target is real AWS through the standard credential chain (optionally a named
profile) or any endpoint URL (an emulator). The emulator is only a URL here: no
code path in the product branches on it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from streamflix_dr.aws.faults import check_endpoint_url, translate
from streamflix_dr.errors import EndpointError

log = logging.getLogger(__name__)

# botocore's "standard" retry mode retries throttling and transient errors with jittered
# exponential backoff; the retries for the whole package live here and nowhere else.
# Bounded so that a silent endpoint costs at most MAX_ATTEMPTS x (CONNECT + READ) per call: botocore's
# defaults (60 s read timeout, and 8 attempts here before) kept one call silent for 200 s.
DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
# The probe every AWS-facing command makes first (sts:GetCallerIdentity): short, two attempts.
PROBE_CONNECT_TIMEOUT = 3
PROBE_READ_TIMEOUT = 5
PROBE_MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Call:
    """One AWS call in flight (or the last one made)."""

    service: str
    operation: str
    region: str
    endpoint: str
    started: float

    def describe(self) -> str:
        return f"{self.service}:{self.operation} in {self.region} ({self.endpoint})"


class Activity:
    """What AWS calls are in flight, per thread, and the last call made: the CLI says what it waits for
    and names the region/endpoint of a fault from here. Fed by botocore's before-call/after-call events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[int, Call] = {}
        self.last: Call | None = None
        self.last_failed: Call | None = None  # the call a fault came from (later calls may follow it)

    def start(self, call: Call) -> None:
        with self._lock:
            self._inflight[threading.get_ident()] = call
            self.last = call

    def end(self, *, failed: bool = False) -> None:
        with self._lock:
            call = self._inflight.pop(threading.get_ident(), None)
            if failed and call is not None:
                self.last_failed = call

    def inflight(self) -> list[Call]:
        with self._lock:
            return sorted(self._inflight.values(), key=lambda c: c.started)


ACTIVITY = Activity()


def _track(client: Any, region: str) -> None:
    service = client.meta.service_model.service_name
    endpoint = client.meta.endpoint_url

    def before(model: Any = None, **_: Any) -> None:
        ACTIVITY.start(Call(service, getattr(model, "name", "?"), region, endpoint, time.monotonic()))

    def after(**_: Any) -> None:
        ACTIVITY.end()

    def after_error(**_: Any) -> None:
        ACTIVITY.end(failed=True)

    client.meta.events.register("before-call", before)
    client.meta.events.register("after-call", after)
    client.meta.events.register("after-call-error", after_error)


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
            try:
                self._session = self.session_class(**kwargs)
            except BotoCoreError as e:  # ProfileNotFound is raised here
                err = _translated(e, self.target, None, None)
                if err is None:
                    raise
                raise err from e
        return self._session

    def client(self, service: str, region: str) -> Any:
        """A client for ``service`` in ``region`` (always explicit)."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                config = Config(
                    region_name=region,
                    retries={"mode": "standard", "max_attempts": self.max_attempts},
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                )
                self._clients[key] = self._make(service, region, config)
                log.debug("created %s client in %s (%s)", service, region, self.target.describe())
            return self._clients[key]

    def _make(self, service: str, region: str, config: Config) -> Any:
        check_endpoint_url(self.target.endpoint_url)
        client = self._get_session().client(
            service, region_name=region, endpoint_url=self.target.endpoint_url, config=config
        )
        if hasattr(client, "meta"):
            _track(client, region)
        return client

    def probe(self, region: str) -> str:
        """Check, fast, that ``region`` answers with these credentials; return the account id.

        Raises ``CredentialsError`` (exit 7) or ``EndpointError`` (exit 8) with the fix, within about
        PROBE_MAX_ATTEMPTS x (PROBE_CONNECT_TIMEOUT + PROBE_READ_TIMEOUT) seconds.
        """
        config = Config(
            region_name=region,
            retries={"mode": "standard", "max_attempts": PROBE_MAX_ATTEMPTS},
            connect_timeout=PROBE_CONNECT_TIMEOUT,
            read_timeout=PROBE_READ_TIMEOUT,
        )
        sts = self._make("sts", region, config)
        try:
            answer = sts.get_caller_identity()
        except (BotoCoreError, ClientError, ResponseParserError) as e:
            err = _translated(e, self.target, region, "sts:GetCallerIdentity")
            if err is None:
                raise
            raise err from e
        except KeyError:  # botocore's query parser on an XML document without AWS's result element
            answer = {}
        if "Account" not in answer:
            # An HTTP server that answered with something XML-shaped (an HTML page) but not AWS's reply.
            url = self.target.endpoint_url or "the AWS endpoint"
            raise EndpointError(
                f"{url} answered sts:GetCallerIdentity in {region}, but not like AWS (no account in the "
                "reply: an HTML page or another service is listening there).",
                fix="point --endpoint-url (or STREAMFLIX_DR_ENDPOINT_URL) at an AWS endpoint or the emulator "
                "(`streamflix-dr emulator` prints its URL), or leave it unset for real AWS",
            )
        return str(answer["Account"])

    def region(self, region: str) -> RegionClients:
        """A view that hands out clients already bound to ``region``."""
        return RegionClients(self, region)


def _translated(e: BaseException, target: Target, region: str | None, operation: str | None) -> Any:
    return translate(
        e, region=region, endpoint=target.endpoint_url, profile=target.profile, operation=operation
    )


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
