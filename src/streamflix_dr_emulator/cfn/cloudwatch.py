"""AWS::CloudWatch::Alarm on moto's CloudWatch backend (DescribeAlarms, ListTagsForResource).

CloudFormation reference: Ref is the alarm name; GetAtt Arn. Every property but AlarmName updates
in place (PutMetricAlarm overwrites the alarm).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-alarm.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from streamflix_dr_emulator.cfn._common import CfnResource, generated_name, resource_tags, tag_list, to_bool


def _backend(account_id: str, region_name: str) -> Any:
    return cloudwatch_backends[account_id][region_name]


def _queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
    if not metrics:
        return None
    queries = []
    for m in metrics:
        stat = m.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat.get("Metric", {})
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=metric.get("MetricName"),
                    namespace=metric.get("Namespace"),
                    dimensions=[
                        Dimension(d.get("Name"), d.get("Value")) for d in metric.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=str(m.get("Id", "")),
                label=m.get("Label", ""),
                period=m.get("Period", ""),
                return_data=m.get("ReturnData", True),
                expression=m.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class CloudWatchAlarm(CfnResource, CloudFormationModel):
    """AWS::CloudWatch::Alarm backed by moto's Alarm."""

    CFN_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = frozenset({"Arn"})

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def alarm(self) -> Any:
        return _backend(self.account_id, self.region_name).alarms[self.name]

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def cfn_attributes(self) -> dict[str, Any]:
        return {"Arn": self.alarm.alarm_arn}

    @staticmethod
    def _put(
        name: str, props: dict[str, Any], tags: dict[str, str], account_id: str, region_name: str
    ) -> Any:
        threshold = props.get("Threshold")
        actions_enabled = to_bool(props.get("ActionsEnabled"))
        return _backend(account_id, region_name).put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            metric_data_queries=_queries(props.get("Metrics")),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=props.get("EvaluationPeriods"),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            period=props.get("Period"),
            threshold=float(threshold) if threshold is not None else None,
            statistic=props.get("Statistic"),
            extended_statistic=props.get("ExtendedStatistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=True if actions_enabled is None else actions_enabled,
            treat_missing_data=props.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=props.get("ThresholdMetricId"),
            rule=None,
            tags=tag_list(tags),
        )

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudWatchAlarm:
        props = cloudformation_json.get("Properties", {})
        name = props.get("AlarmName") or generated_name(resource_name, 255)
        tags = resource_tags(
            props.get("Tags"), account_id, region_name, kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        )
        cls._put(name, props, tags, account_id, region_name)
        model = cls(name)
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
        if props.get("AlarmName") and props["AlarmName"] != original_resource.name:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        tags = resource_tags(
            props.get("Tags"),
            account_id,
            region_name,
            original_resource.stack_id,
            original_resource.logical_id,
        )
        cls._put(original_resource.name, props, tags, account_id, region_name)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        alarm = backend.alarms.get(self.name)
        if alarm is not None:
            backend.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
            backend.delete_alarms([self.name])
