"""AWS::CloudFormation::WaitConditionHandle, which moto lists as a "null model" and skips silently.

CloudFormation reference: the handle has no properties; ``Ref`` returns a presigned URL that a
WaitCondition's signals are PUT to, and the handle itself holds no state.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-waitconditionhandle.html
This template uses a handle only to carry a conditional dependency (aws-notes §4), so the emulator must
create it, list it among the stack's resources and delete it, like any other resource.

moto also null-models ``AWS::CloudFormation::WaitCondition``; install() takes both off that list, so a
WaitCondition (which would need signals the emulator never sends) fails the stack loudly instead of
passing silently.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator.cfn._common import CfnResource


class WaitConditionHandle(CfnResource, CloudFormationModel):
    """AWS::CloudFormation::WaitConditionHandle: a presigned signal URL and nothing else."""

    CFN_TYPE = "AWS::CloudFormation::WaitConditionHandle"

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def physical_resource_id(self) -> str:
        return self.url

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> WaitConditionHandle:
        stack_id = kwargs.get("StackId") or f"arn:aws:cloudformation:{region_name}:{account_id}:stack/unknown"
        # The shape of the URL AWS hands out: the regional wait-condition bucket, keyed by stack and handle.
        key = quote(f"{stack_id}/{kwargs.get('LogicalId', resource_name)}", safe="")
        url = (
            f"https://cloudformation-waitcondition-{region_name}.s3.amazonaws.com/{key}"
            f"?X-Amz-Signature={uuid.uuid4().hex}"
        )
        model = cls(url)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # No properties, so an update never changes it (its Metadata may change; AWS keeps the URL).
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing to remove: the handle holds no state."""


def install() -> None:
    """Take the wait-condition types off moto's null-model list (see the module docstring)."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    for name in ("AWS::CloudFormation::WaitConditionHandle", "AWS::CloudFormation::WaitCondition"):
        if name in parsing.NULL_MODELS:
            parsing.NULL_MODELS.remove(name)
