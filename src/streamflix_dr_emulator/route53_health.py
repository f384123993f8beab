"""Route 53 health checks that report what their endpoint answers, and failover routing by them.

moto 5.2.5 answers every GetHealthCheckStatus with "Success", keeps no alarm for a CLOUDWATCH_METRIC
check, and has no TestDNSAnswer: a DNS switch that inverts a dead primary's check (and so routes users
back to it) passes there. Modelled here, each from the Route 53 API reference
(https://docs.aws.amazon.com/Route53/latest/APIReference/) and the botocore route53 2013-04-01 model:

**Health of a health check** (:func:`status`), HealthCheckConfig (API_HealthCheckConfig.html):

* HTTP/HTTPS/HTTP_STR_MATCH/HTTPS_STR_MATCH/TCP on ``FullyQualifiedDomainName`` of an ELB load balancer
  the emulator knows (any region): unhealthy while the load balancer's region is in an emulated outage
  (no answer: connection timed out) or while no target group of the load balancer has a healthy target
  (an ALB answers 503 then), healthy otherwise. Targets are those of DescribeTargetHealth: registered
  targets, plus the running tasks of ECS services whose ``loadBalancers`` name the target group (ECS
  registers a service's tasks with its target group: ECS developer guide, "Use load balancing to
  distribute Amazon ECS service traffic"). An endpoint the emulator does not know (an IP address, a
  foreign name) answers nothing: unhealthy. HTTP answers "200 or greater and less than 400" count as
  healthy (HealthCheckConfig ``Type``).
* CLOUDWATCH_METRIC: "If the state of the alarm is OK, the health check is considered healthy. If the
  state is ALARM, the health check is considered unhealthy. If CloudWatch doesn't have sufficient data
  ... the health check status depends on the setting for InsufficientDataHealthStatus: Healthy,
  Unhealthy, or LastKnownStatus" ("For new health checks that have no last known status, the default
  status for the health check is healthy"). The alarm is ``AlarmIdentifier.Name`` in
  ``AlarmIdentifier.Region``; an alarm that does not exist, or whose region is in an emulated outage,
  gives insufficient data. Alarms are evaluated by ``cloudwatch_alarms``.
* CALCULATED: healthy when at least ``HealthThreshold`` of ``ChildHealthChecks`` are healthy ("If you
  specify a number greater than the number of child health checks, Route 53 always considers this
  health check to be unhealthy. If you specify 0, Route 53 always considers this health check to be
  healthy").
* ``Disabled``: "Route 53 considers the status of the health check to always be healthy" (then
  ``Inverted`` applies). ``Inverted``: "consider a health check unhealthy when it otherwise would be
  considered healthy" (and the reverse).

Health is computed when asked (no FailureThreshold times RequestInterval detection delay here; the
runbook's latency model owns that delay).

**GetHealthCheckStatus**: one observation per health-checker region (``Regions`` of the check, else
Route 53's default eight), "Success: ..." / "Failure: ..." by the check's status (inversion included).
"You can't use GetHealthCheckStatus to get the status of a calculated health check" (HealthCheckId,
API_GetHealthCheckStatus.html): InvalidInput here.

**AWS/Route53 HealthCheckStatus** (1 healthy, 0 unhealthy; dimension HealthCheckId) is put into
us-east-1's CloudWatch whenever a status is computed and after every emulated clock advance
(Route 53 UG "Monitoring health check status and getting notifications": the metrics are in us-east-1).

**TestDNSAnswer** (GET /2013-04-01/testdnsanswer, API_TestDNSAnswer.html): what Route 53 answers for
a record name and type of a hosted zone. Failover records follow ResourceRecordSet ``Failover``
(API_ResourceRecordSet.html): "When the primary resource record set is healthy, Route 53 responds to
DNS queries with the applicable value from the primary resource record set regardless of the health of
the secondary resource record set. When the primary resource record set is unhealthy and the secondary
resource record set is healthy, Route 53 responds ... from the secondary resource record set. When the
secondary resource record set is unhealthy, Route 53 responds ... from the primary resource record set
regardless of the health of the primary resource record set." A record's health is that of its
``HealthCheckId`` and, for an alias with ``EvaluateTargetHealth``, that of its target (AliasTarget
``EvaluateTargetHealth``: "For an Application or Network Load Balancer to be considered healthy, every
target group that contains targets must contain at least one healthy target ... A target group that has
no registered targets is considered unhealthy"); a record with neither is healthy. An alias A/AAAA
record to a load balancer answers the load balancer's addresses: two stable addresses per load balancer
from 100.64.0.0/10 (:func:`load_balancer_addresses`), the same for every query, as a load balancer's
name resolves on AWS. Routing policies other than simple and failover (weighted, latency,
geolocation, multivalue) are refused with InvalidInput rather than answered wrongly.

HTTP (JSON) on the emulator's port::

    POST /_streamflix/route53/evaluate   -> {"health_checks": {id: "Healthy"|"Unhealthy"}} (metric published)
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from datetime import UTC, datetime
from typing import Any

from streamflix_dr_emulator import extension_http, regional_state
from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

log = logging.getLogger(__name__)

PREFIX = "/_streamflix/route53"
METRIC_REGION = "us-east-1"
HEALTHY, UNHEALTHY = True, False
ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
TYPES = (*ENDPOINT_TYPES, "CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL")
INSUFFICIENT_DATA_STATUSES = ("Healthy", "Unhealthy", "LastKnownStatus")
# Route 53's health checkers when a check names no Regions (API_HealthCheckConfig.html, Regions:
# "If you don't specify any regions, Route 53 health checkers in all of the default regions check").
DEFAULT_CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")

# Extra configuration moto does not keep, per health check object: AlarmIdentifier etc.
_ALARM = "_streamflix_alarm_identifier"
_INSUFFICIENT = "_streamflix_insufficient_data_health_status"
_LAST_KNOWN = "_streamflix_last_known_alarm_health"


def _invalid(message: str) -> Exception:
    from moto.route53.exceptions import InvalidInput  # noqa: PLC0415

    return InvalidInput(message)


def _backend(account_id: str) -> Any:
    from moto.route53.models import route53_backends  # noqa: PLC0415

    return route53_backends[account_id]["aws"]


def _norm(name: str) -> str:
    name = str(name or "").strip().lower()
    return name if name.endswith(".") else name + "."


# --- load balancers and their targets ------------------------------------------------------------


def find_load_balancer(account_id: str, dns_name: str) -> tuple[str, Any] | None:
    """(region, moto load balancer) whose DNS name is ``dns_name`` (``dualstack.`` prefix allowed)."""
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    wanted = _norm(dns_name)
    if wanted.startswith("dualstack."):
        wanted = wanted[len("dualstack.") :]
    for region, backend in list(elbv2_backends.get(account_id, {}).items()):
        for lb in list(backend.load_balancers.values()):
            if _norm(lb.dns_name) == wanted:
                return region, lb
    return None


def load_balancer_addresses(dns_name: str) -> list[str]:
    """The two addresses the emulator's DNS answers for a load balancer name (stable, 100.64.0.0/10)."""
    digest = hashlib.sha256(_norm(dns_name).removeprefix("dualstack.").encode()).digest()
    size = _ADDRESS_SPACE.num_addresses
    first = int.from_bytes(digest[:4], "big") % size
    second = int.from_bytes(digest[4:8], "big") % size
    if second == first:
        second = (first + 1) % size
    base = int(_ADDRESS_SPACE.network_address)
    return [str(ipaddress.ip_address(base + first)), str(ipaddress.ip_address(base + second))]


def ecs_targets(account_id: str, region: str, target_group_arn: str) -> list[dict[str, Any]]:
    """The running tasks ECS has registered with ``target_group_arn`` (as IP targets), when the engines
    are off: stand-ins that answer healthy. With the engines on, the service's tasks are real processes
    that ``engines.ecs_tasks`` registers and health-checks for real; stand-ins beside them would count as
    healthy targets that nothing serves."""
    from moto.ecs.models import ecs_backends  # noqa: PLC0415

    from streamflix_dr_emulator import engines  # noqa: PLC0415

    if engines.enabled():
        return []
    targets = []
    backend = ecs_backends[account_id][region]
    for service in list(backend.services.values()):
        if getattr(service, "status", "ACTIVE") != "ACTIVE":
            continue
        for lb in service.load_balancers or []:
            if lb.get("targetGroupArn") != target_group_arn:
                continue
            for index in range(int(service.running_count or 0)):
                digest = hashlib.sha256(f"{service.arn}/{index}".encode()).digest()
                address = f"10.{digest[0]}.{digest[1]}.{max(1, digest[2] % 255)}"
                targets.append({"Id": address, "Port": int(lb.get("containerPort") or 80)})
    return targets


def _healthy_target_count(account_id: str, region: str, backend: Any, tg: Any) -> tuple[int, int]:
    """(targets, healthy targets) of a target group: registered ones and ECS tasks."""
    statuses = [tg.health_for(t, backend.ec2_backend).status for t in list(tg.targets.values())]
    ecs = ecs_targets(account_id, region, tg.arn)
    total = len(statuses) + len(ecs)
    healthy = statuses.count("healthy") + len(ecs)
    return total, healthy


def load_balancer_health(account_id: str, dns_name: str, *, evaluate_target_health: bool) -> tuple[bool, str]:
    """(healthy, why) of a load balancer by its DNS name.

    ``evaluate_target_health``: the AliasTarget rule (every target group with targets has a healthy one,
    and a target group without targets is unhealthy); otherwise what an HTTP(S) health check sees (the
    load balancer answers when one of its target groups has a healthy target).
    """
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415

    found = find_load_balancer(account_id, dns_name)
    if found is None:
        return UNHEALTHY, f"no endpoint answers at {dns_name}"
    region, lb = found
    if regional_state.is_failed(region):
        return UNHEALTHY, f"connection timed out ({region} is in an emulated outage)"
    # moto leaves a new load balancer "provisioning" until something describes it (then "active"); the
    # emulator provisions at once, so only a failed one is down.
    if getattr(lb, "state", "active") == "failed":
        return UNHEALTHY, f"load balancer {lb.name} is {lb.state}"
    backend = elbv2_backends[account_id][region]
    groups = [tg for tg in backend.target_groups.values() if lb.arn in tg.load_balancer_arns]
    counts = [_healthy_target_count(account_id, region, backend, tg) for tg in groups]
    if evaluate_target_health:
        ok = bool(counts) and all(healthy > 0 for _total, healthy in counts)
    else:
        ok = any(healthy > 0 for _total, healthy in counts)
    if ok:
        return HEALTHY, "HTTP Status Code 200, OK"
    return UNHEALTHY, "HTTP Status Code 503, Service Unavailable (no healthy targets)"


# --- health check status ---------------------------------------------------------------------------


def _alarm_health(account_id: str, hc: Any) -> tuple[bool, str]:
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    ident = getattr(hc, _ALARM, None) or {}
    region, name = ident.get("Region"), ident.get("Name")
    state = "INSUFFICIENT_DATA"
    if region and name and not regional_state.is_failed(region):
        alarm = cloudwatch_backends[account_id][region].alarms.get(name)
        if alarm is not None:
            state = alarm.state_value
    if state == "OK":
        setattr(hc, _LAST_KNOWN, HEALTHY)
        return HEALTHY, f"alarm {name} is OK"
    if state == "ALARM":
        setattr(hc, _LAST_KNOWN, UNHEALTHY)
        return UNHEALTHY, f"alarm {name} is in ALARM"
    mode = getattr(hc, _INSUFFICIENT, None) or "LastKnownStatus"
    if mode == "Healthy":
        return HEALTHY, f"alarm {name} has insufficient data (InsufficientDataHealthStatus Healthy)"
    if mode == "Unhealthy":
        return UNHEALTHY, f"alarm {name} has insufficient data (InsufficientDataHealthStatus Unhealthy)"
    return bool(getattr(hc, _LAST_KNOWN, HEALTHY)), f"alarm {name} has insufficient data (last known status)"


def _raw_status(account_id: str, hc: Any, seen: frozenset[str]) -> tuple[bool, str]:
    if to_bool(hc.disabled) is True:
        return HEALTHY, "disabled (always healthy)"
    kind = hc.type_
    if kind in ENDPOINT_TYPES:
        if not hc.fqdn:
            return UNHEALTHY, f"no endpoint answers at {hc.ip_address}"
        return load_balancer_health(account_id, hc.fqdn, evaluate_target_health=False)
    if kind == "CLOUDWATCH_METRIC":
        return _alarm_health(account_id, hc)
    if kind == "CALCULATED":
        backend = _backend(account_id)
        healthy = 0
        for child_id in hc.children or []:
            child = backend.health_checks.get(child_id)
            if child is not None and child_id not in seen and status(account_id, child_id, seen | {hc.id})[0]:
                healthy += 1
        threshold = int(hc.health_threshold or 0)
        return (
            healthy >= threshold,
            f"{healthy} of {len(hc.children or [])} children healthy (threshold {threshold})",
        )
    raise _invalid(f"Health check {hc.id}: Type {kind} is not modelled by the StreamFlix DR emulator.")


def status(account_id: str, health_check_id: str, seen: frozenset[str] = frozenset()) -> tuple[bool, str]:
    """(healthy, reason) of a health check, ``Inverted`` applied; publishes HealthCheckStatus."""
    from moto.route53.exceptions import NoSuchHealthCheck  # noqa: PLC0415

    hc = _backend(account_id).health_checks.get(health_check_id)
    if hc is None:
        raise NoSuchHealthCheck(health_check_id)
    healthy, why = _raw_status(account_id, hc, seen)
    if to_bool(hc.inverted) is True:
        healthy, why = not healthy, f"inverted ({why})"
    _publish(account_id, health_check_id, healthy)
    return healthy, why


def _publish(account_id: str, health_check_id: str, healthy: bool) -> None:
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    cloudwatch_backends[account_id][METRIC_REGION].put_metric_data(
        "AWS/Route53",
        [
            {
                "MetricName": "HealthCheckStatus",
                "Dimensions": [{"Name": "HealthCheckId", "Value": health_check_id}],
                "Value": 1.0 if healthy else 0.0,
                "Unit": "None",
                # moto's CloudWatch keeps naive UTC datetimes (its utcnow()); an aware one breaks its queries.
                "Timestamp": regional_state.now_datetime().replace(tzinfo=None),
            }
        ],
    )


def evaluate(account_id: str | None = None) -> dict[str, str]:
    """Compute (and publish) every health check's status; {id: "Healthy"|"Unhealthy"}."""
    from moto.route53.models import route53_backends  # noqa: PLC0415

    result: dict[str, str] = {}
    with regional_state.LOCK:
        for account in list(route53_backends.keys()):
            if account_id is not None and account != account_id:
                continue
            for hc_id in list(_backend(account).health_checks):
                result[hc_id] = "Healthy" if status(account, hc_id)[0] else "Unhealthy"
    return result


# --- TestDNSAnswer ------------------------------------------------------------------------------------


def _record_health(account_id: str, zone: Any, rrset: Any, depth: int) -> tuple[bool, str]:
    reasons = []
    healthy = True
    if rrset.health_check_id:
        ok, why = status(account_id, rrset.health_check_id)
        healthy = healthy and ok
        reasons.append(f"health check {rrset.health_check_id}: {'healthy' if ok else 'unhealthy'} ({why})")
    alias = rrset.alias_target or {}
    if alias and to_bool(alias.get("EvaluateTargetHealth")) is True:
        ok, why = _alias_target_health(account_id, zone, rrset, alias, depth)
        healthy = healthy and ok
        reasons.append(f"alias target {alias.get('DNSName')}: {'healthy' if ok else 'unhealthy'} ({why})")
    return healthy, "; ".join(reasons) or "no health check (always healthy)"


def _alias_target_health(
    account_id: str, zone: Any, rrset: Any, alias: dict[str, Any], depth: int
) -> tuple[bool, str]:
    target = str(alias.get("DNSName") or "")
    if find_load_balancer(account_id, target) is not None:
        return load_balancer_health(account_id, target, evaluate_target_health=True)
    if _norm(target).endswith(_norm(zone.name)):
        records = [r for r in zone.rrsets if _norm(r.name) == _norm(target) and r.type == rrset.type]
        if not records:
            return UNHEALTHY, f"{target} has no {rrset.type} record"
        answer = _answer(account_id, zone, records, depth + 1)
        return answer["healthy"], answer["why"]
    return UNHEALTHY, f"alias target {target} is not a resource the emulator knows"


def _values(account_id: str, zone: Any, rrset: Any, depth: int) -> list[str]:
    alias = rrset.alias_target or {}
    if not alias:
        return [str(v) for v in rrset.records or []]
    target = str(alias.get("DNSName") or "")
    if find_load_balancer(account_id, target) is not None:
        return load_balancer_addresses(target)
    records = [r for r in zone.rrsets if _norm(r.name) == _norm(target) and r.type == rrset.type]
    if records:
        return list(_answer(account_id, zone, records, depth + 1)["values"])
    raise _invalid(f"Alias target {target} is not a resource the StreamFlix DR emulator can resolve.")


def _answer(account_id: str, zone: Any, records: list[Any], depth: int = 0) -> dict[str, Any]:
    if depth > 8:
        raise _invalid("Alias chain too long (more than 8 aliases).")
    failover = [r for r in records if r.failover]
    if failover:
        primary = next((r for r in failover if str(r.failover).upper() == "PRIMARY"), None)
        secondary = next((r for r in failover if str(r.failover).upper() == "SECONDARY"), None)
        if primary is None or secondary is None:
            only = primary or secondary
            ok, why = _record_health(account_id, zone, only, depth)
            return {
                "values": _values(account_id, zone, only, depth),
                "record": only,
                "healthy": ok,
                "why": why,
            }
        p_ok, p_why = _record_health(account_id, zone, primary, depth)
        s_ok, s_why = _record_health(account_id, zone, secondary, depth)
        # ResourceRecordSet Failover: primary healthy -> primary; primary unhealthy and secondary healthy
        # -> secondary; secondary unhealthy -> primary regardless of the primary's health.
        chosen = primary if p_ok or not s_ok else secondary
        why = (
            f"PRIMARY {'healthy' if p_ok else 'unhealthy'} [{p_why}]; "
            f"SECONDARY {'healthy' if s_ok else 'unhealthy'} [{s_why}]"
        )
        return {
            "values": _values(account_id, zone, chosen, depth),
            "record": chosen,
            "healthy": p_ok or s_ok,
            "why": why,
        }
    other = [r for r in records if r.weight is not None or r.region or r.geo_location or r.multi_value_answer]
    if other:
        raise _invalid(
            "The StreamFlix DR emulator answers only simple and failover records; "
            f"{records[0].name} {records[0].type} uses another routing policy."
        )
    record = records[0]
    ok, why = _record_health(account_id, zone, record, depth)
    return {"values": _values(account_id, zone, record, depth), "record": record, "healthy": ok, "why": why}


def _nameserver(zone: Any) -> str:
    servers = getattr(getattr(zone, "delegation_set", None), "name_servers", None) or ["ns-1.awsdns-01.org"]
    return str(servers[0])


def test_dns_answer(account_id: str, zone_id: str, record_name: str, record_type: str) -> dict[str, Any]:
    """What Route 53 answers for ``record_name``/``record_type`` in the hosted zone ``zone_id``."""
    from moto.route53.exceptions import NoSuchHostedZone  # noqa: PLC0415

    if not zone_id or not record_name or not record_type:
        raise _invalid("hostedzoneid, recordname and recordtype are required.")
    if len(zone_id) > 32 or len(record_name) > 1024:
        raise _invalid("hostedzoneid is at most 32 characters and recordname at most 1024.")
    backend = _backend(account_id)
    zone_id = zone_id.rsplit("/", 1)[-1]
    zone = backend.zones.get(zone_id)
    if zone is None:
        raise NoSuchHostedZone(zone_id)
    if zone.private_zone:
        # "This call only supports querying public hosted zones."
        raise _invalid(f"Hosted zone {zone_id} is private; TestDNSAnswer supports public hosted zones only.")
    wanted = _norm(record_name)
    if not wanted.endswith(_norm(zone.name)):
        raise _invalid(f"{record_name} is not in hosted zone {zone.name}.")
    with regional_state.LOCK:
        same_name = [r for r in zone.rrsets if _norm(r.name) == wanted]
        records = [r for r in same_name if r.type == record_type]
        if not records and record_type != "CNAME":
            records = [r for r in same_name if r.type == "CNAME"]
        if not records:
            code = "NOERROR" if same_name else "NXDOMAIN"
            return {
                "RecordName": record_name,
                "RecordType": record_type,
                "RecordData": [],
                "ResponseCode": code,
            }
        answer = _answer(account_id, zone, records)
    log.info("TestDNSAnswer %s %s -> %s (%s)", record_name, record_type, answer["values"], answer["why"])
    return {
        "Nameserver": _nameserver(zone),
        "RecordName": record_name,
        "RecordType": record_type,
        "RecordData": answer["values"],
        "ResponseCode": "NOERROR",
        "Protocol": "UDP",
    }


# --- health check configuration: validation and the fields moto drops -------------------------------


def _validate(config: dict[str, Any], *, existing: Any = None) -> None:
    """HealthCheckConfig constraints from the API reference; InvalidInput like Route 53."""
    kind = config.get("Type") or getattr(existing, "type_", None)
    if kind not in TYPES:
        raise _invalid(f"Invalid value '{kind}' for Type; use one of {', '.join(TYPES)}.")
    if existing is not None and config.get("Type") not in (None, existing.type_):
        raise _invalid("You can't change the value of Type after you create a health check.")
    port = config.get("Port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise _invalid(f"Port {port} is outside 1-65535.")
    if port is not None and kind in ("CALCULATED", "CLOUDWATCH_METRIC"):
        raise _invalid(f"Don't specify a value for Port when you specify a value for Type of {kind}.")
    interval = config.get("RequestInterval")
    if interval is not None and int(interval) not in (10, 30):
        raise _invalid(f"RequestInterval {interval} is not 10 or 30.")
    threshold = config.get("FailureThreshold")
    if threshold is not None and not 1 <= int(threshold) <= 10:
        raise _invalid(f"FailureThreshold {threshold} is outside 1-10.")
    health_threshold = config.get("HealthThreshold")
    if health_threshold is not None and not 0 <= int(health_threshold) <= 256:
        raise _invalid(f"HealthThreshold {health_threshold} is outside 0-256.")
    children = config.get("ChildHealthChecks")
    if children:
        if kind != "CALCULATED":
            raise _invalid("ChildHealthChecks apply to CALCULATED health checks only.")
        if len(children) > 256:
            raise _invalid(f"ChildHealthChecks has {len(children)} entries; the maximum is 256.")
    for field, limit in (("FullyQualifiedDomainName", 255), ("ResourcePath", 255), ("SearchString", 255)):
        value = config.get(field)
        if value is not None and len(str(value)) > limit:
            raise _invalid(f"{field} is longer than {limit} characters.")
    if (
        kind in ENDPOINT_TYPES
        and existing is None
        and not (config.get("IPAddress") or config.get("FullyQualifiedDomainName"))
    ):
        raise _invalid(f"A {kind} health check needs IPAddress or FullyQualifiedDomainName.")
    if kind in ("HTTP_STR_MATCH", "HTTPS_STR_MATCH") and existing is None and not config.get("SearchString"):
        raise _invalid(f"A {kind} health check needs SearchString.")
    alarm = config.get("AlarmIdentifier")
    if kind == "CLOUDWATCH_METRIC" and existing is None and not alarm:
        raise _invalid("A CLOUDWATCH_METRIC health check needs AlarmIdentifier.")
    if alarm is not None:
        if not alarm.get("Region") or not alarm.get("Name"):
            raise _invalid("AlarmIdentifier needs Region and Name.")
        if not 1 <= len(str(alarm["Name"])) <= 256:
            raise _invalid("AlarmIdentifier.Name is 1-256 characters.")
    insufficient = config.get("InsufficientDataHealthStatus")
    if insufficient is not None and insufficient not in INSUFFICIENT_DATA_STATUSES:
        raise _invalid(
            f"Invalid value '{insufficient}' for InsufficientDataHealthStatus; use one of "
            f"{', '.join(INSUFFICIENT_DATA_STATUSES)}."
        )


def _check_alarm_exists(account_id: str, alarm: dict[str, Any] | None) -> None:
    if not alarm:
        return
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    region = str(alarm["Region"])
    found = cloudwatch_backends[account_id][region].alarms.get(alarm["Name"])
    if found is None:
        # CreateHealthCheck looks the alarm up; AWS answers InvalidInput when it is not there.
        raise _invalid(f"The CloudWatch alarm {alarm['Name']} does not exist in {region}.")
    # AlarmIdentifier.Name: "Route 53 supports CloudWatch alarms with the following features:
    # Standard-resolution metrics. High-resolution metrics aren't supported ... Statistics: Average,
    # Minimum, Maximum, Sum, and SampleCount. Extended statistics aren't supported."
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html
    if found.extended_statistic or found.metric_data_queries or found.rule:
        raise _invalid(
            f"The CloudWatch alarm {alarm['Name']} uses an extended statistic, metric math or a "
            "composite rule; Route 53 health checks support only Average, Minimum, Maximum, Sum "
            "and SampleCount."
        )
    if found.period is not None and int(found.period) < 60:
        raise _invalid(
            f"The CloudWatch alarm {alarm['Name']} has a {found.period} s period (a high-resolution metric); "
            "Route 53 health checks support standard-resolution metrics only."
        )


def _keep_extra(hc: Any, config: dict[str, Any]) -> None:
    if config.get("AlarmIdentifier"):
        setattr(
            hc,
            _ALARM,
            {"Region": config["AlarmIdentifier"]["Region"], "Name": config["AlarmIdentifier"]["Name"]},
        )
    if config.get("InsufficientDataHealthStatus"):
        setattr(hc, _INSUFFICIENT, config["InsufficientDataHealthStatus"])


def _config_from_cfn(props: dict[str, Any]) -> dict[str, Any]:
    config = dict(props.get("HealthCheckConfig") or {})
    for flag in ("Inverted", "Disabled", "EnableSNI", "MeasureLatency"):
        if flag in config:
            config[flag] = to_bool(config[flag]) is True
    for number in ("Port", "RequestInterval", "FailureThreshold", "HealthThreshold"):
        if config.get(number) is not None:
            config[number] = int(config[number])
    return config


def _moto_args(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ip_address": config.get("IPAddress"),
        "port": config.get("Port"),
        "type": config.get("Type"),
        "resource_path": config.get("ResourcePath"),
        "fqdn": config.get("FullyQualifiedDomainName"),
        "search_string": config.get("SearchString"),
        "request_interval": config.get("RequestInterval"),
        "failure_threshold": config.get("FailureThreshold"),
        "health_threshold": config.get("HealthThreshold"),
        "measure_latency": config.get("MeasureLatency"),
        "inverted": config.get("Inverted"),
        "disabled": config.get("Disabled"),
        "enable_sni": config.get("EnableSNI"),
        "children": config.get("ChildHealthChecks", []),
        "regions": config.get("Regions", []),
    }


# --- HTTP ---------------------------------------------------------------------------------------------


def _http(method: str, path: str, body: dict[str, Any], account_id: str) -> tuple[int, dict[str, Any]]:
    if path == "/evaluate" and method == "POST":
        return 200, {"health_checks": evaluate(account_id)}
    raise extension_http.HttpError(404, "NotFound", f"no route53 endpoint {method} {path}")


_installed = False


def install() -> None:
    """Health-check status, TestDNSAnswer, the HealthCheckStatus metric and the config moto drops."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.core.responses import ActionResult  # noqa: PLC0415
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus  # noqa: PLC0415
    from moto.route53 import urls  # noqa: PLC0415
    from moto.route53.models import HealthCheck, Route53Backend, route53_backends  # noqa: PLC0415
    from moto.route53.responses import Route53  # noqa: PLC0415

    urls.url_paths.setdefault(r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$", Route53.dispatch)

    # AWS API: route53 TestDNSAnswer — https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html
    def api_test_dns_answer(self: Any) -> Any:
        query = {k.lower(): v[0] for k, v in self.querystring.items() if v}
        record_type = query.get("recordtype", "")
        import botocore.session  # noqa: PLC0415

        allowed = botocore.session.get_session().get_service_model("route53").shape_for("RRType").enum
        if record_type not in allowed:
            raise _invalid(f"Invalid value '{record_type}' for recordtype; use one of {', '.join(allowed)}.")
        result = test_dns_answer(
            self.current_account, query.get("hostedzoneid", ""), query.get("recordname", ""), record_type
        )
        result.setdefault("Nameserver", "ns-1.awsdns-01.org")
        result.setdefault("Protocol", "UDP")
        return ActionResult(result)

    patch_attr(Route53, "test_dns_answer", api_test_dns_answer)

    # AWS API: route53 GetHealthCheckStatus —
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html
    def api_get_health_check_status(self: Any) -> Any:
        hc_id = self._get_param("HealthCheckId")
        hc = self.backend.get_health_check(hc_id)
        if hc.type_ == "CALCULATED":
            raise _invalid(
                "You can't use GetHealthCheckStatus to get the status of a calculated health check; "
                "use the Route 53 console or the CloudWatch HealthCheckStatus metric."
            )
        healthy, why = status(self.current_account, hc_id)
        text = f"Success: {why}" if healthy else f"Failure: {why}"
        checked = datetime.fromtimestamp(regional_state.now(), UTC)
        regions = list(hc.regions or DEFAULT_CHECKER_REGIONS)
        return ActionResult(
            {
                "HealthCheckObservations": [
                    {
                        "Region": region,
                        "IPAddress": f"15.177.{index}.1",
                        "StatusReport": {"Status": text, "CheckedTime": checked},
                    }
                    for index, region in enumerate(regions)
                ]
            }
        )

    patch_attr(Route53, "get_health_check_status", api_get_health_check_status)

    # AWS API: route53 CreateHealthCheck (HealthCheckConfig) —
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html
    def api_create_health_check(self: Any) -> Any:
        config = self._get_param("HealthCheckConfig") or {}
        _validate(config)
        _check_alarm_exists(self.current_account, config.get("AlarmIdentifier"))
        hc = self.backend.create_health_check(self._get_param("CallerReference"), _moto_args(config))
        _keep_extra(hc, config)
        return ActionResult({"HealthCheck": hc})

    patch_attr(Route53, "create_health_check", api_create_health_check)

    original_create = Route53Backend.create_health_check

    def create_health_check(self: Any, caller_reference: str, health_check_args: dict[str, Any]) -> Any:
        for child in health_check_args.get("children") or []:
            if child not in self.health_checks:
                raise _invalid(f"Child health check {child} does not exist.")
        return original_create(self, caller_reference, health_check_args)

    patch_attr(Route53Backend, "create_health_check", create_health_check)

    original_update_api = Route53.update_health_check

    # AWS API: route53 UpdateHealthCheck — https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html
    def api_update_health_check(self: Any) -> Any:
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        params = {
            k: self._get_param(k)
            for k in (
                "Port",
                "RequestInterval",
                "FailureThreshold",
                "HealthThreshold",
                "ChildHealthChecks",
                "FullyQualifiedDomainName",
                "ResourcePath",
                "SearchString",
                "AlarmIdentifier",
                "InsufficientDataHealthStatus",
            )
        }
        _validate({k: v for k, v in params.items() if v is not None}, existing=hc)
        _check_alarm_exists(self.current_account, params.get("AlarmIdentifier"))
        for child in params.get("ChildHealthChecks") or []:
            if child not in self.backend.health_checks:
                raise _invalid(f"Child health check {child} does not exist.")
        result = original_update_api(self)
        _keep_extra(hc, {k: v for k, v in params.items() if v is not None})
        return result

    patch_attr(Route53, "update_health_check", api_update_health_check)

    original_config: Any = HealthCheck.__dict__["health_check_config"]

    # API_HealthCheckConfig: AlarmIdentifier and InsufficientDataHealthStatus are part of the config.
    def health_check_config(self: Any) -> dict[str, Any]:
        config: dict[str, Any] = original_config.fget(self)
        alarm = getattr(self, _ALARM, None)
        if alarm:
            config["AlarmIdentifier"] = alarm
        insufficient = getattr(self, _INSUFFICIENT, None)
        if insufficient:
            config["InsufficientDataHealthStatus"] = insufficient
        if self.type_ in ("CALCULATED", "CLOUDWATCH_METRIC"):
            for key in ("IPAddress", "Port", "RequestInterval", "FailureThreshold", "MeasureLatency"):
                config.pop(key, None)
        return {k: v for k, v in config.items() if v is not None}

    patch_attr(HealthCheck, "health_check_config", property(health_check_config))

    # CloudFormation passes the whole HealthCheckConfig to CreateHealthCheck
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-route53-healthcheck.html);
    # moto's model read only eight of its fields (no Inverted, children, threshold or alarm).
    def cfn_create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        config = _config_from_cfn(cloudformation_json.get("Properties") or {})
        _validate(config)
        _check_alarm_exists(account_id, config.get("AlarmIdentifier"))
        backend = route53_backends[account_id]["aws"]
        hc = backend.create_health_check(caller_reference=resource_name, health_check_args=_moto_args(config))
        _keep_extra(hc, config)
        return hc

    patch_attr(HealthCheck, "create_from_cloudformation_json", classmethod(cfn_create))

    original_describe_target_health = ELBv2Backend.describe_target_health

    # AWS API: elasticloadbalancingv2 DescribeTargetHealth — ECS registers a service's running tasks
    # with its target group (ECS developer guide, service load balancing); they answer healthy here.
    def describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
        found: list[Any] = original_describe_target_health(self, target_group_arn, targets)
        if targets:
            return found
        tg = self.target_groups[target_group_arn]
        for target in ecs_targets(self.account_id, self.region_name, target_group_arn):
            found.append(FakeHealthStatus(target["Id"], target["Port"], tg.health_check_port, "healthy"))
        return found

    patch_attr(ELBv2Backend, "describe_target_health", describe_target_health)

    def on_clock(_now: float) -> None:
        evaluate()

    regional_state.on_advance("route53_health", on_clock)
    extension_http.register(PREFIX, _http)
    _installed = True
