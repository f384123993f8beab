"""Lambda-backed custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``), run in-process.

CloudFormation sends the function a Create/Update/Delete request and waits for the response the
function PUTs to ResponseURL; SUCCESS makes ``Data`` available to Fn::GetAtt and
``PhysicalResourceId`` to Ref, FAILED fails the resource with "Received response status [FAILED]
from custom resource. Message returned: <Reason>". When an update returns a new physical id,
CloudFormation then sends Delete for the old one.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-customresource.html
moto runs the function in Docker and waits for the PUT; this model runs the handler through
``streamflix_dr_emulator.lambda_runtime`` and reads the response from its ``cfnresponse`` shim.
Only Lambda ServiceTokens are supported (an SNS topic token fails the resource, loudly).
``ResourceProperties``/``OldResourceProperties`` reach the function as CloudFormation sends them: every
scalar a string (numbers as their text, booleans as "true"/"false"), lists and objects kept as such
(aws-cloudformation/cloudformation-coverage-roadmap#1037, aws/aws-cdk#4000 "custom resource properties are
always stringified by CloudFormation", aws/aws-cdk#15249).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator import lambda_runtime
from streamflix_dr_emulator.cfn._common import CfnResource, patch_attr

log = logging.getLogger(__name__)

_installed = False


def as_sent(value: Any) -> Any:
    """A property value as CloudFormation sends it to a custom resource (scalars stringified)."""
    if isinstance(value, dict):
        return {str(k): as_sent(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_sent(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class CustomResourceFailedError(Exception):
    """The custom resource's function answered FAILED (or never answered)."""


class LambdaCustomResource(CfnResource, CloudFormationModel):
    """A custom resource whose ServiceToken is a Lambda function, run in-process."""

    CFN_TYPE = "AWS::CloudFormation::CustomResource"

    def __init__(
        self, physical_id: str, data: dict[str, Any], properties: dict[str, Any], resource_type: str
    ) -> None:
        self.physical_id = physical_id
        self.data = data
        self.properties = properties
        self.resource_type = resource_type

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        # Data keys are known only once the function answered.
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415

        if attribute_name not in self.data:
            raise UnformattedGetAttTemplateException()
        return self.data[attribute_name]

    @staticmethod
    def _call(
        *,
        account_id: str,
        region_name: str,
        request_type: str,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> lambda_runtime.CfnResponse:
        token = properties.get("ServiceToken")
        if not token:
            raise CustomResourceFailedError(f"{logical_id} ({resource_type}): ServiceToken is required")
        if ":sns:" in str(token):
            raise CustomResourceFailedError(
                f"{logical_id} ({resource_type}): ServiceToken {token} is an SNS topic; the emulator runs "
                "only Lambda-backed custom resources"
            )
        fn = get_lambda_backend(account_id, region_name).get_function(token)
        endpoint = lambda_runtime.get_endpoint() or "http://127.0.0.1"
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": f"{endpoint}/cloudformation_{region_name}/cfnresponse?stack={stack_id}",
            "StackId": stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": as_sent(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = as_sent(old_properties)
        response = lambda_runtime.invoke_custom_resource(fn, event)
        log.info("custom resource %s %s -> %s", logical_id, request_type, response.status)
        if response.status != lambda_runtime.SUCCESS:
            raise CustomResourceFailedError(
                f"Received response status [{response.status}] from custom resource. "
                f"Message returned: {response.reason}"
            )
        return response

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaCustomResource:
        props = dict(cloudformation_json.get("Properties", {}))
        resource_type = kwargs.get("ResourceType") or cloudformation_json.get("Type", cls.CFN_TYPE)
        stack_id, logical_id = kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        response = cls._call(
            account_id=account_id,
            region_name=region_name,
            request_type="Create",
            stack_id=stack_id,
            logical_id=logical_id,
            resource_type=resource_type,
            properties=props,
        )
        model = cls(response.physical_resource_id or resource_name, response.data, props, resource_type)
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
        props = dict(cloudformation_json.get("Properties", {}))
        response = cls._call(
            account_id=account_id,
            region_name=region_name,
            request_type="Update",
            stack_id=original_resource.stack_id,
            logical_id=original_resource.logical_id,
            resource_type=original_resource.resource_type,
            properties=props,
            physical_id=original_resource.physical_id,
            old_properties=original_resource.properties,
        )
        new_id = response.physical_resource_id or original_resource.physical_id
        if new_id != original_resource.physical_id:
            # A new physical id means replacement: CloudFormation deletes the old one afterwards.
            original_resource.delete(account_id, region_name)
        original_resource.physical_id = new_id
        original_resource.data = response.data
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        self._call(
            account_id=account_id,
            region_name=region_name,
            request_type="Delete",
            stack_id=self.stack_id,
            logical_id=self.logical_id,
            resource_type=self.resource_type,
            properties=self.properties,
            physical_id=self.physical_id,
        )


def install() -> None:
    """Route ``Custom::*`` types to the in-process model instead of moto's Docker one. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation import parsing  # noqa: PLC0415

    previous = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type.startswith("Custom::") or resource_type == LambdaCustomResource.CFN_TYPE:
            return LambdaCustomResource
        return previous(resource_type)

    patch_attr(parsing, "resource_class_from_type", resource_class_from_type)
    _installed = True
