"""Evaluate a decoded CloudFormation template for one parameter set, without AWS.

These are pure functions over the dict that ``streamflix_dr.template.load_template``
returns: which resources and outputs a stack with given parameters would have
(Conditions evaluated the way CloudFormation does), the parameter defaults, and the
parameter constraints checked before any region is touched.

Parameter values are given as CloudFormation receives them: strings (a
CommaDelimitedList as ``"a,b,c"``; a Python list is accepted too). Pseudo
parameters go in the same mapping under their own names (``"AWS::Region"``);
``PSEUDO_DEFAULTS`` fills the ones not given.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from streamflix_dr.errors import TemplateError

log = logging.getLogger(__name__)

PSEUDO_DEFAULTS: Final[dict[str, str]] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "streamflix-dr",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/streamflix-dr/1",
    "AWS::NotificationARNs": "",
}
# Template Metadata key holding constraints CloudFormation has no parameter attribute for (list lengths,
# a pattern for every list item).
PARAMETER_RULES_KEY: Final = "StreamflixDR::ParameterRules"

_TEMPLATE = "<template>"
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class _NoValue:
    """Marker for ``AWS::NoValue``: the property or list item is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Parameter name -> its ``Default`` as CloudFormation sees it (a string; lists comma-joined)."""
    out: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if isinstance(spec, dict) and "Default" in spec:
            out[name] = _as_param_string(spec["Default"])
    return out


def effective_parameters(template: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Given values over defaults over pseudo-parameter defaults; list parameters become lists.

    Raises ``TemplateError`` naming every parameter that has neither a value nor a default.
    """
    declared = template.get("Parameters") or {}
    merged: dict[str, Any] = dict(PSEUDO_DEFAULTS)
    merged.update(parameter_defaults(template))
    merged.update({k: _as_param_string(v) for k, v in params.items()})
    missing = [n for n in declared if n not in merged]
    if missing:
        raise TemplateError(
            _TEMPLATE,
            None,
            f"parameters without a value or default: {', '.join(missing)}",
            "pass a value for each of them",
        )
    for name, spec in declared.items():
        if _is_list_type(spec):
            merged[name] = _split_list(merged[name])
    return merged


def evaluate_conditions(template: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, bool]:
    """Every condition of the template, evaluated for ``params`` (defaults applied)."""
    values = effective_parameters(template, params)
    conditions = template.get("Conditions") or {}
    cache: dict[str, bool] = {}
    for name in conditions:
        _condition(name, conditions, values, cache, ())
    return cache


def active_resources(template: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for the resources a stack with ``params`` would create."""
    conds = evaluate_conditions(template, params)
    return {
        lid: res
        for lid, res in (template.get("Resources") or {}).items()
        if _applies(res, conds, f"resource {lid}")
    }


def active_outputs(template: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Output name -> output, for the outputs a stack with ``params`` would have."""
    conds = evaluate_conditions(template, params)
    return {
        name: out
        for name, out in (template.get("Outputs") or {}).items()
        if _applies(out, conds, f"output {name}")
    }


def resolve_value(value: Any, template: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """``value`` with Fn::If, AWS::NoValue and Refs to parameters evaluated.

    Also evaluates Fn::Select, Fn::Join, Fn::FindInMap and Fn::Sub as far as parameters and
    pseudo parameters allow; what names a resource (``Ref``/``GetAtt``, ``${Res.Attr}``) stays
    as written, so the result shows what a stack would be given rather than what AWS returns.
    Removed properties and list items (``AWS::NoValue``) are dropped.
    """
    values = effective_parameters(template, params)
    conds = evaluate_conditions(template, params)
    out = _resolve(value, template, values, conds)
    return None if out is NO_VALUE else out


def active_properties(
    template: Mapping[str, Any], params: Mapping[str, Any], logical_id: str
) -> dict[str, Any]:
    """The resolved ``Properties`` of one active resource (see ``resolve_value``)."""
    resources = active_resources(template, params)
    if logical_id not in resources:
        raise TemplateError(
            _TEMPLATE,
            None,
            f"resource {logical_id} does not exist for these parameters",
            "check the resource's Condition, or the Role/Phase you passed",
        )
    props = resolve_value(resources[logical_id].get("Properties") or {}, template, params)
    return props if isinstance(props, dict) else {}


def check_parameter_values(template: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Every way ``params`` break the template's parameter constraints and Rules, one message each.

    Checks unknown names, missing required values, AllowedValues, AllowedPattern,
    MinLength/MaxLength, MinValue/MaxValue, list lengths and item patterns from the
    ``StreamflixDR::ParameterRules`` metadata, and the template's ``Rules`` assertions.
    Each message names the parameter, the value, the constraint and the fix. An empty
    list means the values would pass CloudFormation's parameter validation.
    """
    declared: dict[str, Any] = template.get("Parameters") or {}
    extra_rules: dict[str, Any] = (template.get("Metadata") or {}).get(PARAMETER_RULES_KEY) or {}
    defaults = parameter_defaults(template)
    problems: list[str] = []
    for name in params:
        if name not in declared and name not in PSEUDO_DEFAULTS and name != "AWS::Region":
            problems.append(
                f"{name}: not a parameter of this template; remove it or check its spelling "
                f"(known: {', '.join(sorted(declared))})"
            )
    for name, spec in declared.items():
        if name not in params and name not in defaults:
            problems.append(
                f"{name}: no value given and the parameter has no default; pass {name}{_describe(spec)}"
            )
            continue
        raw = _as_param_string(params[name]) if name in params else defaults[name]
        problems.extend(_check_one(name, raw, spec, extra_rules.get(name) or {}))
    if not problems:
        problems.extend(_check_rules(template, params))
    return problems


# ----------------------------------------------------------------------------- internals


def _as_param_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _is_list_type(spec: Any) -> bool:
    t = str(spec.get("Type", "String")) if isinstance(spec, dict) else "String"
    return t == "CommaDelimitedList" or t.startswith("List<")


def _split_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    return [] if text == "" else [item.strip() for item in text.split(",")]


def _describe(spec: Any) -> str:
    if not isinstance(spec, dict):
        return ""
    desc = spec.get("Description")
    return f" ({desc})" if desc else ""


def _check_one(name: str, raw: str, spec: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    ptype = str(spec.get("Type", "String"))
    hint = spec.get("ConstraintDescription")
    fix_tail = f"; expected {hint}" if hint else ""
    if _is_list_type(spec):
        items = _split_list(raw)
        length = extra.get("Length")
        if length is not None and len(items) != int(length):
            problems.append(
                f"{name}={raw!r}: has {len(items)} item(s), the template needs exactly {length} "
                f"(one per availability zone); pass {length} comma-separated values"
            )
        pattern = extra.get("ItemPattern")
        for i, item in enumerate(items):
            if pattern and not re.fullmatch(pattern, item):
                problems.append(
                    f"{name}={raw!r}: item {i} ({item!r}) does not match the pattern {pattern}; "
                    f"fix that item{fix_tail}"
                )
            if "AllowedValues" in spec and item not in [str(v) for v in spec["AllowedValues"]]:
                problems.append(
                    f"{name}={raw!r}: item {i} ({item!r}) is not one of the allowed values "
                    f"{[str(v) for v in spec['AllowedValues']]}; use one of them"
                )
        return problems
    allowed = spec.get("AllowedValues")
    if allowed is not None and raw not in [_as_param_string(v) for v in allowed]:
        choices = [_as_param_string(v) for v in allowed]
        problems.append(f"{name}={raw!r}: is not one of the allowed values {choices}; use one of them")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), raw):
        problems.append(
            f"{name}={raw!r}: does not match the allowed pattern {pattern}; change the value"
            f"{fix_tail or ' to match it'}"
        )
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        problems.append(
            f"{name}={raw!r}: is {len(raw)} characters, shorter than MinLength {spec['MinLength']}; "
            f"use a longer value"
        )
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        problems.append(
            f"{name}={raw!r}: is {len(raw)} characters, longer than MaxLength {spec['MaxLength']}; shorten it"
        )
    if ptype == "Number":
        try:
            number = float(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: is not a number; pass digits, e.g. {spec.get('Default', '1')}")
            return problems
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(
                f"{name}={raw!r}: is below MinValue {spec['MinValue']}; use {spec['MinValue']} or more"
            )
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(
                f"{name}={raw!r}: is above MaxValue {spec['MaxValue']}; use {spec['MaxValue']} or less"
            )
    return problems


def _check_rules(template: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    rules = template.get("Rules") or {}
    if not rules:
        return []
    values = effective_parameters(template, params)
    conds = evaluate_conditions(template, params)
    problems: list[str] = []
    for rule_name, rule in rules.items():
        when = rule.get("RuleCondition")
        if when is not None and not _truth(when, template, values, conds, f"rule {rule_name}"):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _truth(assertion.get("Assert"), template, values, conds, f"rule {rule_name}"):
                names = sorted(_refs(assertion.get("Assert")))
                shown = ", ".join(f"{n}={values.get(n)!r}" for n in names)
                problems.append(
                    f"rule {rule_name} ({shown}): {assertion.get('AssertDescription', 'assertion failed')}"
                )
    return problems


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {str(value["Ref"])}
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


def _truth(
    expr: Any, template: Mapping[str, Any], values: dict[str, Any], conds: dict[str, bool], where: str
) -> bool:
    """A rule expression (condition functions plus Fn::Contains / Fn::EachMemberIn)."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((fn, args),) = expr.items()
        if fn == "Fn::Contains":
            haystack = _resolve(args[0], template, values, conds)
            return _as_param_string(_resolve(args[1], template, values, conds)) in [str(x) for x in haystack]
        if fn == "Fn::EachMemberIn":
            members = _resolve(args[0], template, values, conds)
            allowed = [str(x) for x in _resolve(args[1], template, values, conds)]
            return all(str(m) in allowed for m in members)
        if fn in ("Fn::And", "Fn::Or", "Fn::Not"):
            results = [_truth(a, template, values, conds, where) for a in args]
            if fn == "Fn::And":
                return all(results)
            if fn == "Fn::Or":
                return any(results)
            return not results[0]
    return _eval_condition_expr(expr, template.get("Conditions") or {}, values, conds, stack=(), where=where)


def _applies(item: Any, conds: dict[str, bool], what: str) -> bool:
    name = item.get("Condition") if isinstance(item, dict) else None
    if name is None:
        return True
    if name not in conds:
        raise TemplateError(
            _TEMPLATE,
            None,
            f"{what} names an undefined condition {name!r}",
            "define the condition under Conditions or fix the name",
        )
    return conds[name]


def _condition(
    name: str,
    conditions: Mapping[str, Any],
    values: dict[str, Any],
    cache: dict[str, bool],
    stack: tuple[str, ...],
) -> bool:
    if name in cache:
        return cache[name]
    if name in stack:
        raise TemplateError(
            _TEMPLATE,
            None,
            f"condition {name} refers to itself ({' -> '.join((*stack, name))})",
            "break the cycle between these conditions",
        )
    if name not in conditions:
        raise TemplateError(
            _TEMPLATE,
            None,
            f"condition {name!r} is not defined",
            "define it under Conditions or fix the name",
        )
    result = _eval_condition_expr(
        conditions[name], conditions, values, cache, stack=(*stack, name), where=f"condition {name}"
    )
    cache[name] = result
    return result


def _eval_condition_expr(
    expr: Any,
    conditions: Mapping[str, Any],
    values: dict[str, Any],
    cache: dict[str, bool],
    *,
    stack: tuple[str, ...],
    where: str,
) -> bool:
    if not (isinstance(expr, dict) and len(expr) == 1):
        raise TemplateError(
            _TEMPLATE,
            None,
            f"{where}: {expr!r} is not a condition function",
            "use Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition",
        )
    ((fn, args),) = expr.items()
    if fn == "Condition":
        return _condition(str(args), conditions, values, cache, stack)
    if fn == "Fn::Equals":
        left, right = (_condition_operand(a, values, where) for a in args)
        return left == right
    if fn == "Fn::Not":
        return not _eval_condition_expr(args[0], conditions, values, cache, stack=stack, where=where)
    if fn == "Fn::And":
        return all(_eval_condition_expr(a, conditions, values, cache, stack=stack, where=where) for a in args)
    if fn == "Fn::Or":
        return any(_eval_condition_expr(a, conditions, values, cache, stack=stack, where=where) for a in args)
    raise TemplateError(
        _TEMPLATE,
        None,
        f"{where}: unsupported condition function {fn}",
        "use Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition",
    )


def _condition_operand(value: Any, values: dict[str, Any], where: str) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = str(value["Ref"])
        if name not in values:
            raise TemplateError(
                _TEMPLATE,
                None,
                f"{where}: Ref {name} is not a parameter or pseudo parameter "
                "(pass AWS::Region in the parameters)",
                "add the value or fix the name",
            )
        return _as_param_string(values[name])
    if isinstance(value, dict | list):
        raise TemplateError(
            _TEMPLATE,
            None,
            f"{where}: Fn::Equals operand {value!r} is not a literal or a Ref",
            "compare parameters and literals only",
        )
    return _as_param_string(value)


def _resolve(value: Any, template: Mapping[str, Any], values: dict[str, Any], conds: dict[str, bool]) -> Any:
    if isinstance(value, list):
        items = [_resolve(v, template, values, conds) for v in value]
        return [v for v in items if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, args),) = value.items()
        if key == "Ref":
            name = str(args)
            if name == "AWS::NoValue":
                return NO_VALUE
            return values.get(name, value)
        if key == "Fn::If":
            cond, when_true, when_false = args
            if cond not in conds:
                raise TemplateError(
                    _TEMPLATE,
                    None,
                    f"Fn::If names an undefined condition {cond!r}",
                    "define the condition or fix the name",
                )
            return _resolve(when_true if conds[cond] else when_false, template, values, conds)
        if key == "Fn::Sub":
            return _sub(args, template, values, conds)
        if key == "Fn::Select":
            index = _resolve(args[0], template, values, conds)
            items = _resolve(args[1], template, values, conds)
            if isinstance(items, list) and str(index).isdigit() and int(index) < len(items):
                return items[int(index)]
            return {key: [index, items]}
        if key == "Fn::Join":
            sep = args[0]
            items = _resolve(args[1], template, values, conds)
            if isinstance(items, list) and all(isinstance(i, str | int) for i in items):
                return sep.join(str(i) for i in items)
            return {key: [sep, items]}
        if key == "Fn::FindInMap":
            keys = [_resolve(a, template, values, conds) for a in args]
            try:
                return template["Mappings"][keys[0]][keys[1]][keys[2]]
            except (KeyError, TypeError):
                return {key: keys}
    out = {k: _resolve(v, template, values, conds) for k, v in value.items()}
    return {k: v for k, v in out.items() if v is not NO_VALUE}


def _sub(args: Any, template: Mapping[str, Any], values: dict[str, Any], conds: dict[str, bool]) -> str:
    if isinstance(args, list):
        text, variables = str(args[0]), {k: _resolve(v, template, values, conds) for k, v in args[1].items()}
    else:
        text, variables = str(args), {}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in variables and isinstance(variables[name], str | int):
            return str(variables[name])
        if name in values and not isinstance(values[name], list):
            return str(values[name])
        return m.group(0)

    return _SUB_VAR.sub(repl, text)
