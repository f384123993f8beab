"""AWS::Logs::MetricFilter on moto's CloudWatch Logs backend (DescribeMetricFilters).

CloudFormation reference: Ref is the filter name; no Fn::GetAtt attributes. FilterName and LogGroupName
are createOnly; FilterPattern and MetricTransformations update in place (PutMetricFilter replaces the
filter of that name in that log group: "Creates or updates a metric filter").
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-metricfilter.html
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.logs.models import logs_backends

from streamflix_dr_emulator.cfn._common import CfnResource, generated_name

# PutMetricFilter: filterName 1-512, filterPattern 0-1024, metricTransformations exactly 1 item
# (API reference, "Request Parameters").
_NAME_MAX = 512
_PATTERN_MAX = 1024


class MetricFilterError(Exception):
    """A request PutMetricFilter refuses (the message is AWS's)."""


def _backend(account_id: str, region_name: str) -> Any:
    return logs_backends[account_id][region_name]


def _transformations(value: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """CloudFormation's MetricTransformation items as the API's metricTransformations."""
    if not value or len(value) != 1:
        raise MetricFilterError(
            "1 validation error detected: Value at 'metricTransformations' failed to satisfy constraint: "
            "Member must have length less than or equal to 1 and greater than or equal to 1"
        )
    out = []
    for t in value:
        item: dict[str, Any] = {
            "metricName": t["MetricName"],
            "metricNamespace": t["MetricNamespace"],
            "metricValue": str(t["MetricValue"]),
        }
        if t.get("DefaultValue") is not None:
            item["defaultValue"] = float(t["DefaultValue"])
        if t.get("Unit"):
            item["unit"] = t["Unit"]
        if t.get("Dimensions"):
            item["dimensions"] = {d["Key"]: d["Value"] for d in t["Dimensions"]}
        out.append(item)
    return out


class LogsMetricFilter(CfnResource, CloudFormationModel):
    """AWS::Logs::MetricFilter backed by moto's metric filters."""

    CFN_TYPE = "AWS::Logs::MetricFilter"
    NAME_PROPERTY = "FilterName"
    ATTRIBUTES = frozenset()
    IN_PLACE = frozenset({"FilterPattern", "MetricTransformations", "ApplyOnTransformedLogs"})

    def __init__(self, name: str, log_group: str) -> None:
        self.name = name
        self.log_group = log_group

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def _put(name: str, log_group: str, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        pattern = str(props.get("FilterPattern", ""))
        if not 1 <= len(name) <= _NAME_MAX or len(pattern) > _PATTERN_MAX:
            raise MetricFilterError(
                f"FilterName must be 1-{_NAME_MAX} characters and FilterPattern at most {_PATTERN_MAX}"
            )
        if log_group not in backend.groups:
            # ResourceNotFoundException: "The specified log group does not exist." (API reference, Errors)
            raise MetricFilterError(f"The specified log group does not exist. ({log_group})")
        transformations = _transformations(props.get("MetricTransformations"))
        # moto appends a second filter of the same name; PutMetricFilter replaces it.
        backend.delete_metric_filter(name, log_group)
        backend.put_metric_filter(name, pattern, log_group, transformations)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LogsMetricFilter:
        props = cloudformation_json.get("Properties", {})
        name = props.get("FilterName") or generated_name(resource_name, _NAME_MAX)
        log_group = str(props.get("LogGroupName", ""))
        cls._put(name, log_group, props, account_id, region_name)
        model = cls(name, log_group)
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
        same_name = not props.get("FilterName") or props["FilterName"] == original_resource.name
        if not same_name or props.get("LogGroupName") != original_resource.log_group:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        cls._put(original_resource.name, original_resource.log_group, props, account_id, region_name)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_metric_filter(self.name, self.log_group)
