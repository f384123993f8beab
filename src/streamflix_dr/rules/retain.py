"""DR rule E9401: nothing is retained, so every environment can be torn down completely."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.rules import _common as c

RETAINING = ("Retain", "RetainExceptOnCreate")


def _values(value: Any) -> list[str]:
    """Every literal a policy can take, looking through Fn::If branches."""
    if isinstance(value, str):
        return [value]
    if c.is_fn(value, "Fn::If") and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        return _values(value["Fn::If"][1]) + _values(value["Fn::If"][2])
    return []


class DrNoRetain(CloudFormationLintRule):
    """No resource uses a Retain deletion or update-replace policy."""

    id = "E9401"
    shortdesc = "No resource is retained on delete or replacement"
    description = (
        "DeletionPolicy and UpdateReplacePolicy must not be Retain or RetainExceptOnCreate: a DR "
        "environment must delete cleanly, and retained data stores leak cost and names."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"
    )
    tags = ["resources", "deletionpolicy", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            for attr in ("DeletionPolicy", "UpdateReplacePolicy"):
                bad = [v for v in _values(res.get(attr)) if v in RETAINING]
                if bad:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, attr],
                            f"{res['Type']} {name}: {attr} is {bad[0]}. Fix: use Delete (data that must "
                            "survive lives in the other region and in AWS Backup)",
                        )
                    )
        return matches
