"""AWS::KMS::Key with ``KeyPolicy`` written as an object.

CloudFormation's KeyPolicy is "Type: Json" (an object, or a JSON string)
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html#cfn-kms-key-keypolicy);
the KMS API takes the policy as a JSON string
(https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-Policy).
moto stores the object as is, so DescribeKey/GetKeyPolicy later fail with HTTP 500. This fix
serialises it, and gives the key an in-place update (moto has none, so a changed key would be
dropped from the stack's resource map).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

log = logging.getLogger(__name__)

_installed = False


def policy_string(policy: Any) -> Any:
    """The policy as KMS stores it: a JSON string."""
    if isinstance(policy, dict | list):
        return json.dumps(policy)
    return policy


def install() -> None:
    """Patch moto's KMS Key CloudFormation model. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.kms.models import Key, kms_backends  # noqa: PLC0415

    original_create = Key.create_from_cloudformation_json

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        props = cloudformation_json.setdefault("Properties", {})
        if "KeyPolicy" in props:
            props["KeyPolicy"] = policy_string(props["KeyPolicy"])
        # CFN Tags are Key/Value; KMS (and moto's tagger for it) use TagKey/TagValue (ListResourceTags).
        props["Tags"] = [
            {"TagKey": t.get("TagKey", t.get("Key")), "TagValue": t.get("TagValue", t.get("Value"))}
            for t in props.get("Tags") or []
        ]
        return original_create(resource_name, cloudformation_json, account_id, region_name, **kw)

    def update_from_cloudformation_json(  # noqa: PLR0917 - moto's model signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # KeyPolicy, Description, EnableKeyRotation and Tags update without replacement (CFN reference).
        backend = kms_backends[account_id][region_name]
        props = cloudformation_json.get("Properties", {})
        key_id = original_resource.id
        if "KeyPolicy" in props:
            backend.put_key_policy(key_id, policy_string(props["KeyPolicy"]))
        if "Description" in props:
            backend.update_key_description(key_id, props["Description"])
        if to_bool(props.get("EnableKeyRotation")) is True:
            backend.enable_key_rotation(key_id)
        else:
            backend.disable_key_rotation(key_id)
        if props.get("Tags"):
            backend.tag_resource(original_resource.arn, {t["Key"]: t["Value"] for t in props["Tags"]})
        return original_resource

    patch_attr(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    patch_attr(Key, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))
    _installed = True
