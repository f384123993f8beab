"""The project's DR rules as cfn-lint custom rules.

Run them in any cfn-lint pipeline with ``cfn-lint --append-rules <this directory>`` (the package must
be importable there: the rule files import ``streamflix_dr.constants`` and ``_common``). A finding can
be suppressed per resource the cfn-lint way, with
``Metadata: {cfn-lint: {config: {ignore_checks: [E9102]}}}``.
``rules_dir()`` gives the directory.
"""

from __future__ import annotations

from pathlib import Path


def rules_dir() -> Path:
    """The directory to pass to cfn-lint's ``--append-rules``."""
    return Path(__file__).parent
