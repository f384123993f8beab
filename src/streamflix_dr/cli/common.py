"""Options and context shared by the AWS-facing commands: the target, the overall deadline, what the
command is doing (for the "still waiting" lines, Ctrl-C and the deadline message)."""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from streamflix_dr.aws.clients import ACTIVITY, ClientFactory, Target
from streamflix_dr.aws.faults import check_endpoint_url
from streamflix_dr.errors import EmulatorError

ENDPOINT_ENV = "STREAMFLIX_DR_ENDPOINT_URL"
# Overall deadline per command, in minutes (--deadline-minutes overrides). Deploy and destroy wait on
# CloudFormation, whose DR full phase (the cross-region replica) alone may take 240 minutes.
DEFAULT_DEADLINE_MINUTES: dict[str, float] = {
    "deploy": 360,
    "destroy": 300,
    "failover": 60,
    "drill": 90,
    "status": 5,
    "readiness": 10,
}
# A line about an AWS call that has not answered after this many seconds, repeated at this interval.
WAIT_NOTICE_SECONDS = 5.0


@dataclass
class RunContext:
    """What the running command is doing: reported on Ctrl-C, at the deadline and while waiting."""

    command: str = ""
    env: str = ""
    operation_id: str = ""
    resume: str = ""  # the exact command that resumes the interrupted work
    doing: str = ""  # what it waits for now, in words
    deadline_expired: bool = False
    deadline_minutes: float = 0.0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"`streamflix-dr {self.command}`" if self.command else "the command"]
        if self.env:
            parts.append(f"for environment {self.env}")
        if self.operation_id:
            parts.append(f"(operation {self.operation_id})")
        text = " ".join(parts)
        return f"{text}, while {self.doing}" if self.doing else text


CURRENT = RunContext()


def typed_command() -> str:
    """The command line as typed, quoted so that it can be pasted back."""
    return "streamflix-dr " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "streamflix-dr"


@dataclass
class AppContext:
    """What a command hands to the core: the client factory and how to talk to the operator."""

    factory: ClientFactory
    target: Target
    emulator: bool

    def probe(self, region: str) -> str:
        """Fail fast (exit 7/8 with the fix) when ``region`` does not answer; return the account id."""
        CURRENT.doing = f"checking credentials and the endpoint in {region} (sts:GetCallerIdentity)"
        account = self.factory.probe(region)
        CURRENT.doing = ""
        return account


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
    """Add --profile/--endpoint-url/--emulator/--deadline-minutes and pass ``app: AppContext``."""

    @click.option("--profile", default=None, help="AWS named profile (standard credential chain otherwise).")
    @click.option(
        "--endpoint-url",
        default=None,
        help=f"Send every AWS call to this endpoint (an emulator). Env: {ENDPOINT_ENV} "
        "(--emulator wins over the environment variable).",
    )
    @click.option("--emulator", is_flag=True, help="Start the embedded AWS emulator in-process and use it.")
    @click.option(
        "--deadline-minutes",
        type=click.FloatRange(0.01, 1440),
        default=None,
        help="Give up after this long, saying what it was waiting for "
        f"[default per command: {', '.join(f'{k} {v:g}' for k, v in DEFAULT_DEADLINE_MINUTES.items())}].",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        profile: str | None,
        endpoint_url: str | None,
        emulator: bool,
        deadline_minutes: float | None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        name = ctx.info_name or ""
        CURRENT.command = name
        CURRENT.env = str(kwargs.get("env_name") or "")
        CURRENT.resume = typed_command()
        from_env = os.environ.get(ENDPOINT_ENV) or None
        if endpoint_url is None and from_env:
            if emulator:
                click.echo(
                    f"note: --emulator given, so {ENDPOINT_ENV}={from_env} is ignored for this command.",
                    err=True,
                )
            else:
                check_endpoint_url(from_env, source=ENDPOINT_ENV)
                endpoint_url = from_env
        minutes = deadline_minutes or DEFAULT_DEADLINE_MINUTES.get(name, 60)
        with (
            watchdog(minutes * 60.0),
            open_target(profile=profile, endpoint_url=endpoint_url, emulator=emulator) as app,
        ):
            CURRENT.deadline_minutes = minutes
            return func(*args, app=app, **kwargs)

    return wrapper


@contextlib.contextmanager
def watchdog(
    deadline_s: float,
    *,
    notice_s: float = WAIT_NOTICE_SECONDS,
    say: Callable[[str], None] | None = None,
    tick: float = 0.25,
) -> Iterator[None]:
    """Say what is awaited when an AWS call takes longer than ``notice_s`` (again every ``notice_s``), and
    interrupt the main thread (SIGINT) when ``deadline_s`` passes; ``main`` then reports the deadline."""
    out = say or (lambda m: click.echo(m, err=True))
    stop = threading.Event()
    start = time.monotonic()
    CURRENT.deadline_expired = False

    def run() -> None:
        last_notice = 0.0
        while not stop.wait(tick):
            now = time.monotonic()
            if now - start >= deadline_s:
                CURRENT.deadline_expired = True
                os.kill(os.getpid(), signal.SIGINT)
                return
            slow = [c for c in ACTIVITY.inflight() if now - c.started >= notice_s]
            if slow and now - last_notice >= notice_s:
                last_notice = now
                c = slow[0]
                out(f"... still waiting for {c.describe()}: {now - c.started:.0f} s")

    thread = threading.Thread(target=run, name="streamflix-dr-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


@contextlib.contextmanager
def open_target(
    *, profile: str | None = None, endpoint_url: str | None = None, emulator: bool = False
) -> Iterator[AppContext]:
    """Build the AppContext; with ``emulator`` start the embedded emulator for the duration."""
    if emulator and endpoint_url:
        raise click.UsageError("--emulator and --endpoint-url exclude each other: pick one target.")
    check_endpoint_url(endpoint_url)
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
