"""Helpers shared by the DR rules: condition scenarios, Fn::If resolution, parameter-set handling.

The file name starts with ``_`` so cfn-lint's rule loader (which imports every ``[A-Za-z1-9]*.py``
in an ``--append-rules`` directory and instantiates every rule class it finds there) skips it.
Rule modules import this as a module, never its names, for the same reason.

Scenarios: a property behind ``Fn::If`` counts as set only in the condition combinations where
its branch is taken. Without parameter values every satisfiable combination (cfn-lint's solver)
is a scenario; with a cfn-lint parameter set (``--parameters`` / the ``validate`` command) the
conditions that depend only on the given parameters are fixed, the rest stay free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

LOGGER = logging.getLogger(__name__)

SUFFIX_PARAM = "EnvironmentSuffix"
REQUIRED_TAGS = ("Environment", "Application", "CostCenter")


class _NoValue:
    """Marks a value removed by ``Ref: AWS::NoValue``."""


NO_VALUE = _NoValue()


class Unknown(Exception):
    """A condition cannot be evaluated from the parameter values at hand."""


def is_fn(value: Any, name: str) -> bool:
    return isinstance(value, dict) and len(value) == 1 and name in value


def condition_names_in(value: Any) -> set[str]:
    """Every condition name used by an ``Fn::If`` anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if_args = value.get("Fn::If") if len(value) == 1 else None
        if isinstance(if_args, list) and len(if_args) == 3 and isinstance(if_args[0], str):
            found.add(str(if_args[0]))
        for v in value.values():
            found |= condition_names_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= condition_names_in(v)
    return found


def resolve(value: Any, scenario: dict[str, bool]) -> Any:
    """``value`` with every ``Fn::If`` replaced by its branch in ``scenario``; NoValue entries dropped.

    Returns ``NO_VALUE`` when the value itself is removed.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            if_args = value.get("Fn::If")
            if isinstance(if_args, list) and len(if_args) == 3 and isinstance(if_args[0], str):
                taken = scenario.get(str(if_args[0]))
                if taken is None:
                    # An unknown condition: keep the "true" branch, the one authors write as the norm.
                    taken = True
                return resolve(if_args[1] if taken else if_args[2], scenario)
            if value.get("Ref") == "AWS::NoValue":
                return NO_VALUE
        out = {}
        for k, v in value.items():
            r = resolve(v, scenario)
            if r is not NO_VALUE:
                out[str(k)] = r
        return out
    if isinstance(value, list):
        return [r for r in (resolve(v, scenario) for v in value) if r is not NO_VALUE]
    return value


# The stacks' parameter sets for the DR rules alone, when ``validate`` does not hand them to cfn-lint (without
# an environment they hold only Role and Phase, which cfn-lint's own rules resolve to every allowed value
# anyway). cfn-lint's own parameter sets, when given, win.
STACK_PARAMETER_SETS: ContextVar[tuple[dict[str, Any], ...]] = ContextVar("stack_parameter_sets", default=())


def parameter_values(cfn: Any) -> list[dict[str, Any]]:
    """The parameter sets cfn-lint was given (``--parameters``, deployment files, ``validate``), else the
    stacks ``validate`` named for the DR rules (``STACK_PARAMETER_SETS``)."""
    sets = getattr(getattr(cfn, "context", None), "parameter_sets", None) or []
    given = [dict(s.parameters) for s in sets if isinstance(getattr(s, "parameters", None), dict)]
    return given or [dict(s) for s in STACK_PARAMETER_SETS.get()]


def _region(cfn: Any) -> str | None:
    regions = getattr(cfn, "regions", None) or []
    return str(regions[0]) if len(regions) == 1 else None


def _eval_value(value: Any, params: dict[str, Any], cfn: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if is_fn(value, "Ref"):
        name = value["Ref"]
        if name in params:
            v = params[name]
            return ",".join(map(str, v)) if isinstance(v, list) else str(v)
        if name == "AWS::Region" and _region(cfn):
            return _region(cfn)
        raise Unknown(name)
    if is_fn(value, "Fn::Select"):
        idx, items = value["Fn::Select"]
        seq = _eval_value(items, params, cfn)
        parts = seq if isinstance(seq, list) else str(seq).split(",")
        return parts[int(_eval_value(idx, params, cfn))]
    if is_fn(value, "Fn::Join"):
        sep, items = value["Fn::Join"]
        return str(sep).join(str(_eval_value(i, params, cfn)) for i in items)
    raise Unknown(repr(value))


def eval_condition(name_or_expr: Any, params: dict[str, Any], cfn: Any, _depth: int = 0) -> bool:
    """Evaluate a condition (by name or expression) from parameter values; raise ``Unknown`` if it can't."""
    if _depth > 20:
        raise Unknown("condition nesting too deep")
    conditions = cfn.template.get("Conditions", {}) or {}
    if isinstance(name_or_expr, str):
        if name_or_expr not in conditions:
            raise Unknown(name_or_expr)
        return eval_condition(conditions[name_or_expr], params, cfn, _depth + 1)
    expr = name_or_expr
    if is_fn(expr, "Condition"):
        return eval_condition(str(expr["Condition"]), params, cfn, _depth + 1)
    if is_fn(expr, "Fn::Equals"):
        left, right = expr["Fn::Equals"]
        return bool(_eval_value(left, params, cfn) == _eval_value(right, params, cfn))
    if is_fn(expr, "Fn::Not"):
        return not eval_condition(expr["Fn::Not"][0], params, cfn, _depth + 1)
    if is_fn(expr, "Fn::And"):
        # Evaluate all so an Unknown anywhere is reported, unless a known False decides it.
        results: list[bool | None] = []
        for item in expr["Fn::And"]:
            try:
                results.append(eval_condition(item, params, cfn, _depth + 1))
            except Unknown:
                results.append(None)
        if False in results:
            return False
        if None in results:
            raise Unknown("And")
        return True
    if is_fn(expr, "Fn::Or"):
        results = []
        for item in expr["Fn::Or"]:
            try:
                results.append(eval_condition(item, params, cfn, _depth + 1))
            except Unknown:
                results.append(None)
        if True in results:
            return True
        if None in results:
            raise Unknown("Or")
        return False
    raise Unknown(repr(expr))


def _cache(cfn: Any, name: str) -> dict[Any, Any] | None:
    """A memo dict kept on the cfn-lint Template object itself, so it lives exactly as long as one lint run.

    The rules ask the same questions for hundreds of resources (which conditions a parameter set decides,
    which condition combinations are satisfiable); the answers depend only on the template, the region and
    the question. None when the object takes no attributes (then nothing is cached).
    """
    caches = getattr(cfn, "_streamflix_dr_cache", None)
    if caches is None:
        try:
            caches = {}
            cfn._streamflix_dr_cache = caches
        except AttributeError:
            return None
    return caches.setdefault(name, {})


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value if isinstance(value, Hashable) else repr(value)


def fixed_conditions(cfn: Any, params: dict[str, Any]) -> dict[str, bool]:
    """The template's conditions that ``params`` alone decide."""
    memo = _cache(cfn, "fixed")
    key = (_freeze(params), _region(cfn))
    if memo is not None and key in memo:
        return dict(memo[key])
    out: dict[str, bool] = {}
    for name in cfn.template.get("Conditions", {}) or {}:
        try:
            out[str(name)] = eval_condition(str(name), params, cfn)
        except (Unknown, ValueError, TypeError, IndexError, KeyError):
            continue
    if memo is not None:
        memo[key] = dict(out)
    return out


def scenarios(
    cfn: Any, names: set[str], required: dict[str, bool] | None = None, params: dict[str, Any] | None = None
) -> list[dict[str, bool]]:
    """Satisfiable truth assignments of ``names`` given ``required`` (e.g. a resource's own condition).

    With ``params`` (or cfn-lint parameter sets) the conditions they decide are fixed. An empty
    list means the combination can never happen (the resource is never created).
    """
    required = dict(required or {})
    param_sets: list[dict[str, Any] | None] = (
        [params] if params is not None else [*parameter_values(cfn)] or [None]
    )
    out: list[dict[str, bool]] = []
    for pset in param_sets:
        fixed = dict(required)
        if pset is not None:
            decided = fixed_conditions(cfn, pset)
            for k, v in decided.items():
                if k in fixed and fixed[k] != v:
                    break
                fixed[k] = v
            else:
                out.extend(_solve(cfn, names, fixed))
            continue
        out.extend(_solve(cfn, names, fixed))
    unique: list[dict[str, bool]] = []
    for s in out:
        if s not in unique:
            unique.append(s)
    return unique


def _solve(cfn: Any, names: set[str], fixed: dict[str, bool]) -> list[dict[str, bool]]:
    known = set((cfn.template.get("Conditions", {}) or {}).keys())
    query: dict[str, set[bool]] = {n: {True, False} for n in names if n in known}
    for k, v in fixed.items():
        if k in known:
            query[k] = {v}
    if not query:
        return [{}]
    memo = _cache(cfn, "solve")
    key = tuple(sorted((k, tuple(sorted(v))) for k, v in query.items()))
    if memo is not None and key in memo:
        return [dict(s) for s in memo[key]]
    try:
        result = [dict(s) for s in cfn.conditions.build_scenarios(query)]
    except Exception as e:  # cfn-lint's solver is best effort; fall back to no constraint.
        LOGGER.debug("condition solver failed (%s); checking unconstrained", e)
        return [dict(fixed)]
    if memo is not None:
        memo[key] = [dict(s) for s in result]
    return result


def resource_scenarios(
    cfn: Any, name: str, resource: dict[str, Any], params: dict[str, Any] | None = None
) -> Iterator[tuple[dict[str, bool], Any]]:
    """(scenario, resolved resource) for each way the resource can be created (given ``params``)."""
    required: dict[str, bool] = {}
    cond = resource.get("Condition")
    if isinstance(cond, str):
        required[cond] = True
    names = condition_names_in(resource)
    for scenario in scenarios(cfn, names, required, params=params):
        resolved = resolve(resource, scenario)
        if isinstance(resolved, dict):
            # Only the conditions this resource uses matter to the reader of a message.
            yield {k: v for k, v in scenario.items() if k in names}, resolved


def describe(scenario: dict[str, bool]) -> str:
    """A short text for messages: `` when IsDr=true, HasCert=false`` (empty when unconditional)."""
    if not scenario:
        return ""
    return " when " + ", ".join(f"{k}={'true' if v else 'false'}" for k, v in sorted(scenario.items()))


def resources(cfn: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, res in (cfn.template.get("Resources", {}) or {}).items():
        if isinstance(res, dict) and isinstance(res.get("Type"), str):
            yield str(name), res


def props(resource: dict[str, Any]) -> dict[str, Any]:
    p = resource.get("Properties", {})
    return p if isinstance(p, dict) else {}


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def refs_resource(value: Any, logical_id: str) -> bool:
    """Whether ``value`` is a Ref/GetAtt to ``logical_id`` (or a Sub that names it)."""
    if is_fn(value, "Ref"):
        return value["Ref"] == logical_id
    if is_fn(value, "Fn::GetAtt"):
        target = value["Fn::GetAtt"]
        head = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        return head == logical_id
    if is_fn(value, "Fn::Sub"):
        arg = value["Fn::Sub"]
        text = arg[0] if isinstance(arg, list) else arg
        return isinstance(text, str) and (f"${{{logical_id}}}" in text or f"${{{logical_id}." in text)
    return False


def mentions(value: Any, name: str) -> bool:
    """Whether ``value`` refers to ``name`` anywhere (Ref, GetAtt, Sub variable)."""
    if refs_resource(value, name):
        return True
    if isinstance(value, dict):
        return any(mentions(v, name) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, name) for v in value)
    return False


def problems_by_scenario(
    cfn: Any,
    name: str,
    resource: dict[str, Any],
    check: Callable[[dict[str, Any]], Iterable[tuple[Hashable, Any]]],
    params: dict[str, Any] | None = None,
) -> list[tuple[Any, str]]:
    """Run ``check`` on the resolved resource in every scenario; return (payload, when-text) per problem.

    ``check`` yields (key, payload) pairs. A problem found in every scenario gets an empty when-text;
    one found only in some is described by the first scenario it appears in.
    """
    total = 0
    first: dict[Hashable, tuple[Any, dict[str, bool]]] = {}
    counts: dict[Hashable, int] = {}
    for scenario, resolved in resource_scenarios(cfn, name, resource, params=params):
        total += 1
        for key, payload in check(resolved):
            if key not in first:
                first[key] = (payload, scenario)
            counts[key] = counts.get(key, 0) + 1
    return [
        (payload, "" if counts[key] == total else describe(scenario))
        for key, (payload, scenario) in first.items()
    ]
