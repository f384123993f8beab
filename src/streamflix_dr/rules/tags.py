"""DR rule E9201: the three cost-allocation tags on every taggable resource."""

from __future__ import annotations

import functools
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from streamflix_dr.rules import _common as c

_SCHEMA_REGION = "us-east-1"


@functools.lru_cache(maxsize=512)
def tag_property(resource_type: str) -> str | None:
    """The property that carries a type's tags, from cfn-lint's resource schema; None if not taggable."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(_SCHEMA_REGION, resource_type).schema
    except Exception:  # custom resources and unknown types have no schema
        return None
    properties = schema.get("properties", {}) or {}
    tagging = schema.get("tagging", {}) or {}
    tag_prop = tagging.get("tagProperty")
    if (
        tagging.get("taggable") is not False
        and isinstance(tag_prop, str)
        and tag_prop.startswith("/properties/")
    ):
        name = tag_prop.split("/")[2]
        if name in properties:
            return str(name)
    if tagging.get("taggable") is not False and "Tags" in properties:
        return "Tags"
    return None


def tag_keys(value: Any) -> set[str] | None:
    """Tag keys in either shape (list of {Key, Value} or a map); None when not statically known."""
    if isinstance(value, list):
        keys: set[str] = set()
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("Key"), str):
                keys.add(item["Key"])
        return keys
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)).startswith("Fn::") or "Ref" in value):
            return None
        return {str(k) for k in value}
    return set()


class DrTags(CloudFormationLintRule):
    """Taggable resources carry Environment, Application and CostCenter."""

    id = "E9201"
    shortdesc = "Taggable resources carry the Environment, Application and CostCenter tags"
    description = (
        "Every resource whose cfn-lint schema has a tag property (tagging.tagProperty or Tags, in the "
        "list-of-Key/Value or map shape) sets the tags Environment, Application and CostCenter."
    )
    source_url = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html"
    tags = ["resources", "tags", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            prop = tag_property(res["Type"])
            if prop is None:
                continue

            def check(resolved: dict[str, Any], prop: str = prop) -> Any:
                keys = tag_keys(c.props(resolved).get(prop))
                missing = tuple(t for t in c.REQUIRED_TAGS if keys is not None and t not in keys)
                if missing:
                    yield missing, missing

            for missing, when in c.problems_by_scenario(cfn, name, res, check):
                msg = f"{res['Type']} {name}: {prop} lacks {', '.join(missing)}{when}"
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", prop],
                        f"{msg}. Fix: add {', '.join(missing)} to {prop} (values from the parameters "
                        "Environment, Application, CostCenter)",
                    )
                )
        return matches
