"""Check parameter values (from an environment) against the template's parameter constraints.

``streamflix_dr.template_model.check_parameter_values`` is the shared implementation; until it
exists this module's minimal one is used (same signature: template, params -> problem texts).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from typing import Any

Checker = Callable[[Mapping[str, Any], Mapping[str, str]], list[str]]


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def minimal_check(template: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Problems with ``params`` against the template's Parameters: unknown names, missing required
    values, AllowedValues, AllowedPattern, Min/MaxLength, Min/MaxValue and Number types."""
    declared = template.get("Parameters", {}) or {}
    problems: list[str] = []
    for name in params:
        if name not in declared:
            problems.append(f"{name}: the template has no such parameter; remove it from the environment")
    for name, spec in declared.items():
        if not isinstance(spec, Mapping):
            continue
        if name not in params:
            if "Default" not in spec:
                problems.append(f"{name}: required (no Default) but no value is given; set it")
            continue
        value = str(params[name])
        ptype = str(spec.get("Type", "String"))
        items = [v.strip() for v in value.split(",")] if "List" in ptype else [value]
        for item in items:
            problems.extend(_check_one(str(name), item, ptype, spec))
    return problems


def _check_one(name: str, value: str, ptype: str, spec: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [str(a) for a in allowed]:
        out.append(f"{name}={value!r}: not one of {', '.join(map(str, allowed))}; use one of them")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str) and not re.fullmatch(pattern, value):
        desc = spec.get("ConstraintDescription") or f"must match {pattern}"
        out.append(f"{name}={value!r}: {desc}; change the value to match {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        out.append(f"{name}={value!r}: shorter than MinLength {spec['MinLength']}; lengthen it")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        out.append(f"{name}={value!r}: longer than MaxLength {spec['MaxLength']}; shorten it")
    if "Number" in ptype:
        number = _number(value)
        if number is None:
            out.append(f"{name}={value!r}: not a number; give a number")
        else:
            if "MinValue" in spec and number < float(spec["MinValue"]):
                out.append(f"{name}={value!r}: below MinValue {spec['MinValue']}; raise it")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                out.append(f"{name}={value!r}: above MaxValue {spec['MaxValue']}; lower it")
    return out


def checker() -> tuple[Checker, str]:
    """The parameter checker to use and its name (template_model's when available)."""
    try:
        # Imported by name: the module is written by another piece and may not exist yet.
        module = importlib.import_module("streamflix_dr.template_model")
    except ImportError:
        return minimal_check, "validate.parameters.minimal_check"
    shared = getattr(module, "check_parameter_values", None)
    if not callable(shared):
        return minimal_check, "validate.parameters.minimal_check"
    return shared, "template_model.check_parameter_values"


def _key_line(section: Any, name: str) -> int | None:
    if not isinstance(section, Mapping):
        return None
    for key in section:
        if key == name:
            mark = getattr(key, "start_mark", None)
            return mark.line + 1 if mark is not None else None
    return None


def parameter_line(template: Mapping[str, Any], problem: str) -> int | None:
    """The template line a problem text is about: its parameter (``Name=...``, ``Name: ...``) or its
    template Rule (``rule Name ...``)."""
    rule = re.match(r"rule ([A-Za-z0-9]+)", problem)
    if rule:
        return _key_line(template.get("Rules"), rule.group(1))
    m = re.match(r"([A-Za-z0-9]+)\s*[=:]", problem)
    return _key_line(template.get("Parameters"), m.group(1)) if m else None
