"""DNS back to the primary region: the failover pin metric to 0, checked with Route 53 TestDNSAnswer.

Contract (BRIEF): the DR stack's ``FailoverPinAlarm`` watches ``StreamFlixDR/FailoverPin`` (dimension
``Environment``), Maximum >= 1 over 60 s, missing data ignored (sticky). The primary's record uses a
CALCULATED health check = primary ALB check AND the pin check. Failing back = a 0 datapoint in the DR
region (CloudWatch data plane; no Route 53 control-plane call). Route 53 then answers with the PRIMARY
record once the alarm is OK and the ALB check healthy: DNS moves only at this step, never earlier by
itself, because the pin holds it while the alarm is in ALARM.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix_dr.failback.base import FailbackError, FailbackStepId, ft, metric_points, step_id
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, poll
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

PIN_NAMESPACE = "StreamFlixDR"
PIN_METRIC = "FailoverPin"


def _name(value: str) -> str:
    return value.rstrip(".").lower()


def _resolve(names: set[str]) -> set[str]:
    out: set[str] = set()
    for n in names:
        try:
            out.update(str(a[4][0]) for a in socket.getaddrinfo(n, None))
        except OSError:
            continue
    return out


def answer(ctx: StepContext) -> tuple[str, str]:
    """("primary" | "dr" | "unknown", detail): what Route 53 would answer for the domain now.
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html"""
    t = ft(ctx.topology)
    r53 = ctx.client("route53", t.dr.region)
    primary, dr = {_name(t.primary.load_balancer_dns_name)}, {_name(t.dr.load_balancer_dns_name)}
    name = t.domain_name.rstrip(".") + "."
    for rs in (
        r53.list_resource_record_sets(HostedZoneId=t.hosted_zone_id, StartRecordName=name).get(
            "ResourceRecordSets"
        )
        or []
    ):
        if rs.get("Name") != name or not rs.get("AliasTarget"):
            continue
        target = _name(rs["AliasTarget"].get("DNSName", ""))
        (primary if rs.get("Failover") == "PRIMARY" else dr).add(target)
    primary.discard("")
    dr.discard("")
    try:
        resp = r53.test_dns_answer(
            HostedZoneId=t.hosted_zone_id, RecordName=t.domain_name.rstrip("."), RecordType="A"
        )
    except (ClientError, BotoCoreError) as e:
        return "unknown", f"TestDNSAnswer failed ({e})"
    got = {_name(v) for v in resp.get("RecordData") or []}
    if got & primary and not got & dr:
        return "primary", f"{t.domain_name} answers {sorted(got)}"
    if got & dr:
        return "dr", f"{t.domain_name} answers {sorted(got)} (DR)"
    if got and got & _resolve(primary) and not got & _resolve(dr):
        return "primary", f"{t.domain_name} answers {sorted(got)} (the primary load balancer's addresses)"
    return "unknown", f"{t.domain_name} answers {sorted(got) or 'nothing'}"


class SwitchDnsBack(Step):
    """Put FailoverPin=0 in the DR region and wait until Route 53 answers with the primary region."""

    actions = ("route53.health_check_detection", "route53.dns_ttl")

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.SWITCH_DNS)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        if not (t.hosted_zone_id and t.domain_name):
            return "DNS: no domain configured; clients use the primary load balancer URL"
        return (
            f"DNS: {PIN_NAMESPACE}/{PIN_METRIC}=0 (Environment={t.suffix}) in {f.dr.region}; "
            f"wait until Route 53 "
            f"answers {t.domain_name} with {f.primary.region} (TestDNSAnswer)"
        )

    def _pin(self, ctx: StepContext) -> float | None:
        t = ft(ctx.topology)
        points = metric_points(
            ctx, t.dr.region, PIN_NAMESPACE, PIN_METRIC, {"Environment": t.suffix}, ctx.clock.now() - 900
        )
        return points[-1][1] if points else None

    def check_done(self, ctx: StepContext) -> bool:
        t = ctx.topology
        if not (t.hosted_zone_id and t.domain_name):
            return False
        return self._pin(ctx) == 0.0 and answer(ctx)[0] == "primary"

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        if not (t.hosted_zone_id and t.domain_name):
            return StepOutcome(
                message="no domain",
                skipped=True,
                warnings=["no DNS name configured: point clients at the primary load balancer"],
            )
        metric: dict[str, Any] = {
            "MetricName": PIN_METRIC,
            "Dimensions": [{"Name": "Environment", "Value": t.suffix}],
            "Value": 0.0,
            "Unit": "Count",
        }
        ctx.client("cloudwatch", t.dr.region).put_metric_data(Namespace=PIN_NAMESPACE, MetricData=[metric])
        ctx.latency.wait("route53.health_check_detection")
        ctx.latency.wait("route53.dns_ttl")
        detail: list[str] = [""]

        def moved() -> bool:
            where, detail[0] = answer(ctx)
            return where == "primary"

        poll(ctx, f"{t.domain_name} answering with {t.primary.region}", t.dr.region, moved)
        return StepOutcome(message=f"pin 0: {detail[0]}")

    def verify(self, ctx: StepContext) -> None:
        t = ctx.topology
        if t.hosted_zone_id and t.domain_name:
            where, detail = answer(ctx)
            if where != "primary":
                raise FailbackError(
                    f"Route 53 does not answer with the primary: {detail}.",
                    fix="check the FailoverPin alarm (OK?) and the primary ALB health check; rerun",
                )
