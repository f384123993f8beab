"""CloudWatch metric alarms evaluate their metric on PutMetricData and as the emulated clock moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_support import aws, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.client import DataPlaneClient

REGION = "us-east-1"


def make_alarm(endpoint: str, treat: str = "ignore", periods: int = 1, **extra: Any) -> tuple[str, str]:
    name, env = uid("pin"), uid("env")
    aws(endpoint, "cloudwatch", REGION).put_metric_alarm(
        AlarmName=name,
        Namespace="StreamFlixDR",
        MetricName="FailoverPin",
        Dimensions=[{"Name": "Environment", "Value": env}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=periods,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData=treat,
        **extra,
    )
    return name, env


def state(endpoint: str, name: str) -> str:
    alarm = aws(endpoint, "cloudwatch", REGION).describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return str(alarm["StateValue"])


def pin(endpoint: str, env: str, value: float, **extra: Any) -> None:
    aws(endpoint, "cloudwatch", REGION).put_metric_data(
        Namespace="StreamFlixDR",
        MetricData=[
            {
                "MetricName": "FailoverPin",
                "Dimensions": [{"Name": "Environment", "Value": env}],
                "Value": value,
                **extra,
            }
        ],
    )


def test_a_new_alarm_has_insufficient_data(endpoint: str) -> None:
    name, _ = make_alarm(endpoint)
    assert state(endpoint, name) == "INSUFFICIENT_DATA"


def test_put_metric_data_moves_the_alarm_and_ignore_keeps_it_there(endpoint: str) -> None:
    name, env = make_alarm(endpoint, treat="ignore")
    pin(endpoint, env, 1)
    assert state(endpoint, name) == "ALARM"
    # TreatMissingData ignore: the state is sticky while no new datapoint arrives.
    DataPlaneClient(endpoint).advance_clock(3600)
    assert state(endpoint, name) == "ALARM"
    pin(endpoint, env, 0)
    assert state(endpoint, name) == "OK"


def test_missing_data_turns_a_default_alarm_to_insufficient_data(endpoint: str) -> None:
    name, env = make_alarm(endpoint, treat="missing")
    pin(endpoint, env, 1)
    assert state(endpoint, name) == "ALARM"
    DataPlaneClient(endpoint).advance_clock(180)
    assert state(endpoint, name) == "INSUFFICIENT_DATA"


def test_breaching_missing_data_alarms(endpoint: str) -> None:
    name, _ = make_alarm(endpoint, treat="breaching")
    assert state(endpoint, name) == "ALARM"


def test_other_dimensions_do_not_count(endpoint: str) -> None:
    name, _ = make_alarm(endpoint, treat="ignore")
    pin(endpoint, uid("other"), 1)
    assert state(endpoint, name) == "INSUFFICIENT_DATA"


def test_datapoints_to_alarm_needs_that_many_breaching_periods(endpoint: str) -> None:
    name, env = make_alarm(endpoint, treat="notBreaching", periods=3, DatapointsToAlarm=2)
    assert state(endpoint, name) == "OK"
    now = regional_state.now_datetime()  # the emulated clock (other tests advance it)
    pin(endpoint, env, 5, Timestamp=now)
    assert state(endpoint, name) == "OK"
    pin(endpoint, env, 5, Timestamp=now - timedelta(seconds=60))
    assert state(endpoint, name) == "ALARM"


def test_updating_an_alarm_keeps_its_state(endpoint: str) -> None:
    name, env = make_alarm(endpoint, treat="ignore")
    pin(endpoint, env, 1)
    aws(endpoint, "cloudwatch", REGION).put_metric_alarm(
        AlarmName=name,
        Namespace="StreamFlixDR",
        MetricName="FailoverPin",
        Dimensions=[{"Name": "Environment", "Value": env}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
        AlarmDescription="updated",
    )
    assert state(endpoint, name) == "ALARM"


def test_an_unknown_treat_missing_data_is_refused(endpoint: str) -> None:
    with pytest.raises(ClientError, match="TreatMissingData"):
        make_alarm(endpoint, treat="sometimes")
