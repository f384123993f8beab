"""Application Auto Scaling ScalableTarget and ScalingPolicy on moto's backend.

CloudFormation reference:
- AWS::ApplicationAutoScaling::ScalableTarget — Ref and GetAtt Id are
  ``<ResourceId>|<ScalableDimension>|<ServiceNamespace>``; MinCapacity/MaxCapacity/SuspendedState update in
  place (RegisterScalableTarget on an existing target updates it).
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-applicationautoscaling-scalabletarget.html
- AWS::ApplicationAutoScaling::ScalingPolicy — Ref and GetAtt Arn are the policy ARN; the target is named
  either by ScalingTargetId (the target's Ref) or by ResourceId/ScalableDimension/ServiceNamespace.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-applicationautoscaling-scalingpolicy.html
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator.cfn._common import CfnResource, to_int


def _backend(account_id: str, region_name: str) -> Any:
    return applicationautoscaling_backends[account_id][region_name]


class ScalableTarget(CfnResource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalableTarget backed by moto's FakeScalableTarget."""

    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"
    ATTRIBUTES = frozenset({"Id"})

    def __init__(self, namespace: str, resource_id: str, dimension: str) -> None:
        self.namespace = namespace
        self.resource_id = resource_id
        self.dimension = dimension

    @property
    def physical_resource_id(self) -> str:
        return f"{self.resource_id}|{self.dimension}|{self.namespace}"

    def cfn_attributes(self) -> dict[str, Any]:
        return {"Id": self.physical_resource_id}

    @staticmethod
    def _register(props: dict[str, Any], account_id: str, region_name: str) -> None:
        suspended = props.get("SuspendedState")
        _backend(account_id, region_name).register_scalable_target(
            namespace=props["ServiceNamespace"],
            r_id=props["ResourceId"],
            dimension=props["ScalableDimension"],
            min_capacity=to_int(props.get("MinCapacity")),
            max_capacity=to_int(props.get("MaxCapacity")),
            role_arn=props.get("RoleARN", ""),
            suspended_state=suspended,
        )

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ScalableTarget:
        props = cloudformation_json.get("Properties", {})
        for required in ("ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity", "MaxCapacity"):
            if props.get(required) is None:
                raise ValueError(f"{cls.CFN_TYPE}: property {required} is required")
        cls._register(props, account_id, region_name)
        model = cls(props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"])
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
        props = cloudformation_json.get("Properties", {})
        same_target = (
            props.get("ServiceNamespace"),
            props.get("ResourceId"),
            props.get("ScalableDimension"),
        ) == (
            original_resource.namespace,
            original_resource.resource_id,
            original_resource.dimension,
        )
        if not same_target:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
                StackId=original_resource.stack_id,
                LogicalId=original_resource.logical_id,
            )
        cls._register(props, account_id, region_name)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.resource_id in backend.targets.get(self.dimension, {}):
            backend.deregister_scalable_target(self.namespace, self.resource_id, self.dimension)


class ScalingPolicy(CfnResource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalingPolicy backed by moto's FakeApplicationAutoscalingPolicy."""

    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"
    NAME_PROPERTY = "PolicyName"
    ATTRIBUTES = frozenset({"Arn"})

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    @property
    def physical_resource_id(self) -> str:
        return str(self.policy.policy_arn)

    def cfn_attributes(self) -> dict[str, Any]:
        return {"Arn": self.policy.policy_arn}

    @staticmethod
    def _target(props: dict[str, Any]) -> tuple[str, str, str]:
        if props.get("ScalingTargetId"):
            parts = str(props["ScalingTargetId"]).split("|")
            if len(parts) != 3:
                raise ValueError(
                    f"ScalingTargetId={props['ScalingTargetId']!r}: expected the ScalableTarget's Ref "
                    "(<ResourceId>|<ScalableDimension>|<ServiceNamespace>)"
                )
            return parts[2], parts[0], parts[1]
        try:
            return props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"]
        except KeyError as e:
            raise ValueError(
                f"AWS::ApplicationAutoScaling::ScalingPolicy: set ScalingTargetId or {e.args[0]} "
                "(with ResourceId, ScalableDimension and ServiceNamespace)"
            ) from e

    @classmethod
    def _put(cls, name: str, props: dict[str, Any], account_id: str, region_name: str) -> Any:
        namespace, resource_id, dimension = cls._target(props)
        body = props.get("StepScalingPolicyConfiguration") or props.get(
            "TargetTrackingScalingPolicyConfiguration"
        )
        return _backend(account_id, region_name).put_scaling_policy(
            policy_name=name,
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=dimension,
            policy_body=body,
            policy_type=props.get("PolicyType"),
        )

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ScalingPolicy:
        props = cloudformation_json.get("Properties", {})
        model = cls(cls._put(resource_name, props, account_id, region_name))
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
        props = cloudformation_json.get("Properties", {})
        old = original_resource.policy
        same = cls._target(props) == (old.service_namespace, old.resource_id, old.scalable_dimension)
        name = props.get("PolicyName") or old.policy_name
        if not same or name != old.policy_name:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                name,
                cloudformation_json,
                account_id,
                region_name,
                StackId=original_resource.stack_id,
                LogicalId=original_resource.logical_id,
            )
        original_resource.policy = cls._put(name, props, account_id, region_name)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        p = self.policy
        backend = _backend(account_id, region_name)
        key = type(p).formulate_key(p.service_namespace, p.resource_id, p.scalable_dimension, p.policy_name)
        if key in backend.policies:
            backend.delete_scaling_policy(
                p.policy_name, p.service_namespace, p.resource_id, p.scalable_dimension
            )
