"""Lambda functions with active tracing need X-Ray permissions in their execution role, as on AWS.

moto 5.2.5 drops ``TracingConfig`` from AWS::Lambda::Function (its CloudFormation create copies a fixed list
of properties) and ``UpdateFunctionConfiguration``'s TracingConfig, and never checks the role. Lambda
refuses CreateFunction/UpdateFunctionConfiguration with ``TracingConfig.Mode = Active`` when the execution
role cannot write traces: InvalidParameterValueException "The provided execution role does not have
permissions to call PutTraceSegments on XRAY" (the service's text, quoted in coinbase/fenrir#1,
serverless/serverless#6931, functionalone/serverless-iam-roles-per-function#39; the Lambda developer guide
"Visualize Lambda function invocations using AWS X-Ray" says the role needs xray:PutTraceSegments and
xray:PutTelemetryRecords, https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html, both in the
AWSXRayDaemonWriteAccess managed policy). The emulator requires both actions; for PutTelemetryRecords the
message names that action (AWS's text for it is not quoted anywhere we found: same shape assumed).
The role's policies are evaluated as moto's IAM holds them at the moment of the call (inline, attached
managed, AWS managed by ARN; ``fixes.iam.allows``), so a template whose X-Ray grant is a separate
AWS::IAM::Policy the function does not depend on fails here as it can on AWS (serverless#6931).
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False

XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def _mode(tracing: Any) -> str:
    return str((tracing or {}).get("Mode") or "PassThrough")


def check_tracing(account_id: str, partition: str, role_arn: str, tracing: Any) -> None:
    """Lambda's InvalidParameterValueException when Active tracing lacks the role's X-Ray permissions."""
    if _mode(tracing) != "Active":
        return
    from moto.awslambda.exceptions import InvalidParameterValueException  # noqa: PLC0415
    from moto.iam.models import iam_backends  # noqa: PLC0415

    from streamflix_dr_emulator.fixes.iam import allows  # noqa: PLC0415

    try:
        role = iam_backends[account_id][partition].get_role_by_arn(role_arn)
    except Exception:
        return  # moto's own check reports a role that does not exist
    for action in XRAY_ACTIONS:
        if not allows(role, action):
            call = action.split(":")[1]
            raise InvalidParameterValueException(
                f"The provided execution role does not have permissions to call {call} on XRAY"
            )


def install() -> None:
    """Patch moto's Lambda backend and function model. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.awslambda.models import LambdaBackend, LambdaFunction  # noqa: PLC0415
    from moto.utilities.utils import get_partition  # noqa: PLC0415

    original_create_function = LambdaBackend.create_function

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        check_tracing(
            self.account_id,
            get_partition(self.region_name),
            str(spec.get("Role") or ""),
            spec.get("TracingConfig"),
        )
        return original_create_function(self, spec)

    patch_attr(LambdaBackend, "create_function", create_function)

    original_cfn_create = LambdaFunction.create_from_cloudformation_json

    def cfn_create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        # moto's CloudFormation create passes neither TracingConfig nor the role check's input.
        check_tracing(
            account_id, get_partition(region_name), str(props.get("Role") or ""), props.get("TracingConfig")
        )
        fn: Any = original_cfn_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        if props.get("TracingConfig"):
            fn.tracing_config = {"Mode": _mode(props["TracingConfig"])}
        return fn

    patch_attr(LambdaFunction, "create_from_cloudformation_json", classmethod(cfn_create))

    original_update_configuration = LambdaFunction.update_configuration

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> Any:
        tracing = config_updates.get("TracingConfig", self.tracing_config)
        role = config_updates.get("Role", self.role)
        check_tracing(self.account_id, get_partition(self.region), str(role), tracing)
        result = original_update_configuration(self, config_updates)
        if "TracingConfig" in config_updates:
            self.tracing_config = {"Mode": _mode(config_updates["TracingConfig"])}
            result = self.get_configuration()
        return result

    patch_attr(LambdaFunction, "update_configuration", update_configuration)
    _installed = True
