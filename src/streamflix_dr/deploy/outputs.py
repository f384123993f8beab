"""The ``cfn-outputs`` files that tests and other tools read after a deploy.

- ``<dir>/<region>.json``: ``{OutputKey: value}`` of that region's stack.
- ``<dir>/flat-outputs.json``: both regions merged. Every key appears prefixed by its role
  (``primary.DbInstanceArn``, ``dr.DbInstanceArn``); the plain key (``DbInstanceArn``) appears too when
  it is unambiguous: only one region has it, or both have the same value. Plus ``primary.Region`` and
  ``dr.Region`` so a reader can find the per-region files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from streamflix_dr.constants import Role

FLAT_FILE = "flat-outputs.json"


def flatten(by_role: dict[Role, tuple[str, dict[str, str]]]) -> dict[str, str]:
    """Merge ``{role: (region, outputs)}`` into the flat mapping described in the module docstring."""
    flat: dict[str, str] = {}
    plain: dict[str, set[str]] = {}
    for role, (region, outputs) in sorted(by_role.items(), key=lambda kv: kv[0].value):
        flat[f"{role.value}.Region"] = region
        for key, value in outputs.items():
            flat[f"{role.value}.{key}"] = value
            plain.setdefault(key, set()).add(value)
    for key, values in sorted(plain.items()):
        if len(values) == 1:
            flat[key] = next(iter(values))
    return dict(sorted(flat.items()))


def write_outputs(outputs_dir: Path, by_role: dict[Role, tuple[str, dict[str, str]]]) -> list[Path]:
    """Write the per-region files and the flat file atomically; return the paths written."""
    outputs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for _role, (region, outputs) in by_role.items():
        written.append(_atomic_json(outputs_dir / f"{region}.json", dict(sorted(outputs.items()))))
    written.append(_atomic_json(outputs_dir / FLAT_FILE, flatten(by_role)))
    return written


def read_outputs(outputs_dir: Path, region: str) -> dict[str, str]:
    """One region's outputs file (empty when missing)."""
    path = outputs_dir / f"{region}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def _atomic_json(path: Path, data: dict[str, str]) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
