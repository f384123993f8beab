"""Load templates with cfn-lint's decoder and serialise them as JSON for CloudFormation.

cfn-lint's decoder keeps line numbers and understands the short-form intrinsics;
JSON made from it is what we send to CloudFormation (moto's YAML loader splits
``!GetAtt A.B.C`` on every dot, and real AWS accepts the same JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from streamflix_dr.constants import MAIN_TEMPLATE
from streamflix_dr.errors import TemplateError
from streamflix_dr.resources import templates_dir


def main_template_path() -> Path:
    return templates_dir() / MAIN_TEMPLATE


def load_template(path: Path | str | None = None) -> dict[str, Any]:
    """Decode a template; raise ``TemplateError`` with the file, line and a fix when it does not parse."""
    p = Path(path) if path else main_template_path()
    if not p.is_file():
        raise TemplateError(str(p), None, "no such template", "pass the path of a CloudFormation template")
    template, matches = decode(str(p))
    if matches or template is None:
        first = matches[0] if matches else None
        line = first.linenumber if first else None
        problem = first.message if first else "the template is empty"
        raise TemplateError(str(p), line, f"does not parse: {problem}", "fix the YAML/JSON at that line")
    return _plain(template)


def _plain(value: Any) -> Any:
    """cfn-lint's node types (dict_node, str_node, ...) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def to_json(template: dict[str, Any]) -> str:
    """Compact JSON: it counts against the 51,200-byte TemplateBody limit."""
    return json.dumps(template, separators=(",", ":"), sort_keys=False)
