"""The project's DR rules as cfn-lint custom rules.

Run them in any cfn-lint pipeline with ``cfn-lint --append-rules <this directory>``;
``rules_dir()`` gives the directory, ``RULE_IDS`` the ids they use.
"""

from __future__ import annotations

from pathlib import Path


def rules_dir() -> Path:
    """The directory to pass to cfn-lint's ``--append-rules``."""
    return Path(__file__).parent
