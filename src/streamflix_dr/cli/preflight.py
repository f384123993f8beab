"""Checks on AWS before the first change of a deploy: what would otherwise fail half way through.

- the ACM certificates exist in their regions and cover the domain
  (https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html);
- the hosted zone exists and holds the domain
  (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZone.html);
- the DB instance class is orderable for the engine version, and the engine version is offered, in both
  regions (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeOrderableDBInstanceOptions.html,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBEngineVersions.html).

A definite "no" raises ``ConfigError`` (exit 2, nothing changed). A check the endpoint cannot answer (an
API it does not implement, AccessDenied) is reported as not checked, never as passed.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from streamflix_dr.aws.clients import ClientFactory
from streamflix_dr.config import Environment
from streamflix_dr.constants import Param
from streamflix_dr.errors import ConfigError


def covers(name: str, domain: str) -> bool:
    """Whether a certificate name (possibly ``*.zone``) covers ``domain``."""
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    if name == domain:
        return True
    if name.startswith("*."):
        rest = domain.split(".", 1)
        return len(rest) == 2 and rest[1] == name[2:]
    return False


def preflight(env: Environment, factory: ClientFactory, template: dict[str, Any] | None = None) -> list[str]:
    """Run the checks; return what was checked (one line each); raise ``ConfigError`` on a definite no."""
    lines: list[str] = []
    for role, rc in (("primary", env.primary), ("dr", env.dr)):
        if not rc.certificate_arn:
            continue
        field = f"regions.{role}.certificate_arn"
        try:
            cert = factory.client("acm", rc.region).describe_certificate(CertificateArn=rc.certificate_arn)[
                "Certificate"
            ]
        except ClientError as e:
            if _code(e) in ("ResourceNotFoundException", "ValidationException", "InvalidArnException"):
                raise ConfigError(
                    field,
                    rc.certificate_arn,
                    f"does not exist in {rc.region} ({_code(e)})",
                    f"request or import a certificate for {env.domain_name or 'the domain'} in {rc.region} "
                    "(aws acm list-certificates --region " + rc.region + ") and set its ARN",
                    source=env.source or None,
                ) from e
            lines.append(f"certificate in {rc.region} not checked ({_code(e)})")
            continue
        names = [cert.get("DomainName", ""), *(cert.get("SubjectAlternativeNames") or [])]
        if env.domain_name and not any(covers(n, env.domain_name) for n in names if n):
            raise ConfigError(
                field,
                rc.certificate_arn,
                f"does not cover {env.domain_name} (it names {', '.join(sorted({n for n in names if n}))})",
                f"use a certificate in {rc.region} whose name or SAN is {env.domain_name} "
                "or a wildcard of it",
                source=env.source or None,
            )
        lines.append(
            f"certificate in {rc.region}: {cert.get('Status', '?')}, covers {env.domain_name or '-'}"
        )
    if env.hosted_zone_id:
        try:
            zone = factory.client("route53", "us-east-1").get_hosted_zone(Id=env.hosted_zone_id)["HostedZone"]
        except ClientError as e:
            if _code(e) in ("NoSuchHostedZone", "InvalidInput"):
                raise ConfigError(
                    "hosted_zone_id",
                    env.hosted_zone_id,
                    f"is not a hosted zone of this account ({_code(e)})",
                    "list them with `aws route53 list-hosted-zones` and set the one that holds domain_name",
                    source=env.source or None,
                ) from e
            zone = None
            lines.append(f"hosted zone not checked ({_code(e)})")
        if zone is not None:
            zname = str(zone.get("Name", "")).rstrip(".").lower()
            dom = env.domain_name.lower()
            if not (dom == zname or dom.endswith("." + zname)):
                raise ConfigError(
                    "domain_name",
                    env.domain_name,
                    f"is not inside hosted zone {env.hosted_zone_id} ({zname})",
                    f"set hosted_zone_id to the zone that holds {env.domain_name}, or a name under {zname}",
                    source=env.source or None,
                )
            lines.append(f"hosted zone {env.hosted_zone_id} ({zname}) holds {env.domain_name}")
    tpl = template
    if tpl is None:
        from streamflix_dr.template import load_template  # noqa: PLC0415

        tpl = load_template()
    params = tpl.get("Parameters") or {}

    def value(role_params: dict[str, str], key: str) -> str:
        return (
            role_params.get(key) or env.parameters.get(key) or str((params.get(key) or {}).get("Default", ""))
        )

    for role, rc in (("primary", env.primary), ("dr", env.dr)):
        cls = value(rc.parameters, Param.DB_INSTANCE_CLASS)
        ver = value(rc.parameters, Param.DB_ENGINE_VERSION)
        rds = factory.client("rds", rc.region)
        checked = True
        try:
            if ver:
                answer = rds.describe_db_engine_versions(Engine="postgres", EngineVersion=ver)
                if "DBEngineVersions" not in answer:
                    lines.append(f"engine versions in {rc.region} not checked (no answer)")
                    checked = False
                elif not answer["DBEngineVersions"]:
                    raise ConfigError(
                        f"{Param.DB_ENGINE_VERSION}",
                        ver,
                        f"is not offered for postgres in {rc.region}",
                        "pick one from `aws rds describe-db-engine-versions --engine postgres "
                        f"--region {rc.region}`",
                        source=env.source or None,
                    )
            if cls:
                kwargs: dict[str, Any] = {"Engine": "postgres", "DBInstanceClass": cls, "MaxRecords": 20}
                if ver:
                    kwargs["EngineVersion"] = ver
                offered = rds.describe_orderable_db_instance_options(**kwargs)
                catalogue = rds.describe_orderable_db_instance_options(Engine="postgres", MaxRecords=20)
                if "OrderableDBInstanceOptions" not in offered or not catalogue.get(
                    "OrderableDBInstanceOptions"
                ):
                    # No postgres offering at all is no catalogue (an emulator), not a refusal.
                    lines.append(f"instance classes in {rc.region} not checked (the endpoint lists none)")
                    checked = False
                elif not offered["OrderableDBInstanceOptions"]:
                    raise ConfigError(
                        f"{Param.DB_INSTANCE_CLASS}",
                        cls,
                        f"is not orderable for postgres {ver or ''} in {rc.region} ({role})".replace(
                            "  ", " "
                        ),
                        "pick a class from `aws rds describe-orderable-db-instance-options --engine postgres "
                        f"--engine-version {ver} --region {rc.region}`",
                        source=env.source or None,
                    )
            if checked:
                lines.append(f"postgres {ver or '(default)'} on {cls or '(default)'} offered in {rc.region}")
        except (ClientError, BotoCoreError, ResponseParserError) as e:
            # An API the endpoint does not implement (an emulator answers 500) is "not checked".
            lines.append(f"instance offerings in {rc.region} not checked ({_short(e)})")
    return lines


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _short(e: BaseException) -> str:
    if isinstance(e, ClientError):
        return _code(e)
    if isinstance(e, ResponseParserError):
        return "the endpoint's answer is not an AWS response: the API is probably not implemented there"
    return " ".join(str(e).split())[:120]
