"""The CLI shell: lazy subcommands, exit codes from the exception tree."""

from __future__ import annotations

import importlib
from typing import Any

import click
import pytest

from streamflix_dr.cli import main as cli_main
from streamflix_dr.errors import ConfigError


def test_every_registered_command_module_exists_and_defines_a_command() -> None:
    for name, module in cli_main.COMMANDS.items():
        mod = importlib.import_module(f"streamflix_dr.cli.{module}")
        assert isinstance(mod.command, click.Command), name


def test_help_lists_all_commands(capsys: pytest.CaptureFixture[str]) -> None:
    cli_main.main(["--help"])
    out = capsys.readouterr().out
    for name in cli_main.COMMANDS:
        assert name in out


def test_library_errors_become_exit_codes_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command()
    def boom() -> None:
        raise ConfigError(
            "suffix", "Bad-Suffix", "must be lowercase", "use e.g. prod", source="environments/x.yaml"
        )

    monkeypatch.setitem(cli_main.COMMANDS, "boom", "boom")
    monkeypatch.setattr(
        cli_main.LazyGroup, "get_command", lambda self, ctx, name: boom if name == "boom" else None
    )
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["boom"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "environments/x.yaml: suffix='Bad-Suffix': must be lowercase." in err
    assert "fix: use e.g. prod" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "No such command" in capsys.readouterr().err


# ---- the exit-code table, Ctrl-C and the deadline -----------------------------------------------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

from streamflix_dr import errors  # noqa: E402

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def _table_codes() -> dict[int, str]:
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {
        int(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\| (\d+) \| ([^|]+) \|", section, re.M)
    }


def test_operations_table_lists_exactly_the_exit_codes_of_main() -> None:
    table = _table_codes()
    assert table == cli_main.EXIT_CODES


def test_every_error_class_code_is_in_the_table() -> None:
    table = _table_codes()
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.StreamflixDrError)
    ]
    assert len(classes) > 10
    for c in classes:
        assert c.exit_code in table, c.__name__


def _command(fn: Any) -> Any:
    from streamflix_dr.cli.common import CURRENT  # noqa: PLC0415

    @click.command()
    def cmd() -> None:
        CURRENT.command, CURRENT.env, CURRENT.operation_id = (
            "failover",
            "dev",
            "failover-20260101T000000Z-abc",
        )
        CURRENT.resume = "streamflix-dr failover --env dev"
        fn()

    return cmd


def test_ctrl_c_exits_130_naming_what_and_how_to_resume(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    cmd = _command(interrupted)
    monkeypatch.setattr(cli_main.LazyGroup, "get_command", lambda self, ctx, name: cmd)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["x"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err
    assert "Aborted." not in err
    assert "interrupted (Ctrl-C): `streamflix-dr failover` for environment dev" in err
    assert "failover-20260101T000000Z-abc" in err
    assert "rerun `streamflix-dr failover --env dev`" in err


def test_deadline_interrupts_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading  # noqa: PLC0415

    from streamflix_dr.cli.common import watchdog  # noqa: PLC0415

    lines: list[str] = []

    def slow() -> None:
        done = threading.Event()
        with watchdog(0.2, say=lines.append, tick=0.02):
            done.wait(30)  # interrupted by the watchdog's SIGINT long before

    cmd = _command(slow)
    monkeypatch.setattr(cli_main.LazyGroup, "get_command", lambda self, ctx, name: cmd)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["x"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1, err
    assert "did not finish within its deadline" in err


# ---- SIGTERM: the same stop as Ctrl-C, from a supervisor ------------------------------------------------


def test_sigterm_unwinds_like_ctrl_c_and_exits_143_naming_what_and_how_to_resume(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    unwound: list[str] = []

    def runs_until_terminated() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill <pid>` or systemd's stop would
            threading.Event().wait(30)  # never reached: the handler raises at once
        finally:
            unwound.append("finally ran")  # where a `with lock.held(...)` releases the lock

    from streamflix_dr.cli.common import CURRENT  # noqa: PLC0415

    cmd = _command(runs_until_terminated)
    monkeypatch.setattr(cli_main.LazyGroup, "get_command", lambda self, ctx, name: cmd)
    monkeypatch.setattr(CURRENT, "deadline_expired", False)  # as the command's watchdog starts it
    before = signal.getsignal(signal.SIGTERM)

    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["x"])

    assert exit_info.value.code == 143 == cli_main.SIGTERM_EXIT
    assert unwound == ["finally ran"]
    err = capsys.readouterr().err
    assert "interrupted (SIGTERM): `streamflix-dr failover` for environment dev" in err
    assert "failover-20260101T000000Z-abc" in err
    assert "rerun `streamflix-dr failover --env dev` to resume" in err
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back


def test_a_sigterm_outside_a_command_is_left_to_the_previous_handler() -> None:
    import signal  # noqa: PLC0415

    before = signal.getsignal(signal.SIGTERM)
    with cli_main.sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
