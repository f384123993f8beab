"""Process-wide test speed-ups that change no behaviour under test; a suite's conftest calls ``install()``.

Not a conftest.py of tests/: ruff (``src = ["src", "tests"]``) would then take the ``conftest`` that the
failback tests import from their own folder for a first-party module. Loaded by path (``_install_speedups``
in tests/unit/conftest.py and tests/emulator/conftest.py), so no folder is put on ``sys.path``.

Measured on tests/unit/runbook/test_steps.py with cProfile (issue 10, test-suite budget): most of a test's
time went to moto building 100k+ default AMIs for every EC2 backend it creates, and to botocore decoding
the same service-model JSON files again for every new boto3 session (each ``ClientFactory`` has its own).

- ``MOTO_EC2_LOAD_DEFAULT_AMIS=false``: moto's documented switch (moto/settings.py,
  ``ec2_load_default_amis``). The embedded emulator already runs with it (streamflix_dr_emulator/server.py);
  no test reads an AMI. Set before any EC2 backend exists; ``setdefault`` leaves a caller's choice alone.
- One botocore ``Loader`` per data path for the whole process: botocore caches decoded models per loader
  instance (``botocore.loaders.instance_cache``) and hands the same dicts to every client of a session, so
  sharing the loader between sessions is the same contract over a longer life. The files are botocore's
  own, read-only; credentials, regions, endpoints and retries stay per session.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import botocore.loaders
import botocore.session


class _SearchPaths(list[str]):
    """A loader's search path list; boto3 appends its data folder once per session, keep it once."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_BOTO3_DATA = os.path.join(os.path.dirname(boto3.__file__), "data")
_LOADERS: dict[str | None, botocore.loaders.Loader] = {}
_create_loader = botocore.loaders.create_loader


def _shared_loader(search_path_string: str | None = None) -> Any:
    loader = _LOADERS.get(search_path_string)
    if loader is None:
        loader = _create_loader(search_path_string)
        paths = _SearchPaths(loader.search_paths)
        # Every boto3 session appends this folder (boto3.session.Session._setup_loader); add it up front so
        # the paths, and what the loader caches, are the same whichever kind of session asks first.
        paths.append(_BOTO3_DATA)
        loader._search_paths = paths  # the list boto3 itself appends to
        _LOADERS[search_path_string] = loader
    return loader


def install() -> None:
    """Both speed-ups, for the rest of the process (idempotent)."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    botocore.session.create_loader = _shared_loader  # type: ignore[assignment]
