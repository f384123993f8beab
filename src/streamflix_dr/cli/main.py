"""Entry point. Subcommands live one per module and are imported only when invoked.

Library code never prints or exits; this is the one place that maps exceptions to exit codes
(the table is docs/operations.md, checked against ``EXIT_CODES`` by tests/unit/test_cli_main.py).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from streamflix_dr import __version__
from streamflix_dr.errors import DeadlineError, EndpointError, Interrupted, StreamflixDrError

# command name -> module under streamflix_dr.cli that defines ``command``.
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "deploy": "deploy",
    "destroy": "destroy",
    "status": "status",
    "emulator": "emulator",
    "readiness": "readiness",
    "failover": "failover",
    "failback": "failback",
    "drill": "drill",
}

# Every exit code the CLI uses, and what it means (the operator's side is in docs/operations.md).
EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "failed",
    2: "bad input, configuration or template",
    3: "DR region not ready (readiness gate)",
    4: "another run holds the lock",
    5: "you declined",
    6: "DR region not serving after a failover",
    7: "credentials or profile problem",
    8: "AWS endpoint unreachable, silent or not AWS",
    130: "interrupted (Ctrl-C)",
    143: "terminated (SIGTERM)",
}

# 128 + the signal's number, as a shell reports a process a signal ended (SIGTERM is 15 wherever Python
# supports signals): a supervisor (systemd, a CI runner's cancel, kill) sees why the command stopped.
SIGTERM_EXIT = 128 + int(signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwound like Ctrl-C (locks released, journals kept), reported with exit 143."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported on use, so ``validate`` does not pay for moto."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        cmd = importlib.import_module(f"streamflix_dr.cli.{module}").command
        assert isinstance(cmd, click.Command)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="streamflix-dr")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """StreamFlix disaster recovery: eu-west-2 primary, us-east-1 warm standby."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def interrupted(how: str = "Ctrl-C") -> StreamflixDrError:
    """Ctrl-C, SIGTERM or the deadline: say what was interrupted and the command that resumes it."""
    from streamflix_dr.aws.clients import ACTIVITY  # noqa: PLC0415
    from streamflix_dr.cli.common import CURRENT  # noqa: PLC0415

    what = CURRENT.describe()
    resume = CURRENT.resume or "the same command"
    if CURRENT.deadline_expired:
        waiting = ACTIVITY.inflight()
        on = f" It was waiting for {waiting[0].describe()}." if waiting else ""
        cls = EndpointError if waiting else DeadlineError
        return cls(
            f"{what} did not finish within its deadline of {CURRENT.deadline_minutes:g} minutes.{on}",
            fix=f"find out why it is slow (the lines above say what it waited for), then rerun `{resume}` "
            "to resume; raise the bound with --deadline-minutes",
        )
    return Interrupted(
        f"interrupted ({how}): {what}.",
        fix=f"nothing is lost: rerun `{resume}` to resume where it stopped"
        + (" (the journal keeps the finished steps)" if CURRENT.operation_id else ""),
    )


def fault(e: BaseException) -> StreamflixDrError | None:
    """A botocore fault that escaped the library, as the message and exit code it deserves."""
    from streamflix_dr.aws.clients import ACTIVITY  # noqa: PLC0415
    from streamflix_dr.aws.faults import translate  # noqa: PLC0415

    last = ACTIVITY.last_failed or ACTIVITY.last
    return translate(
        e,
        region=last.region if last else None,
        endpoint=last.endpoint if last else None,
        operation=f"{last.service}:{last.operation}" if last else None,
    )


def report(e: StreamflixDrError) -> None:
    click.secho(f"error: {e.message}", fg="red", err=True)
    if e.fix:
        click.echo(f"  fix: {e.fix}", err=True)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises ``Terminated`` in the main thread, so it unwinds exactly as
    Ctrl-C does (``with`` blocks release the environment lock, the runner's journal keeps finished steps)
    instead of the process dying where it stands. The previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def raise_terminated(_signum: int, _frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> Any:
    try:
        with sigterm_as_interrupt():
            return cli.main(args=argv, prog_name="streamflix-dr", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort) as e:
        # click turns Ctrl-C at a prompt into Abort; both mean the operator stopped the command. SIGTERM
        # (Terminated) is the same stop from a supervisor: same message, its own exit code (143).
        # click re-raises an interrupt inside a command as Abort from it: look at the cause too.
        term = isinstance(e, Terminated) or isinstance(e.__cause__ or e.__context__, Terminated)
        err = interrupted("SIGTERM" if term else "Ctrl-C")
        click.echo("", err=True)
        report(err)
        sys.exit(SIGTERM_EXIT if term and isinstance(err, Interrupted) else err.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except StreamflixDrError as e:
        specific = fault(e)
        if specific is not None and e.exit_code == 1:
            # A generic failure whose cause is a credentials/endpoint fault: say that, with its code.
            specific = type(specific)(f"{e.message} Cause: {specific.message}", fix=specific.fix)
            e = specific
        report(e)
        sys.exit(e.exit_code)
    except (BotoCoreError, ClientError, ResponseParserError) as e:
        specific = fault(e)
        if specific is None:
            raise
        report(specific)
        sys.exit(specific.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
