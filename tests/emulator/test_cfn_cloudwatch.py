"""AWS::CloudWatch::Alarm through CloudFormation."""

from __future__ import annotations

import uuid
from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def alarm_template(name: str, threshold: float = 5.0, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": "5xx on the ALB",
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Dimensions": [{"Name": "LoadBalancer", "Value": "app/web/123"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:pager"],
        "Tags": [{"Key": "severity", "Value": "page"}],
    }
    props.update(extra)
    return {
        "Resources": {"Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": props}},
        "Outputs": {
            "Name": {"Value": {"Ref": "Errors"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Errors", "Arn"]}},
        },
    }


def test_alarm_lifecycle(stacks: Stacks) -> None:
    cw = stacks.factory.client("cloudwatch", REGION)
    name = f"web-5xx-{uuid.uuid4().hex[:6]}"
    stack = stacks.create(alarm_template(name), tags={"env": "test"})
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert out["Name"] == name

    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["AlarmArn"] == out["Arn"]
    assert alarm["Threshold"] == 5.0
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["DatapointsToAlarm"] == 2
    assert alarm["Dimensions"] == [{"Name": "LoadBalancer", "Value": "app/web/123"}]
    assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:pager"]
    assert alarm["TreatMissingData"] == "notBreaching"
    tags = stacks.tag_map(cw.list_tags_for_resource(ResourceARN=out["Arn"])["Tags"])
    assert tags["severity"] == "page"
    assert tags["env"] == "test"

    stacks.assert_status(
        stacks.update(stack["StackName"], alarm_template(name, threshold=10)), "UPDATE_COMPLETE"
    )
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Threshold"] == 10.0

    stacks.delete(stack["StackName"])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_alarm_without_name_gets_a_generated_one(stacks: Stacks) -> None:
    template = alarm_template("unused")
    del template["Resources"]["Errors"]["Properties"]["AlarmName"]
    stack = stacks.create(template)
    stacks.assert_status(stack)
    name = stacks.outputs(stack["StackName"])["Name"]
    assert name.startswith(stack["StackName"])
    cw = stacks.factory.client("cloudwatch", REGION)
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]] == [name]
