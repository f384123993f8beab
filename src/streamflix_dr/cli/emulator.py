"""``streamflix-dr emulator``: serve the embedded AWS emulator on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import click

from streamflix_dr.errors import EmulatorError


@click.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="TCP port; 0 picks a free one.",
)
def command(port: int) -> None:
    """Run moto plus the StreamFlix DR extension in this process; every service, every region."""
    try:
        from streamflix_dr_emulator import server  # noqa: PLC0415 - optional dependency
    except ImportError as e:  # pragma: no cover - depends on the install
        raise EmulatorError(
            f"the embedded emulator is not installed ({e}).",
            fix="pip install 'streamflix-dr[emulator]'",
        ) from e

    def ready(endpoint: str) -> None:
        click.echo(f"StreamFlix DR emulator listening on {endpoint} (Ctrl-C to stop)")
        click.echo("Any AWS credentials work. Example:")
        click.echo(
            f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"aws --endpoint-url {endpoint} cloudformation describe-stacks --region us-east-1"
        )
        click.echo(
            f"Point streamflix-dr at it with --endpoint-url {endpoint} (or STREAMFLIX_DR_ENDPOINT_URL)."
        )
        click.echo("State lives in memory and is gone when the emulator stops.")

    server.serve(port, ready=ready)
    click.echo("emulator stopped")
