"""AWS::SNS::Subscription and AWS::SNS::TopicPolicy on moto's SNS backend.

CloudFormation reference:
- AWS::SNS::Subscription — Ref is the subscription ARN; TopicArn/Protocol/Endpoint replace it, the
  rest update in place (Subscribe / SetSubscriptionAttributes).
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-subscription.html
- AWS::SNS::TopicPolicy — sets each topic's ``Policy`` attribute (SetTopicAttributes); Ref is an id
  CloudFormation generates. Deleting it restores the default topic policy.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topicpolicy.html
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from streamflix_dr_emulator.cfn._common import CfnResource

# Subscription attributes CloudFormation passes through (SetSubscriptionAttributes names).
_SUB_ATTRS = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy", "DeliveryPolicy")


def _backend(account_id: str, region_name: str) -> Any:
    return sns_backends[account_id][region_name]


def _region_of(arn: str, default: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


class SnsSubscription(CfnResource, CloudFormationModel):
    """AWS::SNS::Subscription backed by moto's Subscription."""

    CFN_TYPE = "AWS::SNS::Subscription"

    def __init__(self, arn: str, region: str) -> None:
        self.arn = arn
        self.sub_region = region

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def _attributes(backend: Any, arn: str, props: dict[str, Any]) -> None:
        for name in _SUB_ATTRS:
            if name not in props:
                continue
            value = props[name]
            if isinstance(value, dict):
                text = json.dumps(value)
            elif isinstance(value, bool):
                text = str(value).lower()
            else:
                text = str(value)
            backend.set_subscription_attributes(arn, name, text)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SnsSubscription:
        props = cloudformation_json.get("Properties", {})
        for required in ("TopicArn", "Protocol"):
            if not props.get(required):
                raise ValueError(f"AWS::SNS::Subscription: {required} is required")
        region = props.get("Region") or _region_of(props["TopicArn"], region_name)
        backend = _backend(account_id, region)
        sub = backend.subscribe(props["TopicArn"], props.get("Endpoint", ""), props["Protocol"])
        cls._attributes(backend, sub.arn, props)
        model = cls(sub.arn, region)
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
        backend = _backend(account_id, original_resource.sub_region)
        sub = backend.subscriptions.get(original_resource.arn)
        same = sub is not None and (sub.topic.arn, sub.protocol, sub.endpoint) == (
            props.get("TopicArn"),
            props.get("Protocol"),
            props.get("Endpoint", ""),
        )
        if not same:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
                StackId=original_resource.stack_id,
                LogicalId=original_resource.logical_id,
            )
        cls._attributes(backend, original_resource.arn, props)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, self.sub_region)
        if self.arn in backend.subscriptions:
            backend.unsubscribe(self.arn)


class SnsTopicPolicy(CfnResource, CloudFormationModel):
    """AWS::SNS::TopicPolicy: the ``Policy`` attribute of each listed topic."""

    CFN_TYPE = "AWS::SNS::TopicPolicy"

    def __init__(self, policy_id: str, topics: list[str]) -> None:
        self.policy_id = policy_id
        self.topics = topics

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @staticmethod
    def _put(account_id: str, region_name: str, topics: list[str], document: Any) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        for arn in topics:
            _backend(account_id, _region_of(arn, region_name)).set_topic_attribute(arn, "policy", text)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SnsTopicPolicy:
        props = cloudformation_json.get("Properties", {})
        topics = list(props.get("Topics") or [])
        if not topics or props.get("PolicyDocument") is None:
            raise ValueError("AWS::SNS::TopicPolicy: Topics and PolicyDocument are required")
        cls._put(account_id, region_name, topics, props["PolicyDocument"])
        model = cls(f"{resource_name}-{uuid.uuid4().hex[:12]}", topics)
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
        topics = list(props.get("Topics") or [])
        dropped = [t for t in original_resource.topics if t not in topics]
        _restore_default_policy(account_id, region_name, dropped)
        cls._put(account_id, region_name, topics, props.get("PolicyDocument"))
        original_resource.topics = topics
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _restore_default_policy(account_id, region_name, self.topics)


def _restore_default_policy(account_id: str, region_name: str, topics: list[str]) -> None:
    for arn in topics:
        backend = _backend(account_id, _region_of(arn, region_name))
        topic = backend.topics.get(arn)
        if topic is not None:
            topic._policy_json = topic._create_default_topic_policy(
                backend.region_name, topic.account_id, topic.name
            )
