"""S3 bucket policies with the TLS-only statement no longer deny every request.

The project's buckets carry the standard statement Deny ``s3:*`` when ``aws:SecureTransport`` is
``false`` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit).
moto evaluates bucket policies ignoring Conditions, so that statement denies all object
operations (HTTP 403). The emulator stands in for S3 endpoints the SDKs reach over TLS, so such a
statement never matches; this fix evaluates the policy without it. Other statements, conditions
included, are evaluated as moto does.
"""

from __future__ import annotations

import json
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_installed = False


def insecure_transport_only(statement: dict[str, Any]) -> bool:
    """True for a statement that applies only to requests made without TLS."""
    condition = statement.get("Condition") or {}
    bool_cond = condition.get("Bool") or {}
    return (
        len(condition) == 1
        and set(bool_cond) == {"aws:SecureTransport"}
        and str(bool_cond["aws:SecureTransport"]).lower() == "false"
    )


def install() -> None:
    """Patch moto's FakeBucket.get_permission. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.s3.models import FakeBucket  # noqa: PLC0415

    def get_permission(self: Any, action: str, resource: str) -> Any:
        from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: PLC0415

        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if not insecure_transport_only(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)

    patch_attr(FakeBucket, "get_permission", get_permission)
    _installed = True
