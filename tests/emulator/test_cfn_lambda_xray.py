"""Lambda refuses active tracing when the execution role cannot write to X-Ray (API and CloudFormation)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
XRAY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}
    ],
}
MESSAGE = "The provided execution role does not have permissions to call PutTraceSegments on XRAY"
CODE = "def handler(event, context):\n    return 1\n"


def _role(factory: Any, *, inline: dict[str, Any] | None = None, managed: str | None = None) -> str:
    iam = factory.client("iam", REGION)
    name = f"xr-{uuid.uuid4().hex[:8]}"
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=json.dumps(inline))
    if managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    return arn


def _create(factory: Any, role: str, mode: str = "Active") -> dict[str, Any]:
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", CODE)
    result: dict[str, Any] = factory.client("lambda", REGION).create_function(
        FunctionName=f"xr-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buf.getvalue()},
        TracingConfig={"Mode": mode},
    )
    return result


def test_create_function_with_active_tracing_and_no_xray_permission_is_refused(factory: Any) -> None:
    role = _role(
        factory,
        inline={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
        },
    )
    with pytest.raises(ClientError) as err:
        _create(factory, role)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert err.value.response["Error"]["Message"] == MESSAGE
    # PassThrough needs nothing.
    assert _create(factory, role, mode="PassThrough")["TracingConfig"] == {"Mode": "PassThrough"}


def test_a_statement_left_out_by_aws_novalue_is_skipped(stacks: Stacks) -> None:
    statements = [*LOGS, *XRAY["Statement"], {"Fn::If": ["Never", LOGS[0], {"Ref": "AWS::NoValue"}]}]
    template = _stack_template(statements)
    template["Conditions"] = {"Never": {"Fn::Equals": ["a", "b"]}}
    stacks.assert_status(stacks.create(template))


def test_only_one_of_the_two_actions_is_not_enough(factory: Any) -> None:
    partial = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}],
    }
    with pytest.raises(ClientError) as err:
        _create(factory, _role(factory, inline=partial))
    assert "PutTelemetryRecords on XRAY" in err.value.response["Error"]["Message"]


def test_a_deny_or_a_resource_narrower_than_star_does_not_grant(factory: Any) -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [*XRAY["Statement"], {"Effect": "Deny", "Action": "xray:Put*", "Resource": "*"}],
    }
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{**XRAY["Statement"][0], "Resource": "arn:aws:xray:us-east-1:123456789012:group/x"}],
    }
    for doc in (deny, narrow):
        with pytest.raises(ClientError):
            _create(factory, _role(factory, inline=doc))


def test_inline_customer_managed_and_aws_managed_grants_are_accepted(factory: Any) -> None:
    iam = factory.client("iam", REGION)
    assert _create(factory, _role(factory, inline=XRAY))["TracingConfig"] == {"Mode": "Active"}
    policy = iam.create_policy(PolicyName=f"xr-{uuid.uuid4().hex[:8]}", PolicyDocument=json.dumps(XRAY))
    assert (
        _create(factory, _role(factory, managed=policy["Policy"]["Arn"]))["TracingConfig"]["Mode"] == "Active"
    )


def test_update_function_configuration_to_active_is_checked(factory: Any) -> None:
    role = _role(factory)
    fn = _create(factory, role, mode="PassThrough")
    with pytest.raises(ClientError) as err:
        factory.client("lambda", REGION).update_function_configuration(
            FunctionName=fn["FunctionName"], TracingConfig={"Mode": "Active"}
        )
    assert err.value.response["Error"]["Message"] == MESSAGE


def _stack_template(statements: list[dict[str, Any]], managed: list[str] | None = None) -> dict[str, Any]:
    role_props: dict[str, Any] = {
        "AssumeRolePolicyDocument": TRUST,
        "Policies": [
            {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
        ],
    }
    if managed:
        role_props["ManagedPolicyArns"] = managed
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": role_props},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": CODE},
                    "TracingConfig": {"Mode": "Active"},
                },
            },
        }
    }


LOGS: list[dict[str, Any]] = [
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
]


def test_cloudformation_function_with_tracing_and_no_permission_fails_the_stack(stacks: Stacks) -> None:
    stack = stacks.create(_stack_template(LOGS))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert MESSAGE in stack["StackStatusReason"]
    assert "[Fn]" in stack["StackStatusReason"]


def test_cloudformation_function_with_the_permission_gets_active_tracing(stacks: Stacks) -> None:
    stack = stacks.create(_stack_template(LOGS + XRAY["Statement"]))
    stacks.assert_status(stack)
    name = stacks.physical_id(stack["StackName"], "Fn")
    config = stacks.factory.client("lambda", REGION).get_function_configuration(FunctionName=name)
    assert config["TracingConfig"] == {"Mode": "Active"}


def test_cloudformation_role_with_the_aws_managed_xray_policy_is_enough(stacks: Stacks) -> None:
    managed = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
    stack = stacks.create(_stack_template(LOGS, managed=[managed]))
    stacks.assert_status(stack)


def test_cloudformation_role_update_applies_inline_policies(stacks: Stacks) -> None:
    iam = stacks.factory.client("iam", REGION)
    template = _stack_template(LOGS + XRAY["Statement"])
    stack = stacks.create(template)
    stacks.assert_status(stack)
    role = stacks.physical_id(stack["StackName"], "Role")
    template["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyName"] = "renamed"
    stack = stacks.update(stack["StackName"], template)
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["renamed"]
