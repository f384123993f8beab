"""DR rule E9601: no wildcard actions in IAM identity policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.rules import _common as c

# Where each IAM type keeps its policy documents (paths below Properties; "*" = every list item).
_POLICY_PATHS: dict[str, list[tuple[str, ...]]] = {
    "AWS::IAM::Role": [("Policies", "*", "PolicyDocument")],
    "AWS::IAM::User": [("Policies", "*", "PolicyDocument")],
    "AWS::IAM::Group": [("Policies", "*", "PolicyDocument")],
    "AWS::IAM::Policy": [("PolicyDocument",)],
    "AWS::IAM::ManagedPolicy": [("PolicyDocument",)],
    "AWS::IAM::RolePolicy": [("PolicyDocument",)],
}


def _documents(
    p: dict[str, Any], path: tuple[str, ...], prefix: list[Any]
) -> Iterator[tuple[list[Any], Any]]:
    if not path:
        yield prefix, p
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(p, list):
            for i, item in enumerate(p):
                yield from _documents(item, rest, [*prefix, i])
    elif isinstance(p, dict) and head in p:
        yield from _documents(p[head], rest, [*prefix, head])


def wildcard_actions(document: Any) -> Iterator[tuple[list[Any], str]]:
    """(path inside the document, action) for each Allow action that is '*' or 'service:*', or NotAction."""
    if not isinstance(document, dict):
        return
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for i, st in enumerate(statements if isinstance(statements, list) else []):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        if "NotAction" in st:
            yield ["Statement", i, "NotAction"], "NotAction (allows every other action)"
        actions = st.get("Action", [])
        for j, action in enumerate(actions if isinstance(actions, list) else [actions]):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                path = (
                    ["Statement", i, "Action", j] if isinstance(actions, list) else ["Statement", i, "Action"]
                )
                yield path, action


class DrNoWildcardActions(CloudFormationLintRule):
    """IAM identity policies name their actions."""

    id = "E9601"
    shortdesc = "IAM policies do not allow wildcard actions"
    description = (
        "Allow statements in IAM roles, users, groups and policies must not use Action '*', 'service:*' "
        "or NotAction. Prefix patterns documented by services (e.g. kms:GenerateDataKey*) are allowed."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    tags = ["resources", "iam", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            paths = _POLICY_PATHS.get(res["Type"])
            if not paths:
                continue

            def check(resolved: dict[str, Any], paths: list[tuple[str, ...]] = paths) -> Any:
                for path in paths:
                    for doc_path, doc in _documents(c.props(resolved), path, []):
                        for st_path, action in wildcard_actions(doc):
                            yield (tuple(doc_path), action), ([*doc_path, *st_path], action)

            for (path, action), when in c.problems_by_scenario(cfn, name, res, check):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", *path],
                        f"{res['Type']} {name}: allows {action}{when}. Fix: list the actions the role needs",
                    )
                )
        return matches
