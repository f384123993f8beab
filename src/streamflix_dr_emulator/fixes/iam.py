"""AWS::IAM::Role properties moto 5.2.5 drops, and what a role's policies allow.

- ``ManagedPolicyArns`` is ignored on create and update, and an update changes only the description: a
  changed ``Policies`` list, trust policy or managed policy list stays as it was. CloudFormation applies
  each in place (AttachRolePolicy/DetachRolePolicy, PutRolePolicy/DeleteRolePolicy,
  UpdateAssumeRolePolicy, UpdateRole); ``RoleName`` and ``Path`` require replacement
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html,
  createOnlyProperties in cfn-lint's schema aws-iam-role.json). A replacement is not modelled: it fails
  loudly.
- AWS managed policies (``arn:aws:iam::aws:policy/...``) are not loaded into moto unless
  MOTO_IAM_LOAD_MANAGED_POLICIES is set; their documents come from moto's bundled copy
  (``moto.iam.aws_managed_policies``) so ``allows`` can evaluate them. A customer managed ARN that does not
  exist fails as AttachRolePolicy does: NoSuchEntity "Policy <arn> does not exist or is not attachable."
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachRolePolicy.html).

``allows(role, action)`` is a simplified IAM evaluation for actions without resource types (the request's
resource is ``*``): an explicit Deny wins; an Allow counts when its Action/NotAction covers the action and
its Resource covers ``*``; an Allow with a Condition does not count (the emulator cannot evaluate it, so it
is strict). Permissions boundaries and SCPs are not modelled.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False
AWS_MANAGED_PREFIX = ":iam::aws:policy/"


class RoleReplacementError(Exception):
    """A RoleName/Path change needs a replacement, which the emulator does not model."""


@functools.cache
def _aws_managed_documents() -> dict[str, dict[str, Any]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    data = json.loads(aws_managed_policies_data)
    return {f"{d.get('Path', '/')}{name}": d["Document"] for name, d in data.items()}


def aws_managed_document(arn: str) -> dict[str, Any] | None:
    """The document of an AWS managed policy by ARN (from moto's bundled copy), or None."""
    if AWS_MANAGED_PREFIX not in arn:
        return None
    return _aws_managed_documents().get("/" + arn.split(AWS_MANAGED_PREFIX, 1)[1])


def _as_doc(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        parsed: dict[str, Any] = json.loads(value or "{}")
        return parsed
    return dict(value or {})


def role_documents(role: Any) -> list[dict[str, Any]]:
    """Every policy document that applies to ``role``: inline, attached managed, AWS managed by ARN."""
    docs = [_as_doc(p) for p in (role.policies or {}).values()]
    for policy in (getattr(role, "managed_policies", None) or {}).values():
        default = next((v for v in policy.versions if v.is_default), None)
        if default is not None:
            docs.append(_as_doc(default.document))
    for arn in getattr(role, "streamflix_aws_managed", ()):
        doc = aws_managed_document(arn)
        if doc is not None:
            docs.append(doc)
    return docs


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _covers(patterns: list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _matches(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        action_ok = _covers(_listed(statement["Action"]), action)
    else:
        action_ok = not _covers(_listed(statement.get("NotAction")), action)
    if "Resource" in statement:
        resource_ok = _covers(_listed(statement["Resource"]), "*")
    else:
        resource_ok = not _covers(_listed(statement.get("NotResource")), "*")
    return action_ok and resource_ok


def allows(role: Any, action: str) -> bool:
    """Whether the role's policies allow ``action`` on ``*`` (see the module docstring)."""
    allowed = False
    for doc in role_documents(role):
        statements = doc.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            # An Fn::If that chose AWS::NoValue leaves None in moto's list (CloudFormation drops it).
            if not isinstance(statement, dict) or not _matches(statement, action):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow" and not statement.get("Condition"):
                allowed = True
    return allowed


def _attach(backend: Any, role: Any, arns: list[str]) -> None:
    from moto.iam.exceptions import NotFoundException  # noqa: PLC0415

    aws_managed = list(getattr(role, "streamflix_aws_managed", []))
    for arn in arns:
        if arn in (role.managed_policies or {}) or arn in aws_managed:
            continue
        known = {p.arn for p in backend.managed_policies.values()}
        if arn in known:
            backend.attach_role_policy(arn, role.name)
        elif aws_managed_document(arn) is not None:
            aws_managed.append(arn)
        else:
            raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")
    role.streamflix_aws_managed = aws_managed


def _detach(backend: Any, role: Any, keep: list[str]) -> None:
    for arn in list(role.managed_policies or {}):
        if arn not in keep:
            backend.detach_role_policy(arn, role.name)
    role.streamflix_aws_managed = [a for a in getattr(role, "streamflix_aws_managed", []) if a in keep]


def install() -> None:
    """Patch moto's AWS::IAM::Role model. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.iam.models import Role, iam_backends  # noqa: PLC0415
    from moto.utilities.utils import get_partition  # noqa: PLC0415

    original_create = Role.create_from_cloudformation_json

    def create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        role: Any = original_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        props = cloudformation_json.get("Properties") or {}
        backend = iam_backends[account_id][get_partition(region_name)]
        try:
            _attach(backend, role, [str(a) for a in props.get("ManagedPolicyArns") or []])
        except Exception:
            # The failed role is not left behind (CloudFormation's rollback deletes it).
            for name in list(role.policies):
                role.delete_policy(name)
            _detach(backend, role, [])
            backend.delete_role(role.name)
            raise
        return role

    def update(  # noqa: PLR0917 - moto's signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        role = original_resource
        backend = iam_backends[account_id][get_partition(region_name)]
        for prop, current in (("RoleName", role.name), ("Path", role.path)):
            wanted = props.get(prop)
            if prop == "Path" and wanted is None:
                wanted = "/"
            if wanted is not None and wanted != current:
                raise RoleReplacementError(
                    f"AWS::IAM::Role {role.name}: changing {prop} ({current!r} -> {wanted!r}) requires "
                    "replacement, which the StreamFlix DR emulator does not model; delete and recreate "
                    "the stack"
                )
        trust = props.get("AssumeRolePolicyDocument")
        if trust is not None:
            role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
        role.description = props.get("Description", "")
        role.max_session_duration = int(props.get("MaxSessionDuration", 3600))
        wanted_inline = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
        for name in list(role.policies):
            if name not in wanted_inline:
                role.delete_policy(name)
        for name, doc in wanted_inline.items():
            role.put_policy(name, doc)
        arns = [str(a) for a in props.get("ManagedPolicyArns") or []]
        _detach(backend, role, arns)
        _attach(backend, role, arns)
        return role

    patch_attr(Role, "create_from_cloudformation_json", classmethod(create))
    patch_attr(Role, "update_from_cloudformation_json", classmethod(update))
    _installed = True
