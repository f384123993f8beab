"""Template loading through cfn-lint's decoder: plain values out, file and line on errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamflix_dr.errors import TemplateError
from streamflix_dr.template import load_template, to_json


def test_short_form_intrinsics_become_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  Db:\n"
        "    Type: AWS::RDS::DBInstance\n"
        "    Properties:\n"
        "      DBInstanceClass: db.t4g.micro\n"
        "Outputs:\n"
        "  Address:\n"
        "    Value: !GetAtt Db.Endpoint.Address\n"
    )
    template = load_template(path)
    # The dotted attribute stays whole: moto's YAML loader would split it on every dot.
    assert template["Outputs"]["Address"]["Value"] == {"Fn::GetAtt": ["Db", "Endpoint.Address"]}
    assert json.loads(to_json(template)) == template
    assert type(template["Resources"]) is dict


def test_unparseable_template_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("Resources:\n  Db:\n    Type: a: b\n  Other: 1\n")
    with pytest.raises(TemplateError) as err:
        load_template(path)
    assert err.value.path == str(path)
    assert err.value.line == 3
    assert f"{path}:3" in str(err.value)
    assert "Fix:" in str(err.value)


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such template"):
        load_template(tmp_path / "nope.yaml")
