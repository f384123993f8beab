"""Resource properties outside the limits AWS documents fail the resource, as CloudFormation fails them.

moto 5.2.5 creates resources whatever their names' length or characters (a 40-character load balancer
name, an 80-character IAM role name, an upper-case bucket name), so a template that AWS would refuse passes
here. CloudFormation validates every resource's properties against the type's registry schema before the
handler runs and fails the resource with "Properties validation failed for resource <LogicalId> with
message: #/<Property>: failed validation constraint for keyword [pattern]" (AWS's text, quoted in
aws-cloudformation/cloudformation-resource-schema#114 and #85; the message shapes per keyword are those of
cloudformation-resource-schema PR #40: values are scrubbed, lengths say "expected maxLength: N, actual: M";
an unknown property: "#: extraneous key [<key>] is not permitted").

This module does the same with the provider schemas cfn-lint bundles for the stack's region
(``cfnlint.schema.PROVIDER_SCHEMA_MANAGER``, the schemas the CloudFormation registry publishes, with
cfn-lint's patches), keeping only the keywords whose meaning does not depend on CloudFormation's type
coercion: maxLength, minLength, pattern, enum, minimum, maximum, maxItems, minItems and
additionalProperties. ``type`` and ``required`` are not checked (CloudFormation coerces "7" to 7, and
moto's resolution of ``AWS::NoValue`` differs), nor anything under oneOf/anyOf.

Where the schema carries no constraint for a name the service API constrains, ``API_NAME_RULES`` adds it,
each with its API reference; the service's refusal surfaces as the handler's error (the resource fails).

Cost: one cfn-lint import per process (about a second) and one schema per (region, type), cached.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False

CHECKED_KEYWORDS = frozenset(
    {
        "maxLength",
        "minLength",
        "pattern",
        "enum",
        "minimum",
        "maximum",
        "maxItems",
        "minItems",
        "additionalProperties",
    }
)


@dataclass(frozen=True)
class NameRule:
    """A name constraint of a service API that the registry schema does not carry."""

    pattern: str
    rule: str
    source: str

    def check(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


API_NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): NameRule(
        r"(?!internal-)(?!-)[A-Za-z0-9-]{1,32}(?<!-)",
        "at most 32 characters, only alphanumeric characters or hyphens, must not begin or end with a "
        "hyphen, and must not begin with 'internal-'",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    ),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"): NameRule(
        r"(?!-)[A-Za-z0-9-]{1,32}(?<!-)",
        "at most 32 characters, only alphanumeric characters or hyphens, must not begin or end with a hyphen",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    ),
    ("AWS::ECS::Cluster", "ClusterName"): NameRule(
        r"[A-Za-z0-9_-]{1,255}",
        "up to 255 letters (upper and lower case), numbers, underscores and hyphens",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html",
    ),
    ("AWS::ECS::Service", "ServiceName"): NameRule(
        r"[A-Za-z0-9_-]{1,255}",
        "up to 255 letters (upper and lower case), numbers, underscores and hyphens",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html",
    ),
    ("AWS::ECS::TaskDefinition", "Family"): NameRule(
        r"[A-Za-z0-9_-]{1,255}",
        "up to 255 letters (upper and lower case), numbers, underscores and hyphens",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
    ),
    ("AWS::RDS::DBSubnetGroup", "DBSubnetGroupName"): NameRule(
        r"(?!default$)[A-Za-z0-9._ -]{1,255}",
        "at most 255 letters, numbers, periods, underscores, spaces or hyphens, and not 'default'",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
    ),
    ("AWS::RDS::DBParameterGroup", "DBParameterGroupName"): NameRule(
        r"[A-Za-z](?:-?[A-Za-z0-9]){0,254}",
        "1 to 255 letters, numbers or hyphens, first a letter, no trailing hyphen or two consecutive hyphens",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
    ),
    ("AWS::ElastiCache::SubnetGroup", "CacheSubnetGroupName"): NameRule(
        r"[A-Za-z0-9-]{1,255}",
        "at most 255 alphanumeric characters or hyphens",
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheSubnetGroup.html",
    ),
}


class PropertyValidationError(Exception):
    """CloudFormation's pre-handler schema validation failed."""

    def __init__(self, logical_id: str, messages: list[str]) -> None:
        self.message = f"Properties validation failed for resource {logical_id} with message: " + "; ".join(
            messages
        )
        super().__init__(self.message)


@functools.cache
def _validator(region: str, resource_type: str) -> Any:
    """A jsonschema validator for the type's provider schema in ``region``, or None (no schema)."""
    try:
        import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415

        schema = dict(PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema)
    except Exception as e:
        log.debug("no provider schema for %s in %s: %s", resource_type, region, e)
        return None
    # Validate the Properties object: the schema's root describes it; drop the registry's own keys.
    root = {k: v for k, v in schema.items() if k in {"properties", "definitions", "additionalProperties"}}
    root["type"] = "object"
    return _validator_class(jsonschema)(root)


def _validator_class(jsonschema: Any) -> Any:
    """Draft 7 with ``pattern`` evaluated by the ``regex`` module.

    The registry schemas use ECMA-262 patterns such as ``^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$`` (Unicode
    property classes) that Python's ``re`` cannot compile; ``regex`` can, so no pattern goes unchecked.
    """
    import regex  # type: ignore[import-untyped]  # noqa: PLC0415

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not regex.search(patrn, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    return jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})


def _comparable(value: Any) -> Any:
    """Resolved properties with model objects as their physical id; unknowable values dropped."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            converted = _comparable(v)
            if converted is not _UNKNOWN:
                out[str(k)] = converted
        return out
    if isinstance(value, list | tuple):
        return [c for c in (_comparable(v) for v in value) if c is not _UNKNOWN]
    if isinstance(value, str) and "{{resolve:" in value:
        # A dynamic reference: CloudFormation validates the value it resolves to, which the emulator
        # does not know here (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html).
        return _UNKNOWN
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    physical = getattr(value, "physical_resource_id", None)
    return physical if isinstance(physical, str) else _UNKNOWN


_UNKNOWN = object()


def _pointer(path: Any) -> str:
    return "#" + "".join(f"/{p}" for p in path)


_SCALAR_TYPES = {"integer", "number", "boolean"}


def _coerced(value: str, wanted: Any) -> Any:
    """A string as the number/boolean CloudFormation turns it into for a property of that type, or None."""
    types = set(wanted) if isinstance(wanted, list) else {wanted}
    if "boolean" in types and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    try:
        if "integer" in types and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if "number" in types:
            return float(value)
    except ValueError:
        return None
    return None


def _messages(validator: Any, error: Any) -> list[str]:
    """The messages for one jsonschema error; a string CloudFormation coerces is checked as coerced."""
    if error.validator == "type" and isinstance(error.instance, str):
        coerced = _coerced(error.instance, error.validator_value)
        if coerced is None:
            return []
        sub = validator.evolve(schema=error.schema)
        out = []
        for inner in sub.iter_errors(coerced):
            inner.path.extendleft(reversed(list(error.absolute_path)))
            msg = _message(inner)
            if msg:
                out.append(msg)
        return out
    msg = _message(error)
    return [msg] if msg else []


def _message(error: Any) -> str | None:
    keyword = error.validator
    if keyword not in CHECKED_KEYWORDS:
        return None
    schema_type = (error.schema or {}).get("type") if isinstance(error.schema, dict) else None
    if isinstance(error.instance, str) and schema_type in _SCALAR_TYPES:
        return None  # checked on the coerced value (see _messages)
    # Errors under oneOf/anyOf/allOf branches are not reported on their own.
    if any(str(p) in {"oneOf", "anyOf", "allOf", "not"} for p in error.schema_path):
        return None
    where = _pointer(error.absolute_path)
    if keyword in {"maxLength", "minLength"} and isinstance(error.instance, str):
        return f"{where}: expected {keyword}: {error.validator_value}, actual: {len(error.instance)}"
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return f"{where}: extraneous key [{', '.join(extra)}] is not permitted"
    return f"{where}: failed validation constraint for keyword [{keyword}]"


def violations(region: str, resource_type: str, properties: dict[str, Any]) -> list[str]:
    """What CloudFormation's schema validation (and the API name rules) refuse in ``properties``."""
    props = _comparable(properties)
    messages: list[str] = []
    validator = _validator(region, resource_type)
    if validator is not None:
        try:
            for error in validator.iter_errors(props):
                for msg in _messages(validator, error):
                    if msg not in messages:
                        messages.append(msg)
        except Exception as e:  # a pattern even ``regex`` cannot compile: fail loudly, do not guess
            messages.append(f"the schema of {resource_type} could not be evaluated here ({e})")
    for (rtype, prop), rule in API_NAME_RULES.items():
        value = props.get(prop) if rtype == resource_type else None
        if isinstance(value, str) and not rule.check(value):
            messages.append(f"#/{prop}: {value!r} breaks the API's rule: {rule.rule} ({rule.source})")
    return messages


def check(logical_id: str, resource_json: dict[str, Any], resources_map: Any) -> None:
    """Raise PropertyValidationError for a resource whose resolved properties break a limit."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    resource_type = resource_json.get("Type", "")
    if not resource_type.startswith("AWS::"):
        return
    try:
        parsed = parsing.parse_resource(resource_json, resources_map)
    except Exception as e:  # the create itself reports what cannot be resolved
        log.debug("could not resolve %s for validation: %s", logical_id, e)
        return
    if not parsed:
        return
    found = violations(resources_map._region_name, resource_type, parsed[1].get("Properties") or {})
    if found:
        raise PropertyValidationError(logical_id, found)


def install() -> None:
    """Validate before moto creates or updates a resource. Idempotent; installed before stack_failures."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation import parsing  # noqa: PLC0415

    original_create = parsing.parse_and_create_resource
    original_update = parsing.parse_and_update_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kw: Any
    ) -> Any:
        condition = resource_json.get("Condition")
        if not condition or resources_map.lazy_condition_map[condition]:
            check(logical_id, resource_json, resources_map)
        return original_create(logical_id, resource_json, resources_map, *args, **kw)

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kw: Any
    ) -> Any:
        check(logical_id, resource_json, resources_map)
        return original_update(logical_id, resource_json, resources_map, *args, **kw)

    patch_attr(parsing, "parse_and_create_resource", parse_and_create_resource)
    patch_attr(parsing, "parse_and_update_resource", parse_and_update_resource)
    _installed = True
