"""``streamflix-dr validate``: lint the templates for every stack, run the DR rules and checkov."""

from __future__ import annotations

import sys

import click

from streamflix_dr.validate import validate
from streamflix_dr.validate.render import to_json, to_text


@click.command("validate")
@click.argument("templates", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--env", "env", default=None, help="Also check this environment's parameter values (name or file)."
)
@click.option("--json", "as_json", is_flag=True, help="Print findings and a summary as JSON.")
@click.option("--no-checkov", is_flag=True, help="Do not run checkov (the output says it was skipped).")
def command(templates: tuple[str, ...], env: str | None, as_json: bool, no_checkov: bool) -> None:
    """Lint TEMPLATE... (default: the main template) for the DR base, primary and DR full stacks.

    Runs cfn-lint with the project's DR rules appended, checks --env's parameter values against the
    template, and runs checkov. Exits 0 only with no errors and no warnings.
    """
    result = validate(list(templates) or None, env=env, include_checkov=not no_checkov)
    click.echo(to_json(result) if as_json else to_text(result))
    if not result.ok:
        sys.exit(1)
