"""Where the shipped templates and environment files are, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DATA = Path(__file__).parent / "_data"
# In an editable install (a checkout) the files are at the repository root.
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def _data_dir(name: str) -> Path:
    packaged = _PACKAGE_DATA / name
    if packaged.is_dir():
        return packaged
    return _CHECKOUT_ROOT / name


def templates_dir() -> Path:
    """The folder holding the CloudFormation templates."""
    return _data_dir("templates")


def environments_dir() -> Path:
    """The folder holding the shipped environment files (``<name>.yaml``)."""
    return _data_dir("environments")
