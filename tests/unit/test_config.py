"""Environment files: good documents load; every bad one names the field, the value and the fix."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamflix_dr.config import available_environments, load_environment, parse_environment
from streamflix_dr.constants import Param, Phase, Role
from streamflix_dr.errors import ConfigError

SOURCE = "environments/test.yaml"
CERT_EU = "arn:aws:acm:eu-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
CERT_US = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"

GOOD: dict[str, Any] = {
    "name": "test",
    "suffix": "t01",
    "cost_center": "media-platform",
    # A test environment without certificates: it has to opt into plain HTTP explicitly.
    "allow_plaintext_http": True,
    "parameters": {"DbInstanceClass": "db.r6g.large"},
    "regions": {
        "primary": {
            "region": "eu-west-2",
            "vpc_cidr": "10.10.0.0/16",
            "public_subnet_cidrs": ["10.10.0.0/24", "10.10.1.0/24", "10.10.2.0/24"],
            "private_subnet_cidrs": ["10.10.16.0/20", "10.10.32.0/20", "10.10.48.0/20"],
            "isolated_subnet_cidrs": ["10.10.64.0/24", "10.10.65.0/24", "10.10.66.0/24"],
            "nat_gateways": 3,
            "desired_count": 2,
            "min_capacity": 2,
            "max_capacity": 10,
        },
        "dr": {
            "region": "us-east-1",
            "vpc_cidr": "10.20.0.0/16",
            "public_subnet_cidrs": ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"],
            "private_subnet_cidrs": ["10.20.16.0/20", "10.20.32.0/20", "10.20.48.0/20"],
            "isolated_subnet_cidrs": ["10.20.64.0/24", "10.20.65.0/24", "10.20.66.0/24"],
            "nat_gateways": 1,
            "desired_count": 1,
            "min_capacity": 1,
            "max_capacity": 10,
        },
    },
}


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    change(doc)
    return doc


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        cur = doc
        for p in parents:
            cur = cur[p]
        cur[last] = value

    return change


def _domain_without_cert(doc: dict[str, Any]) -> None:
    doc["domain_name"] = "watch.streamflix.example"
    doc["hosted_zone_id"] = "Z0123456789ABC"
    doc["regions"]["primary"]["certificate_arn"] = CERT_EU


def _dr_like_primary(doc: dict[str, Any]) -> None:
    for key in ("vpc_cidr", "public_subnet_cidrs", "private_subnet_cidrs", "isolated_subnet_cidrs"):
        doc["regions"]["dr"][key] = doc["regions"]["primary"][key]


def test_good_document_and_template_parameters() -> None:
    env = parse_environment(copy.deepcopy(GOOD), SOURCE)
    assert (env.name, env.suffix, env.primary.region, env.dr.region) == (
        "test",
        "t01",
        "eu-west-2",
        "us-east-1",
    )
    params = env.template_parameters(Role.DR, Phase.BASE, peer={Param.PRIMARY_DB_ARN: "arn:x", "Skip": None})  # type: ignore[dict-item]
    assert params[Param.ROLE] == "dr" and params[Param.PHASE] == "base"
    assert params[Param.PEER_REGION] == "eu-west-2" and params[Param.VPC_CIDR] == "10.20.0.0/16"
    assert params[Param.PRIVATE_SUBNET_CIDRS] == "10.20.16.0/20,10.20.32.0/20,10.20.48.0/20"
    assert params[Param.FAILOVER_DESIRED_COUNT] == "2"  # the primary's full capacity
    assert params[Param.DB_INSTANCE_CLASS] == "db.r6g.large" and params[Param.PRIMARY_DB_ARN] == "arn:x"
    assert "Skip" not in params


def test_domain_with_certificates_in_their_own_regions() -> None:
    def change(doc: dict[str, Any]) -> None:
        _domain_without_cert(doc)
        doc["regions"]["dr"]["certificate_arn"] = CERT_US

    env = parse_environment(_with(change), SOURCE)
    assert env.domain_name == "watch.streamflix.example" and env.dr.certificate_arn == CERT_US


@pytest.mark.parametrize(
    ("change", "field", "value", "fix_part"),
    [
        pytest.param(_set("suffix", "Prod-1"), "suffix", "Prod-1", "dev01", id="bad-suffix"),
        pytest.param(_set("suffix", "abcdefghijk"), "suffix", "abcdefghijk", "dev01", id="suffix-too-long"),
        pytest.param(
            _set("regions.primary.vpc_cidr", "10.10.0.1/16"),
            "regions.primary.vpc_cidr",
            "10.10.0.1/16",
            "network address",
            id="bad-cidr",
        ),
        pytest.param(
            _dr_like_primary,
            "regions.dr.vpc_cidr",
            "10.10.0.0/16",
            "its own range",
            id="overlapping-vpcs",
        ),
        pytest.param(
            _set("regions.primary.private_subnet_cidrs", ["10.10.16.0/20", "10.99.0.0/20", "10.10.48.0/20"]),
            "regions.primary.private_subnet_cidrs[1]",
            "10.99.0.0/20",
            "subnet of 10.10.0.0/16",
            id="subnet-outside-vpc",
        ),
        pytest.param(
            _set("regions.primary.public_subnet_cidrs", ["10.10.0.0/24", "10.10.0.0/25", "10.10.2.0/24"]),
            "regions.primary.public_subnet_cidrs[1]",
            "10.10.0.0/25",
            "own range",
            id="overlapping-subnets",
        ),
        pytest.param(
            _set("regions.dr.region", "eu-west-2"),
            "regions.dr.region",
            "eu-west-2",
            "another region",
            id="same-region",
        ),
        pytest.param(
            _set("regions.dr.region", "mars-north-1"),
            "regions.dr.region",
            "mars-north-1",
            "region code",
            id="unknown-region",
        ),
        pytest.param(
            _domain_without_cert,
            "regions.dr.certificate_arn",
            "",
            "issue an ACM certificate",
            id="domain-no-cert",
        ),
        pytest.param(
            _set("regions.primary.certificate_arn", CERT_US),
            "regions.primary.certificate_arn",
            CERT_US,
            "in eu-west-2",
            id="cert-wrong-region",
        ),
        pytest.param(
            _set("regions.primary.min_capacity", 3),
            "regions.primary.min_capacity",
            3,
            "at most 2",
            id="min-above-desired",
        ),
        pytest.param(
            _set("regions.primary.desired_count", "two"),
            "regions.primary.desired_count",
            "two",
            "e.g. 2",
            id="desired-not-a-number",
        ),
        pytest.param(
            _set("regions.dr.max_capacity", 1),
            "regions.dr.max_capacity",
            1,
            ">= 2",
            id="dr-cannot-take-the-load",
        ),
        pytest.param(
            _set("regions.dr.nat_gateways", True), "regions.dr.nat_gateways", True, "1 or 3", id="nat-bool"
        ),
        pytest.param(
            _set("regions.primary.desired", 3),
            "regions.primary.desired",
            3,
            "desired_count",
            id="misspelt-key",
        ),
        pytest.param(_set("sufix", "x"), "sufix", "x", "'suffix'", id="misspelt-top-level-key"),
        pytest.param(
            _set("parameters", {"Role": "dr"}),
            "parameters.Role",
            "dr",
            "remove it from parameters",
            id="managed-param",
        ),
        pytest.param(
            _set("regions.dr.parameters", {"DesiredCount": 5}),
            "regions.dr.parameters.DesiredCount",
            5,
            "set the matching field",
            id="managed-param-in-region",
        ),
        pytest.param(
            lambda d: d["regions"]["primary"].pop("region"),
            "regions.primary.region",
            None,
            "eu-west-2",
            id="no-region",
        ),
        pytest.param(
            _set("hosted_zone_id", "Z0123"), "domain_name", "", "remove hosted_zone_id", id="zone-no-domain"
        ),
    ],
)
def test_bad_document(
    change: Callable[[dict[str, Any]], None], field: str, value: Any, fix_part: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_environment(_with(change), SOURCE)
    err = info.value
    assert err.field == field
    assert err.value == value
    assert err.fix and fix_part in err.fix
    assert err.source == SOURCE
    # The message a user sees carries all of it.
    assert str(err).startswith(f"{SOURCE}: {field}={value!r}: ") and f"Fix: {err.fix}" in str(err)


def test_unknown_environment_name(tmp_path: Path) -> None:
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "prod.yaml").write_text(yaml.safe_dump(GOOD))
    with pytest.raises(ConfigError) as info:
        load_environment("staging", tmp_path)
    assert info.value.field == "--env" and info.value.value == "staging"
    assert "known: dev, prod" in info.value.message
    assert info.value.fix and "dev.yaml" in info.value.fix


def test_missing_environment_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_environment(str(tmp_path / "nope.yaml"))
    assert info.value.field == "--env" and "not an existing file" in info.value.message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: test\nsuffix: t01\nregions:\n  primary: [unclosed\n  dr: {}\n")
    with pytest.raises(ConfigError) as info:
        load_environment(str(path))
    err = info.value
    assert err.source == f"{path}:5"
    assert "is not valid YAML at line 5" in err.message
    assert err.fix == "fix the YAML syntax at line 5 of broken.yaml"


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as info:
        load_environment(str(path))
    assert info.value.field == "(document)" and info.value.value == "list"


def test_environment_file_by_path_and_shipped_ones(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert load_environment(str(path)).source == str(path)
    shipped = available_environments()
    assert {"dev", "prod"} <= set(shipped)
    for name in shipped:
        env = load_environment(name)
        assert env.name == name and env.primary.region == "eu-west-2" and env.dr.region == "us-east-1"


def test_no_certificate_without_the_plaintext_opt_in_is_refused() -> None:
    doc = _with(lambda d: d.pop("allow_plaintext_http"))
    with pytest.raises(ConfigError) as err:
        parse_environment(doc, SOURCE)
    assert err.value.field == "regions.primary.certificate_arn"
    assert "plain HTTP" in str(err.value)
    assert "allow_plaintext_http: true" in str(err.value)


def test_certificates_in_both_regions_need_no_plaintext_opt_in() -> None:
    def change(d: dict[str, Any]) -> None:
        d.pop("allow_plaintext_http")
        d["regions"]["primary"]["certificate_arn"] = CERT_EU
        d["regions"]["dr"]["certificate_arn"] = CERT_US

    env = parse_environment(_with(change), SOURCE)
    assert env.allow_plaintext_http is False
    assert env.template_parameters(Role.DR, Phase.FULL)[Param.CERTIFICATE_ARN] == CERT_US


# ---- issue 8: refused where it is written ----------------------------------------------------------------


def test_parameter_typo_is_refused_naming_the_closest_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_environment(_with(_set("parameters", {"DbInstanceClas": "db.r6g.large"})), SOURCE)
    assert info.value.field == "parameters.DbInstanceClas"
    assert "is not a parameter of the template" in info.value.message
    assert "did you mean 'DbInstanceClass'?" in (info.value.fix or "")


def test_parameter_typo_in_a_region_block_is_refused_too() -> None:
    with pytest.raises(ConfigError) as info:
        parse_environment(_with(_set("regions.dr.parameters", {"RedisNodeTyp": "cache.t4g.small"})), SOURCE)
    assert info.value.field == "regions.dr.parameters.RedisNodeTyp"
    assert "'RedisNodeType'" in (info.value.fix or "")


def test_parameter_names_come_from_the_template_given() -> None:
    env = parse_environment(
        _with(_set("parameters", {"Custom": "x"})), SOURCE, known_parameters=frozenset({"Custom"})
    )
    assert env.parameters == {"Custom": "x"}


def test_dr_desired_count_zero_is_refused() -> None:
    def zero(doc: dict[str, Any]) -> None:
        doc["regions"]["dr"].update(desired_count=0, min_capacity=0)

    with pytest.raises(ConfigError) as info:
        parse_environment(_with(zero), SOURCE)
    assert info.value.field == "regions.dr.desired_count"
    assert "at least 1" in info.value.message


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_environment(str(path))
    assert info.value.exit_code == 2
    assert "is not UTF-8 text (byte 0xe9" in info.value.message and "iconv" in (info.value.fix or "")


def test_shipped_prod_placeholders_are_refused_and_dev_has_none() -> None:
    from streamflix_dr.config import placeholder_problems, refuse_placeholders  # noqa: PLC0415

    prod = load_environment("prod")
    fields = {f for f, _ in placeholder_problems(prod)}
    assert {"hosted_zone_id", "domain_name", "regions.primary.certificate_arn"} <= fields
    with pytest.raises(ConfigError, match="documentation placeholder"):
        refuse_placeholders(prod)
    refuse_placeholders(load_environment("dev"))
