"""Options and context shared by the AWS-facing commands."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.errors import EmulatorError


@dataclass
class AppContext:
    """What a command hands to the core: the client factory and how to talk to the operator."""

    factory: ClientFactory
    target: Target
    emulator: bool


def stack_operation_options(timeout_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--poll-interval and --timeout-minutes, shared by the commands that wait on stack operations."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option(
            "--timeout-minutes", type=click.IntRange(1, 720), default=None, help=timeout_help
        )(func)
        return click.option(
            "--poll-interval",
            type=click.FloatRange(0.05, 60),
            default=10.0,
            show_default=True,
            envvar="STREAMFLIX_DR_POLL_INTERVAL",
            help="Seconds between stack status/event polls.",
        )(func)

    return decorate


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --profile/--endpoint-url/--emulator and pass ``app: AppContext`` to the command."""

    @click.option("--profile", default=None, help="AWS named profile (standard credential chain otherwise).")
    @click.option(
        "--endpoint-url",
        default=lambda: os.environ.get("STREAMFLIX_DR_ENDPOINT_URL"),
        help="Send every AWS call to this endpoint (an emulator). Env: STREAMFLIX_DR_ENDPOINT_URL.",
    )
    @click.option("--emulator", is_flag=True, help="Start the embedded AWS emulator in-process and use it.")
    @functools.wraps(func)
    def wrapper(
        *args: Any, profile: str | None, endpoint_url: str | None, emulator: bool, **kwargs: Any
    ) -> Any:
        with open_target(profile=profile, endpoint_url=endpoint_url, emulator=emulator) as app:
            return func(*args, app=app, **kwargs)

    return wrapper


@contextlib.contextmanager
def open_target(
    *, profile: str | None = None, endpoint_url: str | None = None, emulator: bool = False
) -> Iterator[AppContext]:
    """Build the AppContext; with ``emulator`` start the embedded emulator for the duration."""
    if emulator and endpoint_url:
        raise click.UsageError("--emulator and --endpoint-url exclude each other: pick one target.")
    if not emulator:
        target = Target(profile=profile, endpoint_url=endpoint_url)
        yield AppContext(factory=ClientFactory(target=target), target=target, emulator=False)
        return
    try:
        from streamflix_dr_emulator import server  # noqa: PLC0415 - optional dependency
    except ImportError as e:  # pragma: no cover - depends on the install
        raise EmulatorError(
            f"the embedded emulator is not installed ({e}).",
            fix="pip install 'streamflix-dr[emulator]' (make drill and make test do this)",
        ) from e
    with server.running() as endpoint:
        target = Target(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing")  # noqa: S106
        yield AppContext(factory=ClientFactory(target=target), target=target, emulator=True)
