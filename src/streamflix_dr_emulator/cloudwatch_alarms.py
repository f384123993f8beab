"""CloudWatch metric alarms that evaluate their metric, as CloudWatch does.

moto 5.2.5 never evaluates an alarm: a new alarm says ``OK`` forever unless SetAlarmState is called,
so publishing ``StreamFlixDR/FailoverPin=1`` would never move ``FailoverPinAlarm`` to ALARM, and a
Route 53 CLOUDWATCH_METRIC health check on it would never change. Modelled here:

* A new alarm starts in ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation"); PutMetricAlarm on an
  existing alarm keeps its state ("If you are using an existing alarm, the state is left unchanged, but the
  update completely overwrites the previous configuration of the alarm" —
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
* Evaluation (CloudWatch UG "Using Amazon CloudWatch alarms", "Evaluating an alarm":
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html): the most recent
  ``EvaluationPeriods`` periods of ``Period`` seconds (the current one included, aligned to the period),
  ``Statistic`` per period over the datapoints matching namespace, metric name and exactly the alarm's
  dimensions; the alarm goes to ALARM when at least ``DatapointsToAlarm`` (default EvaluationPeriods)
  periods breach ``Threshold`` by ``ComparisonOperator``, otherwise OK.
* ``TreatMissingData`` (same page, "Configuring how CloudWatch alarms treat missing data"): ``notBreaching``
  — missing periods are within the threshold; ``breaching`` — missing periods breach; ``ignore`` — "The
  current alarm state is maintained" (when every period is missing); ``missing`` (default) — when every
  period is missing the alarm goes to INSUFFICIENT_DATA. With some periods present, ``ignore`` and
  ``missing`` evaluate the present ones only.
* When: after every PutMetricData (alarms on that namespace and metric of that region), after
  PutMetricAlarm, and after every advance of the emulated clock (``regional_state.on_advance``), as
  CloudWatch evaluates alarms every minute. ``POST /_streamflix/cloudwatch/evaluate`` runs it on demand.
* PutMetricData without a Timestamp is stamped with the emulated now (moto used the real clock, which
  disagrees with the emulated clock once a test advanced it).

Not modelled, and so left as moto has them (never evaluated): metric-math alarms (``Metrics``),
percentile statistics (``ExtendedStatistic``), anomaly detection and composite alarms. Their state does
not change; they are logged once at WARNING so nobody mistakes that for an evaluation.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from streamflix_dr_emulator import extension_http, regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/cloudwatch"
OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
_TREAT = ("breaching", "notBreaching", "ignore", "missing")
_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_warned: set[str] = set()


def _epoch(ts: Any) -> float:
    if isinstance(ts, datetime):
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    if isinstance(ts, int | float):
        return float(ts)
    return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


def _samples(datum: Any) -> tuple[float, float, float, float]:
    """(count, sum, min, max) of one stored datum (a single value or a StatisticSet)."""
    if hasattr(datum, "value"):
        v = float(datum.value)
        return 1.0, v, v, v
    return float(datum.sample_count), float(datum.sum), float(datum.min), float(datum.max)


def _statistic(name: str, items: list[tuple[float, float, float, float]]) -> float:
    count = sum(i[0] for i in items)
    total = sum(i[1] for i in items)
    if name == "SampleCount":
        return count
    if name == "Sum":
        return total
    if name == "Minimum":
        return min(i[2] for i in items)
    if name == "Maximum":
        return max(i[3] for i in items)
    return total / count if count else math.nan


def _same_dimensions(datum: Any, alarm: Any) -> bool:
    mine = {(d.name, d.value) for d in datum.dimensions}
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    return mine == wanted


def _evaluable(alarm: Any) -> bool:
    if (
        alarm.metric_data_queries
        or alarm.rule
        or alarm.extended_statistic
        or alarm.statistic not in _STATISTICS
    ):
        if alarm.alarm_arn not in _warned:
            _warned.add(alarm.alarm_arn)
            log.warning(
                "CloudWatch alarm %s is not evaluated by the emulator (metric math, percentile or composite)",
                alarm.name,
            )
        return False
    return alarm.comparison_operator in _COMPARE and bool(alarm.period) and bool(alarm.evaluation_periods)


def evaluate_alarm(backend: Any, alarm: Any, now: float | None = None) -> str | None:
    """Evaluate one alarm at the emulated ``now``; return its new state when it changed."""
    if not _evaluable(alarm):
        return None
    now = regional_state.now() if now is None else now
    period = int(alarm.period)
    periods = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    current_start = math.floor(now / period) * period
    first_start = current_start - (periods - 1) * period
    buckets: dict[int, list[tuple[float, float, float, float]]] = {}
    for datum in backend.metric_data:
        if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
            continue
        if alarm.unit and datum.unit and datum.unit != alarm.unit:
            continue
        if not _same_dimensions(datum, alarm):
            continue
        at = _epoch(datum.timestamp)
        if first_start <= at < current_start + period:
            buckets.setdefault(int((at - first_start) // period), []).append(_samples(datum))
    compare = _COMPARE[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    treat = alarm.treat_missing_data or "missing"
    breaching = 0
    present = 0
    for index in range(periods):
        items = buckets.get(index)
        if items:
            present += 1
            breaching += compare(_statistic(alarm.statistic, items), threshold)
        elif treat == "breaching":
            breaching += 1
    if present == 0 and treat in ("ignore", "missing"):
        new_state = alarm.state_value if treat == "ignore" else INSUFFICIENT
    else:
        new_state = ALARM if breaching >= needed else OK
    if new_state == alarm.state_value:
        return None
    reason = (
        f"Threshold Crossed: {breaching} out of the last {periods} datapoints were breaching "
        f"({alarm.comparison_operator} {threshold}) [emulated evaluation]"
        if new_state != INSUFFICIENT
        else f"Insufficient Data: {periods} datapoints were unknown [emulated evaluation]"
    )
    alarm.update_state(reason, "{}", new_state)
    log.info("CloudWatch alarm %s/%s -> %s", backend.region_name, alarm.name, new_state)
    return new_state


def evaluate(account_id: str | None = None, region: str | None = None) -> list[dict[str, str]]:
    """Evaluate every metric alarm (optionally of one account/region); return the state changes."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    changes: list[dict[str, str]] = []
    with regional_state.LOCK:
        now = regional_state.now()
        for account, regions in list(cloudwatch_backends.items()):
            if account == "global" or (account_id is not None and account != account_id):
                continue
            for name, backend in list(regions.items()):
                if region is not None and name != region:
                    continue
                for alarm in list(backend.alarms.values()):
                    state = evaluate_alarm(backend, alarm, now)
                    if state is not None:
                        changes.append({"region": name, "alarm": alarm.name, "state": state})
    return changes


def _http(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    if path == "/evaluate" and method == "POST":
        return 200, {"changes": evaluate(account_id)}
    raise extension_http.HttpError(404, "NotFound", f"no cloudwatch endpoint {method} {path}")


_installed = False


def install() -> None:
    """Evaluate alarms on PutMetricData/PutMetricAlarm and clock advances; INSUFFICIENT_DATA at creation."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudwatch.exceptions import InvalidParameterValue  # noqa: PLC0415
    from moto.cloudwatch.models import CloudWatchBackend  # noqa: PLC0415

    original_put_alarm = CloudWatchBackend.put_metric_alarm

    # AWS API: monitoring PutMetricAlarm —
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", args[0] if args else None)
        treat = kwargs.get("treat_missing_data")
        if treat is not None and treat not in _TREAT:
            # TreatMissingData: "Valid Values: breaching | notBreaching | ignore | missing" (length 1-255).
            raise InvalidParameterValue(
                f"The value {treat} for parameter TreatMissingData is not supported; "
                f"use one of {', '.join(_TREAT)}."
            )
        with regional_state.LOCK:
            previous = self.alarms.get(name)
            alarm = original_put_alarm(self, *args, **kwargs)
            if previous is None:
                alarm.state_value = INSUFFICIENT
                alarm.state_reason = "Unchecked: Initial alarm creation"
            else:
                alarm.state_value = previous.state_value
                alarm.state_reason = previous.state_reason
                alarm.state_reason_data = previous.state_reason_data
                alarm.state_updated_timestamp = previous.state_updated_timestamp
                alarm.history = previous.history
            evaluate_alarm(self, alarm)
        return alarm

    patch_attr(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)

    original_put_data = CloudWatchBackend.put_metric_data

    # AWS API: monitoring PutMetricData (Timestamp: "the time stamp ... if not specified, the default value
    # is set to the time the metric data was received") —
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        # moto's CloudWatch keeps naive UTC datetimes; an aware one breaks its queries.
        received = regional_state.now_datetime().replace(tzinfo=None)
        stamped = [item if item.get("Timestamp") else dict(item, Timestamp=received) for item in metric_data]
        with regional_state.LOCK:
            original_put_data(self, namespace, stamped)
            names = {i.get("MetricName") for i in stamped}
            for alarm in list(self.alarms.values()):
                if alarm.namespace == namespace and alarm.metric_name in names:
                    evaluate_alarm(self, alarm)

    patch_attr(CloudWatchBackend, "put_metric_data", put_metric_data)

    def on_clock(_now: float) -> None:
        evaluate()

    regional_state.on_advance("cloudwatch_alarms", on_clock)
    extension_http.register(PREFIX, _http)
    _installed = True
