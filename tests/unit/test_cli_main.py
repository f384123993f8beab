"""The CLI shell: lazy subcommands, exit codes from the exception tree."""

from __future__ import annotations

import importlib

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
