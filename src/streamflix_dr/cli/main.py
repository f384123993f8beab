"""Entry point. Subcommands live one per module and are imported only when invoked.

Library code never prints or exits; this is the one place that maps exceptions to exit codes.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from streamflix_dr import __version__
from streamflix_dr.errors import StreamflixDrError

# command name -> module under streamflix_dr.cli that defines ``command``.
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "deploy": "deploy",
    "destroy": "destroy",
    "status": "status",
    "emulator": "emulator",
    "readiness": "readiness",
    "failover": "failover",
    "drill": "drill",
}


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


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="streamflix-dr", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(5)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except StreamflixDrError as e:
        click.secho(f"error: {e.message}", fg="red", err=True)
        if e.fix:
            click.echo(f"  fix: {e.fix}", err=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
