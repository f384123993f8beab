"""DR rule E9701: no plaintext secrets in the template."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.rules import _common as c

# Property names that carry a secret value.
SECRET_PROPERTY = re.compile(
    r"(?i)^(master)?(user)?(password|passwd|authtoken|secretstring|secretaccesskey|apikey|clientsecret|privatekey)$"
)
# Environment variable / parameter names that look like a secret (but not a pointer to one).
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key|private_?key)")
POINTER_NAME = re.compile(r"(?i)(_?arn|_?name|_?id|_?ref|_?key_?id)$")
DYNAMIC_SECRET = re.compile(r"\{\{resolve:(secretsmanager|ssm-secure):")


def _is_dynamic(value: Any) -> bool:
    if isinstance(value, str):
        return bool(DYNAMIC_SECRET.search(value))
    if c.is_fn(value, "Fn::Sub"):
        arg = value["Fn::Sub"]
        text = arg[0] if isinstance(arg, list) else arg
        return isinstance(text, str) and bool(DYNAMIC_SECRET.search(text))
    if c.is_fn(value, "Fn::Join"):
        return any(_is_dynamic(v) for v in value["Fn::Join"][1] if isinstance(value["Fn::Join"], list))
    return False


def _plaintext(cfn: Any, value: Any) -> str | None:
    """Why ``value`` is a plaintext secret, or None if it is a dynamic reference or a NoEcho parameter."""
    if isinstance(value, bool | int | float) or value is None or value == "":
        return None
    if c.is_fn(value, "Fn::If") and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        # Either branch may be deployed; a literal in one of them is still in the template.
        branches = (_plaintext(cfn, v) for v in value["Fn::If"][1:])
        return next((why for why in branches if why), None)
    if c.is_fn(value, "Ref") and value["Ref"] == "AWS::NoValue":
        return None
    if _is_dynamic(value):
        return None
    if c.is_fn(value, "Ref"):
        param = (cfn.template.get("Parameters", {}) or {}).get(value["Ref"])
        if isinstance(param, dict) and not c.is_true(param.get("NoEcho")):
            return f"parameter {value['Ref']} without NoEcho"
        return None
    if isinstance(value, str):
        return "a literal value"
    if c.is_fn(value, "Fn::Sub") or c.is_fn(value, "Fn::Join"):
        return "a value built without a {{resolve:secretsmanager:...}} reference"
    return None


def _walk(value: Any, path: list[Any]) -> Iterator[tuple[list[Any], str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield [*path, k], str(k), v
            yield from _walk(v, [*path, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, [*path, i])


def _env_entries(rtype: str, p: dict[str, Any]) -> Iterator[tuple[list[Any], str, Any]]:
    """(path, variable name, value) for environment variables of containers and functions."""
    if rtype == "AWS::ECS::TaskDefinition":
        for i, cdef in enumerate(p.get("ContainerDefinitions", []) or []):
            for j, env in enumerate(
                (cdef or {}).get("Environment", []) or [] if isinstance(cdef, dict) else []
            ):
                if isinstance(env, dict) and isinstance(env.get("Name"), str):
                    yield ["ContainerDefinitions", i, "Environment", j], env["Name"], env.get("Value")
    elif rtype == "AWS::Lambda::Function":
        variables = (
            (p.get("Environment") or {}).get("Variables", {})
            if isinstance(p.get("Environment"), dict)
            else {}
        )
        for k, v in (variables or {}).items():
            yield ["Environment", "Variables", k], str(k), v


class DrNoPlaintextSecrets(CloudFormationLintRule):
    """Secrets come from Secrets Manager or NoEcho parameters, never from the template text."""

    id = "E9701"
    shortdesc = "No plaintext secrets"
    description = (
        "Password, AuthToken, SecretString and similar properties must be a {{resolve:secretsmanager:...}} "
        "(or ssm-secure) dynamic reference or a NoEcho parameter; secret-looking container and Lambda "
        "environment variables must not carry literal values (use ECS Secrets); secret-looking parameters "
        "must be NoEcho and have no Default."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html"
    tags = ["resources", "parameters", "secrets", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        seen: set[str] = set()

        def report(path: list[Any], msg: str, fix: str) -> None:
            if msg not in seen:
                seen.add(msg)
                matches.append(RuleMatch(path, f"{msg}. Fix: {fix}"))

        for pname, param in (cfn.template.get("Parameters", {}) or {}).items():
            if (
                not isinstance(param, dict)
                or not SECRET_NAME.search(str(pname))
                or POINTER_NAME.search(str(pname))
            ):
                continue
            if not c.is_true(param.get("NoEcho")):
                report(
                    ["Parameters", pname],
                    f"parameter {pname} looks secret but is not NoEcho",
                    "add NoEcho: true",
                )
            if param.get("Default") not in (None, ""):
                report(
                    ["Parameters", pname, "Default"],
                    f"parameter {pname} looks secret and has a Default",
                    "remove the Default; keep the secret in Secrets Manager",
                )
        for name, res in c.resources(cfn):
            p = c.props(res)
            for path, key, value in _walk(p, []):
                if not SECRET_PROPERTY.match(key):
                    continue
                if (
                    res["Type"] == "AWS::SecretsManager::Secret"
                    and key == "SecretString"
                    and value is not None
                ):
                    why = _plaintext(cfn, value)
                elif isinstance(value, dict | list) and not c.is_fn(value, "Ref") and not _is_fn_value(value):
                    continue
                else:
                    why = _plaintext(cfn, value)
                if why:
                    report(
                        ["Resources", name, "Properties", *path],
                        f"{res['Type']} {name}: {key} is {why}",
                        "use '{{resolve:secretsmanager:<secret>:SecretString:<key>}}' or "
                        "GenerateSecretString",
                    )
            for path, var, value in _env_entries(res["Type"], p):
                if SECRET_NAME.search(var) and not POINTER_NAME.search(var) and _plaintext(cfn, value):
                    report(
                        ["Resources", name, "Properties", *path],
                        f"{res['Type']} {name}: environment variable {var} carries a secret value",
                        "pass it through ECS Secrets (ValueFrom) or read it from Secrets Manager at run time",
                    )
        return matches


def _is_fn_value(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("Fn::")
