"""AWS::ElasticLoadBalancingV2::TargetGroup Fn::GetAtt attributes moto lacks.

CloudFormation returns TargetGroupArn, TargetGroupFullName (``targetgroup/<name>/<id>``, the value
of CloudWatch's ``TargetGroup`` dimension), TargetGroupName and LoadBalancerArns
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancingv2-targetgroup.html#aws-resource-elasticloadbalancingv2-targetgroup-return-values).
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_installed = False

_ATTRS = {
    "TargetGroupArn": lambda tg: tg.arn,
    "TargetGroupFullName": lambda tg: tg.arn.split(":", 5)[5],
    "TargetGroupName": lambda tg: tg.name,
    "LoadBalancerArns": lambda tg: list(tg.load_balancer_arns),
}


def install() -> None:
    """Patch moto's FakeTargetGroup. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415
    from moto.elbv2.models import FakeTargetGroup  # noqa: PLC0415

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name not in _ATTRS:
            raise UnformattedGetAttTemplateException()
        return _ATTRS[attribute_name](self)

    patch_attr(FakeTargetGroup, "has_cfn_attr", classmethod(lambda cls, attr: attr in _ATTRS))
    patch_attr(FakeTargetGroup, "get_cfn_attribute", get_cfn_attribute)
    _installed = True
