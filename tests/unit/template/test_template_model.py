"""template_model on small inline templates: conditions, defaults, resolution, parameter checks."""

from __future__ import annotations

from typing import Any

import pytest

from streamflix_dr.errors import TemplateError
from streamflix_dr.template_model import (
    active_outputs,
    active_properties,
    active_resources,
    check_parameter_values,
    effective_parameters,
    evaluate_conditions,
    parameter_defaults,
    resolve_value,
)

SMALL: dict[str, Any] = {
    "Metadata": {
        "StreamflixDR::ParameterRules": {"Cidrs": {"Length": 3, "ItemPattern": r"^\d+\.\d+\.\d+\.\d+/\d+$"}}
    },
    "Parameters": {
        "Suffix": {"Type": "String", "AllowedPattern": "^[a-z0-9]{1,10}$", "MaxLength": 10},
        "Role": {"Type": "String", "AllowedValues": ["primary", "dr"]},
        "Phase": {"Type": "String", "Default": "full", "AllowedValues": ["base", "full"]},
        "Count": {"Type": "Number", "Default": 1, "AllowedValues": [1, 3]},
        "Size": {"Type": "Number", "Default": 20, "MinValue": 20, "MaxValue": 100},
        "Cidrs": {"Type": "CommaDelimitedList", "Default": "10.0.0.0/24,10.0.1.0/24,10.0.2.0/24"},
        "Peer": {"Type": "String", "Default": ""},
    },
    "Rules": {
        "DrFullNeedsPeer": {
            "RuleCondition": {
                "Fn::And": [
                    {"Fn::Equals": [{"Ref": "Role"}, "dr"]},
                    {"Fn::Equals": [{"Ref": "Phase"}, "full"]},
                ]
            },
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Peer"}, ""]}]},
                    "AssertDescription": "Peer is required for dr/full",
                }
            ],
        }
    },
    "Conditions": {
        "IsPrimary": {"Fn::Equals": [{"Ref": "Role"}, "primary"]},
        "IsFull": {"Fn::Equals": [{"Ref": "Phase"}, "full"]},
        "IsDrFull": {"Fn::And": [{"Fn::Not": [{"Condition": "IsPrimary"}]}, {"Condition": "IsFull"}]},
        "Three": {"Fn::Or": [{"Condition": "IsPrimary"}, {"Fn::Equals": [{"Ref": "Count"}, 3]}]},
        "InLondon": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-2"]},
    },
    "Resources": {
        "Always": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": {"Fn::Sub": "t-${Suffix}-${AWS::Region}-${Other.Arn}"},
                "Display": {"Fn::If": ["IsPrimary", "p", {"Ref": "AWS::NoValue"}]},
                "Cidr": {"Fn::Select": [1, {"Ref": "Cidrs"}]},
                "Other": {"Ref": "Always"},
            },
        },
        "PrimaryOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsPrimary"},
        "DrFullOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsDrFull"},
        "ThreeOnly": {"Type": "AWS::SNS::Topic", "Condition": "Three"},
        "LondonOnly": {"Type": "AWS::SNS::Topic", "Condition": "InLondon"},
    },
    "Outputs": {"A": {"Value": "x"}, "B": {"Value": "y", "Condition": "IsDrFull"}},
}
GOOD = {"Suffix": "dev01", "Role": "dr", "Phase": "full", "Peer": "eu-west-2", "AWS::Region": "us-east-1"}


def test_defaults_are_strings_and_lists_are_joined() -> None:
    assert parameter_defaults(SMALL) == {
        "Phase": "full",
        "Count": "1",
        "Size": "20",
        "Cidrs": "10.0.0.0/24,10.0.1.0/24,10.0.2.0/24",
        "Peer": "",
    }


@pytest.mark.parametrize(
    ("role", "phase", "count", "region", "expected"),
    [
        pytest.param(
            "primary",
            "full",
            "1",
            "eu-west-2",
            {"Always", "PrimaryOnly", "ThreeOnly", "LondonOnly"},
            id="primary-forces-three",
        ),
        pytest.param("dr", "base", "1", "us-east-1", {"Always"}, id="dr-base-minimal"),
        pytest.param(
            "dr", "full", "3", "us-east-1", {"Always", "DrFullOnly", "ThreeOnly"}, id="dr-full-count-3"
        ),
    ],
)
def test_active_resources_follow_conditions(
    role: str, phase: str, count: str, region: str, expected: set[str]
) -> None:
    p = {"Suffix": "a", "Role": role, "Phase": phase, "Count": count, "AWS::Region": region}
    assert set(active_resources(SMALL, p)) == expected


def test_number_parameter_compares_as_string() -> None:
    conds = evaluate_conditions(SMALL, {"Suffix": "a", "Role": "dr", "Count": 3, "AWS::Region": "x"})
    assert conds["Three"] is True


def test_outputs_follow_conditions() -> None:
    assert set(active_outputs(SMALL, GOOD)) == {"A", "B"}
    assert set(active_outputs(SMALL, {**GOOD, "Phase": "base"})) == {"A"}


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(TemplateError, match="Role"):
        active_resources(SMALL, {"Suffix": "a", "AWS::Region": "x"})


def test_region_must_be_given_when_a_condition_uses_it() -> None:
    with pytest.raises(TemplateError, match="AWS::Region"):
        evaluate_conditions(SMALL, {"Suffix": "a", "Role": "dr"})


def test_undefined_and_cyclic_conditions_are_refused() -> None:
    bad = {"Conditions": {"A": {"Condition": "B"}, "B": {"Condition": "A"}}, "Resources": {}}
    with pytest.raises(TemplateError, match="refers to itself"):
        evaluate_conditions(bad, {})
    missing = {"Conditions": {}, "Resources": {"R": {"Type": "X", "Condition": "Nope"}}}
    with pytest.raises(TemplateError, match="Nope"):
        active_resources(missing, {})


def test_resolve_value_evaluates_if_novalue_sub_and_select() -> None:
    props = active_properties(SMALL, {**GOOD, "Role": "primary", "AWS::Region": "eu-west-2"}, "Always")
    # Parameters and pseudo parameters are substituted; an attribute of a resource stays as written.
    assert props["TopicName"] == "t-dev01-eu-west-2-${Other.Arn}"
    assert props["Display"] == "p"
    assert props["Cidr"] == "10.0.1.0/24"
    assert props["Other"] == {"Ref": "Always"}
    dr_props = active_properties(SMALL, GOOD, "Always")
    assert "Display" not in dr_props


def test_resolve_value_of_a_list_drops_novalue_items() -> None:
    value = [{"Fn::If": ["IsPrimary", "a", {"Ref": "AWS::NoValue"}]}, "b"]
    assert resolve_value(value, SMALL, GOOD) == ["b"]


def test_active_properties_of_an_inactive_resource_is_an_error() -> None:
    with pytest.raises(TemplateError, match="PrimaryOnly"):
        active_properties(SMALL, GOOD, "PrimaryOnly")


def test_good_values_pass() -> None:
    assert check_parameter_values(SMALL, GOOD) == []


@pytest.mark.parametrize(
    ("override", "words"),
    [
        pytest.param({"Suffix": "Dev-01"}, ["Suffix", "'Dev-01'", "^[a-z0-9]{1,10}$"], id="suffix-pattern"),
        pytest.param(
            {"Suffix": "abcdefghijk"},
            ["Suffix", "'abcdefghijk'", "MaxLength 10", "shorten"],
            id="suffix-too-long",
        ),
        pytest.param(
            {"Role": "standby"},
            ["Role", "'standby'", "['primary', 'dr']", "use one of them"],
            id="role-not-allowed",
        ),
        pytest.param({"Count": "2"}, ["Count", "'2'", "['1', '3']"], id="number-not-allowed"),
        pytest.param({"Size": "10"}, ["Size", "'10'", "MinValue 20", "use 20 or more"], id="below-min"),
        pytest.param({"Size": "101"}, ["Size", "'101'", "MaxValue 100"], id="above-max"),
        pytest.param({"Size": "big"}, ["Size", "'big'", "not a number"], id="not-a-number"),
        pytest.param(
            {"Cidrs": "10.0.0.0/24,10.0.1.0/24"},
            ["Cidrs", "has 2 item(s)", "exactly 3", "pass 3"],
            id="cidr-list-too-short",
        ),
        pytest.param(
            {"Cidrs": "10.0.0.0/24,10.0.1.0,10.0.2.0/24"},
            ["Cidrs", "item 1", "'10.0.1.0'", "pattern"],
            id="cidr-item-malformed",
        ),
        pytest.param({"Typo": "x"}, ["Typo", "not a parameter", "spelling"], id="unknown-parameter"),
        pytest.param(
            {"Peer": ""}, ["DrFullNeedsPeer", "Peer=''", "Peer is required for dr/full"], id="rule-assertion"
        ),
    ],
)
def test_bad_values_are_refused_with_name_value_and_fix(override: dict[str, str], words: list[str]) -> None:
    problems = check_parameter_values(SMALL, {**GOOD, **override})
    assert problems, "the bad value was accepted"
    assert any(all(word in p for word in words) for p in problems), problems
    assert all(words[0] in p for p in problems), problems


def test_missing_required_value_is_reported() -> None:
    problems = check_parameter_values(SMALL, {"Role": "dr", "Peer": "x"})
    assert problems == ["Suffix: no value given and the parameter has no default; pass Suffix"]


def test_rule_not_applied_when_its_condition_is_false() -> None:
    assert check_parameter_values(SMALL, {**GOOD, "Phase": "base", "Peer": ""}) == []


def test_list_parameters_accept_python_lists_and_become_lists() -> None:
    values = effective_parameters(SMALL, {**GOOD, "Cidrs": ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]})
    assert values["Cidrs"] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert values["AWS::Partition"] == "aws"
    assert check_parameter_values(SMALL, {**GOOD, "Cidrs": ["10.0.0.0/24", "10.0.1.0/24"]}) != []


def test_join_findinmap_and_contains_rule() -> None:
    tpl: dict[str, Any] = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Mappings": {"Sizes": {"dev": {"Nodes": "1"}, "prod": {"Nodes": "3"}}},
        "Rules": {
            "KnownEnv": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Contains": [["dev", "prod"], {"Ref": "Env"}]},
                        "AssertDescription": "dev or prod",
                    }
                ]
            }
        },
        "Resources": {
            "R": {
                "Type": "X",
                "Properties": {
                    "Nodes": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Nodes"]},
                    "Name": {"Fn::Join": ["-", ["app", {"Ref": "Env"}]]},
                },
            }
        },
    }
    assert active_properties(tpl, {"Env": "prod"}, "R") == {"Nodes": "3", "Name": "app-prod"}
    assert check_parameter_values(tpl, {"Env": "prod"}) == []
    problems = check_parameter_values(tpl, {"Env": "test"})
    assert problems == ["rule KnownEnv (Env='test'): dev or prod"]
