"""Environment files (``environments/<name>.yaml``): load, validate, turn into template parameters.

Every check runs before any region is touched, and every error names the file,
the field, the value and the fix.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import yaml

from streamflix_dr.constants import Param, Phase, Role
from streamflix_dr.errors import ConfigError
from streamflix_dr.resources import environments_dir, templates_dir

SUFFIX_PATTERN = re.compile(r"^[a-z0-9]{1,10}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
COST_CENTER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,63}$")
ACM_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$")
HOSTED_ZONE_PATTERN = re.compile(r"^Z[A-Z0-9]{1,31}$")
DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SUBNETS_PER_TIER = 3
TOP_LEVEL_KEYS = frozenset(
    {
        "name",
        "suffix",
        "cost_center",
        "global_datastore",
        "failover_approval_required",
        "max_replica_lag_seconds",
        "max_efs_sync_age_seconds",
        "rto_target_seconds",
        "domain_name",
        "hosted_zone_id",
        "alarm_email",
        "allow_plaintext_http",
        "parameters",
        "regions",
    }
)
# Parameters ``template_parameters`` derives from the environment's fields; a ``parameters:`` block
# that set one of them would silently fight that field (or the role/phase of a stack).
MANAGED_PARAMETERS = frozenset(
    {
        Param.ENVIRONMENT_SUFFIX,
        Param.ENVIRONMENT,
        Param.COST_CENTER,
        Param.ROLE,
        Param.PHASE,
        Param.PEER_REGION,
        Param.VPC_CIDR,
        Param.PUBLIC_SUBNET_CIDRS,
        Param.PRIVATE_SUBNET_CIDRS,
        Param.ISOLATED_SUBNET_CIDRS,
        Param.NAT_GATEWAY_COUNT,
        Param.DESIRED_COUNT,
        Param.MIN_CAPACITY,
        Param.MAX_CAPACITY,
        Param.FAILOVER_DESIRED_COUNT,
        Param.CERTIFICATE_ARN,
        Param.HOSTED_ZONE_ID,
        Param.DOMAIN_NAME,
        Param.ALARM_EMAIL,
        Param.ENABLE_GLOBAL_DATASTORE,
        Param.FAILOVER_APPROVAL_REQUIRED,
    }
)
REGION_KEYS = frozenset(
    {
        "region",
        "vpc_cidr",
        "public_subnet_cidrs",
        "private_subnet_cidrs",
        "isolated_subnet_cidrs",
        "nat_gateways",
        "desired_count",
        "min_capacity",
        "max_capacity",
        "certificate_arn",
        "parameters",
    }
)


@functools.lru_cache(maxsize=4)
def template_parameter_names(path: Path | None = None) -> frozenset[str]:
    """The Parameters the template declares (a plain YAML read: tags such as !Ref are skipped)."""
    from streamflix_dr.constants import MAIN_TEMPLATE  # noqa: PLC0415

    loader: Any = type("_TagTolerantLoader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})
    loader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)
    tpl = path or templates_dir() / MAIN_TEMPLATE
    doc = yaml.load(tpl.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader subclass
    return frozenset((doc or {}).get("Parameters") or {})


# Documentation values that must never reach an AWS deploy (docs.aws.amazon.com's example account ids,
# RFC 2606/6761 reserved names, hosted zone ids that spell EXAMPLE).
PLACEHOLDER_ACCOUNTS = ("123456789012", "111122223333", "444455556666", "000000000000")
PLACEHOLDER_DOMAIN = re.compile(r"(^|\.)(example|invalid|test|localhost)$|(^|\.)example\.(com|net|org)$")


def placeholder_problems(env: Environment) -> list[tuple[str, str]]:
    """(field, value) pairs that are documentation placeholders, not real resources."""
    out: list[tuple[str, str]] = []
    if env.hosted_zone_id and "EXAMPLE" in env.hosted_zone_id.upper():
        out.append(("hosted_zone_id", env.hosted_zone_id))
    if env.domain_name and PLACEHOLDER_DOMAIN.search(env.domain_name):
        out.append(("domain_name", env.domain_name))
    for role, rc in (("primary", env.primary), ("dr", env.dr)):
        m = ACM_ARN_PATTERN.match(rc.certificate_arn or "")
        if m and any(f":{acct}:" in rc.certificate_arn for acct in PLACEHOLDER_ACCOUNTS):
            out.append((f"regions.{role}.certificate_arn", rc.certificate_arn))
    return out


def refuse_placeholders(env: Environment) -> None:
    """Raise ``ConfigError`` when the environment still holds documentation placeholders."""
    found = placeholder_problems(env)
    if found:
        field_name, value = found[0]
        others = ", ".join(f for f, _ in found[1:])
        raise ConfigError(
            field_name,
            value,
            "is a documentation placeholder, not a real resource" + (f" (so are {others})" if others else ""),
            "replace the example values with the production hosted zone, record name and ACM certificate "
            "ARNs of your account before deploying",
            source=env.source or None,
        )


def _known_regions() -> dict[str, str]:
    """Region -> partition, from botocore's own endpoint data (no network)."""
    session = botocore.session.get_session()
    out: dict[str, str] = {}
    for partition in session.get_available_partitions():
        for region in session.get_available_regions("cloudformation", partition_name=partition):
            out[region] = partition
    return out


@dataclass(frozen=True)
class RegionConfig:
    """Per-region settings of an environment."""

    region: str
    vpc_cidr: str
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]
    isolated_subnet_cidrs: tuple[str, ...]
    nat_gateways: int
    desired_count: int
    min_capacity: int
    max_capacity: int
    certificate_arn: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """A validated environment: everything a deploy, failover or drill needs to know."""

    name: str
    suffix: str
    cost_center: str
    primary: RegionConfig
    dr: RegionConfig
    domain_name: str = ""
    hosted_zone_id: str = ""
    alarm_email: str = ""
    global_datastore: bool = False
    failover_approval_required: bool = True
    max_replica_lag_seconds: int = 60
    max_efs_sync_age_seconds: int = 900
    rto_target_seconds: int = 900
    allow_plaintext_http: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def region_of(self, role: Role) -> RegionConfig:
        return self.primary if role is Role.PRIMARY else self.dr

    @property
    def primary_region(self) -> str:
        return self.primary.region

    @property
    def dr_region(self) -> str:
        return self.dr.region

    def template_parameters(
        self, role: Role, phase: Phase, peer: dict[str, str] | None = None
    ) -> dict[str, str]:
        """CloudFormation parameters for one stack. ``peer`` holds the values read from the other region."""
        rc = self.region_of(role)
        other = self.dr if role is Role.PRIMARY else self.primary
        params: dict[str, str] = {
            Param.ENVIRONMENT_SUFFIX: self.suffix,
            Param.ENVIRONMENT: self.name,
            Param.COST_CENTER: self.cost_center,
            Param.ROLE: role.value,
            Param.PHASE: phase.value,
            Param.PEER_REGION: other.region,
            Param.VPC_CIDR: rc.vpc_cidr,
            Param.PUBLIC_SUBNET_CIDRS: ",".join(rc.public_subnet_cidrs),
            Param.PRIVATE_SUBNET_CIDRS: ",".join(rc.private_subnet_cidrs),
            Param.ISOLATED_SUBNET_CIDRS: ",".join(rc.isolated_subnet_cidrs),
            Param.NAT_GATEWAY_COUNT: str(rc.nat_gateways),
            Param.DESIRED_COUNT: str(rc.desired_count),
            Param.MIN_CAPACITY: str(rc.min_capacity),
            Param.MAX_CAPACITY: str(rc.max_capacity),
            # What the DR service scales to on failover: the primary's full capacity.
            Param.FAILOVER_DESIRED_COUNT: str(self.primary.desired_count),
            Param.CERTIFICATE_ARN: rc.certificate_arn,
            Param.HOSTED_ZONE_ID: self.hosted_zone_id,
            Param.DOMAIN_NAME: self.domain_name,
            Param.ALARM_EMAIL: self.alarm_email,
            Param.ENABLE_GLOBAL_DATASTORE: "true" if self.global_datastore else "false",
            Param.FAILOVER_APPROVAL_REQUIRED: "true" if self.failover_approval_required else "false",
        }
        params.update(self.parameters)
        params.update(rc.parameters)
        if peer:
            params.update({k: v for k, v in peer.items() if v is not None})
        return params


def _field(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _require(doc: dict[str, Any], key: str, source: str, fix: str, prefix: str = "") -> Any:
    if key not in doc or doc[key] in (None, ""):
        raise ConfigError(_field(prefix, key), doc.get(key), "is required", fix, source=source)
    return doc[key]


def _int(
    doc: dict[str, Any], key: str, default: int, source: str, *, lo: int, hi: int, prefix: str = ""
) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        name = _field(prefix, key)
        raise ConfigError(
            name,
            value,
            f"must be a whole number from {lo} to {hi}",
            f"set {name} to e.g. {default}",
            source=source,
        )
    return value


def _no_unknown_keys(doc: dict[str, Any], allowed: frozenset[str], prefix: str, source: str) -> None:
    """A misspelt key would otherwise be ignored silently and its default used."""
    for key, value in doc.items():
        if key not in allowed:
            near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigError(
                _field(prefix, str(key)),
                value,
                "is not a known setting",
                f"{hint}known settings here: {', '.join(sorted(allowed))}",
                source=source,
            )


def _bool(doc: dict[str, Any], key: str, default: bool, source: str) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(
            key, value, "must be true or false", f"write {key}: true or {key}: false", source=source
        )
    return value


def _str_map(value: Any, key: str, source: str, known: frozenset[str] | None = None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            key,
            value,
            "must be a mapping of template parameter names to values",
            f"write {key}: {{DbInstanceClass: db.r6g.large}}",
            source=source,
        )
    for k in value:
        if k in MANAGED_PARAMETERS:
            raise ConfigError(
                f"{key}.{k}",
                value[k],
                "is set by streamflix-dr itself from the environment's own fields",
                f"remove it from {key}; set the matching field instead (see environments/dev.yaml)",
                source=source,
            )
        if known is not None and k not in known:
            # A typo (DbInstanceClas) would otherwise be dropped and the template's default deployed.
            settable = sorted(known - MANAGED_PARAMETERS)
            near = difflib.get_close_matches(str(k), settable, n=1)
            raise ConfigError(
                f"{key}.{k}",
                value[k],
                "is not a parameter of the template",
                (f"did you mean {near[0]!r}? " if near else "")
                + f"parameters you may set: {', '.join(settable)}",
                source=source,
            )
    return {str(k): ("true" if v is True else "false" if v is False else str(v)) for k, v in value.items()}


def _network(value: Any, key: str, source: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError as e:
        raise ConfigError(
            key,
            value,
            f"is not a valid IPv4 CIDR block ({e})",
            "write a network address with its prefix, e.g. 10.10.0.0/16",
            source=source,
        ) from e
    if not isinstance(net, ipaddress.IPv4Network):
        raise ConfigError(key, value, "is not IPv4", "use an IPv4 CIDR such as 10.10.0.0/16", source=source)
    return net


def _region_config(
    doc: Any, role: Role, source: str, regions: dict[str, str], known: frozenset[str] | None = None
) -> RegionConfig:
    prefix = f"regions.{role.value}"
    if not isinstance(doc, dict):
        raise ConfigError(
            prefix,
            doc,
            "is missing or not a mapping",
            f"add a '{role.value}:' block under 'regions:' (see environments/dev.yaml)",
            source=source,
        )
    _no_unknown_keys(doc, REGION_KEYS, prefix, source)
    region = _require(doc, "region", source, f"set {prefix}.region, e.g. eu-west-2", prefix)
    if region not in regions:
        raise ConfigError(
            f"{prefix}.region",
            region,
            "is not an AWS region botocore knows",
            "use a region code such as eu-west-2 or us-east-1",
            source=source,
        )
    vpc = _network(
        _require(doc, "vpc_cidr", source, f"set {prefix}.vpc_cidr, e.g. 10.10.0.0/16", prefix),
        f"{prefix}.vpc_cidr",
        source,
    )
    if not 16 <= vpc.prefixlen <= 24:
        raise ConfigError(
            f"{prefix}.vpc_cidr",
            str(vpc),
            "must have a prefix from /16 to /24 (AWS VPC limits)",
            "use e.g. 10.10.0.0/16",
            source=source,
        )
    tiers: dict[str, tuple[str, ...]] = {}
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier in ("public_subnet_cidrs", "private_subnet_cidrs", "isolated_subnet_cidrs"):
        raw = doc.get(tier)
        fkey = f"{prefix}.{tier}"
        if not isinstance(raw, list) or len(raw) != SUBNETS_PER_TIER:
            raise ConfigError(
                fkey,
                raw,
                f"must list exactly {SUBNETS_PER_TIER} CIDR blocks, one per AZ",
                f"list three subnets inside {vpc}",
                source=source,
            )
        nets = []
        for i, item in enumerate(raw):
            net = _network(item, f"{fkey}[{i}]", source)
            if not net.subnet_of(vpc):
                raise ConfigError(
                    f"{fkey}[{i}]",
                    item,
                    f"is not inside the VPC CIDR {vpc}",
                    f"pick a subnet of {vpc}",
                    source=source,
                )
            if not 16 <= net.prefixlen <= 28:
                raise ConfigError(
                    f"{fkey}[{i}]",
                    item,
                    "must have a prefix from /16 to /28 (AWS subnet limits)",
                    "use e.g. a /20 or /24",
                    source=source,
                )
            for other_key, other in seen:
                if net.overlaps(other):
                    raise ConfigError(
                        f"{fkey}[{i}]",
                        item,
                        f"overlaps {other_key} ({other})",
                        "give every subnet its own range",
                        source=source,
                    )
            seen.append((f"{fkey}[{i}]", net))
            nets.append(str(net))
        tiers[tier] = tuple(nets)
    nat = doc.get("nat_gateways", 3 if role is Role.PRIMARY else 1)
    if isinstance(nat, bool) or nat not in (1, 3):
        raise ConfigError(
            f"{prefix}.nat_gateways",
            nat,
            "must be 1 (cost) or 3 (one per AZ)",
            "set nat_gateways: 3 in the primary, 1 or 3 in the DR region",
            source=source,
        )
    desired = _int(doc, "desired_count", 2, source, lo=0, hi=1000, prefix=prefix)
    lo = _int(doc, "min_capacity", desired, source, lo=0, hi=1000, prefix=prefix)
    hi = _int(doc, "max_capacity", max(desired, 1) * 5, source, lo=1, hi=1000, prefix=prefix)
    if lo > desired:
        raise ConfigError(
            f"{prefix}.min_capacity",
            lo,
            f"is above desired_count ({desired})",
            f"lower {prefix}.min_capacity to at most {desired}, or raise desired_count",
            source=source,
        )
    if not desired <= hi:
        raise ConfigError(
            f"{prefix}.desired_count",
            desired,
            f"must lie between min_capacity ({lo}) and max_capacity ({hi})",
            "make min_capacity <= desired_count <= max_capacity",
            source=source,
        )
    cert = str(doc.get("certificate_arn") or "")
    if cert:
        m = ACM_ARN_PATTERN.match(cert)
        if not m:
            raise ConfigError(
                f"{prefix}.certificate_arn",
                cert,
                "is not an ACM certificate ARN",
                "use arn:aws:acm:<region>:<account>:certificate/<id>",
                source=source,
            )
        if m.group(1) != region:
            raise ConfigError(
                f"{prefix}.certificate_arn",
                cert,
                f"is in {m.group(1)}, but an ALB needs a certificate from its own region ({region})",
                f"request or import the certificate in {region}",
                source=source,
            )
    return RegionConfig(
        region=region,
        vpc_cidr=str(vpc),
        public_subnet_cidrs=tiers["public_subnet_cidrs"],
        private_subnet_cidrs=tiers["private_subnet_cidrs"],
        isolated_subnet_cidrs=tiers["isolated_subnet_cidrs"],
        nat_gateways=nat,
        desired_count=desired,
        min_capacity=lo,
        max_capacity=hi,
        certificate_arn=cert,
        parameters=_str_map(doc.get("parameters"), f"{prefix}.parameters", source, known),
    )


def parse_environment(doc: Any, source: str, known_parameters: frozenset[str] | None = None) -> Environment:
    """Validate a parsed environment document. Raises ``ConfigError`` naming the field, value and fix.

    ``known_parameters``: the template's parameter names (default: the packaged template's); a key under
    ``parameters:`` that is not one of them is refused with the closest valid name.
    """
    known = known_parameters if known_parameters is not None else template_parameter_names()
    if not isinstance(doc, dict):
        raise ConfigError(
            "(document)",
            type(doc).__name__,
            "must be a YAML mapping",
            "start from environments/dev.yaml",
            source=source,
        )
    _no_unknown_keys(doc, TOP_LEVEL_KEYS, "", source)
    name = str(_require(doc, "name", source, "set name: to the environment's name, e.g. prod"))
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            "name",
            name,
            "must be lowercase letters, digits and '-', starting with a letter",
            "use e.g. prod or staging",
            source=source,
        )
    suffix = str(_require(doc, "suffix", source, "set suffix: to 1-10 lowercase letters or digits"))
    if not SUFFIX_PATTERN.match(suffix):
        raise ConfigError(
            "suffix",
            suffix,
            "must be 1-10 lowercase letters or digits (no '-': RDS and ElastiCache refuse '--')",
            "use e.g. prod or dev01",
            source=source,
        )
    cost_center = str(_require(doc, "cost_center", source, "set cost_center: to the team's cost center"))
    if not COST_CENTER_PATTERN.match(cost_center):
        raise ConfigError(
            "cost_center",
            cost_center,
            "is not a valid tag value",
            "use letters, digits and _.:/=+@- (at most 64)",
            source=source,
        )
    regions = _known_regions()
    reg = doc.get("regions")
    if not isinstance(reg, dict):
        raise ConfigError(
            "regions",
            reg,
            "is missing or not a mapping",
            "add regions: with primary: and dr: blocks",
            source=source,
        )
    primary = _region_config(reg.get("primary"), Role.PRIMARY, source, regions, known)
    dr = _region_config(reg.get("dr"), Role.DR, source, regions, known)
    if dr.desired_count < 1:
        # Readiness needs warm tasks in the DR region (failover scales them up, it does not start from 0).
        raise ConfigError(
            "regions.dr.desired_count",
            dr.desired_count,
            "must be at least 1: the warm standby keeps tasks running so that a failover only scales "
            "them out, and readiness fails on a DR service with no tasks",
            "set regions.dr.desired_count (and min_capacity) to 1 or more; the failover capacity is the "
            "primary's desired_count, set in regions.primary",
            source=source,
        )
    if primary.region == dr.region:
        raise ConfigError(
            "regions.dr.region",
            dr.region,
            "is the same region as the primary",
            "put the warm standby in another region (us-east-1 for eu-west-2)",
            source=source,
        )
    if regions[primary.region] != regions[dr.region]:
        raise ConfigError(
            "regions.dr.region",
            dr.region,
            f"is in partition {regions[dr.region]}, the primary in {regions[primary.region]}",
            "keep both regions in one partition: replication does not cross partitions",
            source=source,
        )
    if ipaddress.ip_network(primary.vpc_cidr).overlaps(ipaddress.ip_network(dr.vpc_cidr)):
        raise ConfigError(
            "regions.dr.vpc_cidr",
            dr.vpc_cidr,
            f"overlaps the primary's {primary.vpc_cidr}",
            "give each region its own range (e.g. 10.10.0.0/16 and 10.20.0.0/16) so they can peer",
            source=source,
        )
    if dr.max_capacity < primary.desired_count:
        raise ConfigError(
            "regions.dr.max_capacity",
            dr.max_capacity,
            f"is below the primary's desired_count ({primary.desired_count}), "
            "so the DR region could never take the full load",
            f"set regions.dr.max_capacity >= {primary.desired_count}",
            source=source,
        )
    domain = str(doc.get("domain_name") or "")
    zone = str(doc.get("hosted_zone_id") or "")
    if domain:
        if not DOMAIN_PATTERN.match(domain):
            raise ConfigError(
                "domain_name",
                domain,
                "is not a lowercase DNS name",
                "use e.g. watch.streamflix.example",
                source=source,
            )
        if not zone or not HOSTED_ZONE_PATTERN.match(zone):
            raise ConfigError(
                "hosted_zone_id",
                zone,
                "must be a Route 53 hosted zone id when domain_name is set",
                "set hosted_zone_id to the zone that holds domain_name (Z...)",
                source=source,
            )
        for role, rc in (("primary", primary), ("dr", dr)):
            if not rc.certificate_arn:
                raise ConfigError(
                    f"regions.{role}.certificate_arn",
                    "",
                    f"is required when domain_name is set: the HTTPS health check and listener "
                    f"for {domain} need a certificate in {rc.region}",
                    f"issue an ACM certificate for {domain} in {rc.region} and set its ARN",
                    source=source,
                )
    elif zone:
        raise ConfigError(
            "domain_name",
            "",
            "is required when hosted_zone_id is set",
            "set domain_name to the record name, or remove hosted_zone_id",
            source=source,
        )
    # Every transfer must be encrypted in transit: without a certificate the ALB can only serve plain HTTP,
    # which a non-production environment may accept, explicitly, and production may not.
    allow_plaintext_http = _bool(doc, "allow_plaintext_http", False, source)
    if not allow_plaintext_http:
        for role, rc in (("primary", primary), ("dr", dr)):
            if not rc.certificate_arn:
                raise ConfigError(
                    f"regions.{role}.certificate_arn",
                    "",
                    f"is required: without a certificate the load balancer in {rc.region} would serve "
                    "plain HTTP, and every transfer must be encrypted in transit",
                    f"issue or import an ACM certificate in {rc.region} and set its ARN; for a "
                    "non-production environment only, set allow_plaintext_http: true",
                    source=source,
                )
    email = str(doc.get("alarm_email") or "")
    if email and not EMAIL_PATTERN.match(email):
        raise ConfigError(
            "alarm_email", email, "is not an e-mail address", "use e.g. sre@example.com", source=source
        )
    return Environment(
        name=name,
        suffix=suffix,
        cost_center=cost_center,
        primary=primary,
        dr=dr,
        domain_name=domain,
        hosted_zone_id=zone,
        alarm_email=email,
        global_datastore=_bool(doc, "global_datastore", False, source),
        failover_approval_required=_bool(doc, "failover_approval_required", True, source),
        max_replica_lag_seconds=_int(doc, "max_replica_lag_seconds", 60, source, lo=1, hi=3600),
        max_efs_sync_age_seconds=_int(doc, "max_efs_sync_age_seconds", 900, source, lo=60, hi=86400),
        rto_target_seconds=_int(doc, "rto_target_seconds", 900, source, lo=60, hi=86400),
        allow_plaintext_http=allow_plaintext_http,
        parameters=_str_map(doc.get("parameters"), "parameters", source, known),
        source=source,
    )


def available_environments(search: Path | None = None) -> list[str]:
    folder = search or environments_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_environment(
    name_or_path: str, search: Path | None = None, known_parameters: frozenset[str] | None = None
) -> Environment:
    """Load ``environments/<name>.yaml`` (or a path to a YAML file) and validate it.

    ``known_parameters``: the parameter names of the template the environment is for (default: the
    packaged template's); ``validate`` of another template passes that template's names."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and not path.is_file():
        raise ConfigError(
            "--env",
            name_or_path,
            "is not an existing file",
            "pass an environment name (see environments/) or the path of an existing YAML file",
        )
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        folder = search or environments_dir()
        path = folder / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(available_environments(folder)) or "(none)"
            raise ConfigError(
                "--env",
                name_or_path,
                f"is not a known environment (known: {known})",
                f"pass one of them, or a path to an environment file like {folder}/dev.yaml",
            )
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(
            "(document)",
            str(path),
            f"is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})",
            f"save {path.name} as UTF-8 (e.g. `iconv -f latin1 -t utf-8 {path.name}`)",
            source=str(path),
        ) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        where = f"line {line}" if line else "an unknown line"
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(
            "(document)",
            str(path),
            f"is not valid YAML at {where} ({problem})",
            f"fix the YAML syntax at {where} of {path.name}",
            source=f"{path}:{line}" if line else str(path),
        ) from e
    return parse_environment(doc, str(path), known_parameters)
