"""AWS::CloudTrail::Trail on moto's CloudTrail backend (DescribeTrails, GetTrailStatus, ListTags).

CloudFormation reference: Ref is the trail name; GetAtt Arn and SnsTopicArn; IsLogging is required and
maps to StartLogging/StopLogging; other properties update in place (UpdateTrail).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudtrail-trail.html
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
"""

from __future__ import annotations

from typing import Any

from moto.cloudtrail.models import cloudtrail_backends
from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator.cfn._common import CfnResource, generated_name, resource_tags, tag_list, to_bool


def _backend(account_id: str, region_name: str) -> Any:
    return cloudtrail_backends[account_id][region_name]


class CloudTrailTrail(CfnResource, CloudFormationModel):
    """AWS::CloudTrail::Trail backed by moto's Trail."""

    CFN_TYPE = "AWS::CloudTrail::Trail"
    NAME_PROPERTY = "TrailName"
    ATTRIBUTES = frozenset({"Arn", "SnsTopicArn"})

    def __init__(self, trail: Any) -> None:
        self.trail = trail

    @property
    def physical_resource_id(self) -> str:
        return str(self.trail.trail_name)

    def cfn_attributes(self) -> dict[str, Any]:
        return {"Arn": self.trail.arn, "SnsTopicArn": self.trail.topic_arn}

    @staticmethod
    def _selectors_and_logging(trail: Any, props: dict[str, Any]) -> None:
        if props.get("EventSelectors") or props.get("AdvancedEventSelectors"):
            trail.put_event_selectors(
                props.get("EventSelectors") or [], props.get("AdvancedEventSelectors") or []
            )
        if props.get("InsightSelectors"):
            trail.put_insight_selectors(props["InsightSelectors"])
        if to_bool(props.get("IsLogging")):
            trail.start_logging()
        else:
            trail.stop_logging()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudTrailTrail:
        props = cloudformation_json.get("Properties", {})
        if props.get("IsLogging") is None or not props.get("S3BucketName"):
            raise ValueError("AWS::CloudTrail::Trail: IsLogging and S3BucketName are required")
        # Trail names: 3-128 characters, letters, digits, '.', '_' and '-'.
        name = props.get("TrailName") or generated_name(resource_name, 128)
        tags = resource_tags(
            props.get("Tags"), account_id, region_name, kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        )
        include_global = to_bool(props.get("IncludeGlobalServiceEvents"))
        trail = _backend(account_id, region_name).create_trail(
            name=name,
            bucket_name=props["S3BucketName"],
            s3_key_prefix=props.get("S3KeyPrefix"),
            sns_topic_name=props.get("SnsTopicName"),
            is_global=True if include_global is None else include_global,
            is_multi_region=bool(to_bool(props.get("IsMultiRegionTrail"))),
            log_validation=bool(to_bool(props.get("EnableLogFileValidation"))),
            is_org_trail=bool(to_bool(props.get("IsOrganizationTrail"))),
            cw_log_group_arn=props.get("CloudWatchLogsLogGroupArn"),
            cw_role_arn=props.get("CloudWatchLogsRoleArn"),
            kms_key_id=props.get("KMSKeyId"),
            tags_list=tag_list(tags),
        )
        cls._selectors_and_logging(trail, props)
        model = cls(trail)
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
        if props.get("TrailName") and props["TrailName"] != original_resource.physical_resource_id:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        _backend(account_id, region_name).update_trail(
            name=original_resource.physical_resource_id,
            s3_bucket_name=props.get("S3BucketName"),
            s3_key_prefix=props.get("S3KeyPrefix"),
            sns_topic_name=props.get("SnsTopicName"),
            include_global_service_events=to_bool(props.get("IncludeGlobalServiceEvents")),
            is_multi_region_trail=to_bool(props.get("IsMultiRegionTrail")),
            enable_log_file_validation=to_bool(props.get("EnableLogFileValidation")),
            is_organization_trail=to_bool(props.get("IsOrganizationTrail")),
            cw_log_group_arn=props.get("CloudWatchLogsLogGroupArn"),
            cw_role_arn=props.get("CloudWatchLogsRoleArn"),
            kms_key_id=props.get("KMSKeyId"),
        )
        tags = resource_tags(
            props.get("Tags"),
            account_id,
            region_name,
            original_resource.stack_id,
            original_resource.logical_id,
        )
        _backend(account_id, region_name).add_tags(original_resource.trail.arn, tag_list(tags))
        cls._selectors_and_logging(original_resource.trail, props)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        backend.tagging_service.delete_all_tags_for_resource(self.trail.arn)
        backend.delete_trail(self.physical_resource_id)
