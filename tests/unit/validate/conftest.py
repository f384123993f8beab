"""Shared paths for the validate tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "templates"
GOOD = FIXTURES / "good" / "dr_stack.yaml"
BAD_RETAIN = FIXTURES / "bad" / "retain.yaml"

BROKEN_YAML = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: [unclosed
"""


TINY = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
"""


@pytest.fixture
def tiny_template(tmp_path: Path) -> Path:
    """A template every check accepts and cfn-lint reads quickly (for tests about other phases)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def broken_template(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_YAML)
    return path


ENV_TEMPLATE = """name: test
suffix: {suffix}
cost_center: media-platform
allow_plaintext_http: true
regions:
  primary:
    region: eu-west-2
    vpc_cidr: 10.10.0.0/16
    public_subnet_cidrs: [10.10.0.0/24, 10.10.1.0/24, 10.10.2.0/24]
    private_subnet_cidrs: [10.10.16.0/20, 10.10.32.0/20, 10.10.48.0/20]
    isolated_subnet_cidrs: [10.10.64.0/24, 10.10.65.0/24, 10.10.66.0/24]
  dr:
    region: us-east-1
    vpc_cidr: 10.20.0.0/16
    public_subnet_cidrs: [10.20.0.0/24, 10.20.1.0/24, 10.20.2.0/24]
    private_subnet_cidrs: [10.20.16.0/20, 10.20.32.0/20, 10.20.48.0/20]
    isolated_subnet_cidrs: [10.20.64.0/24, 10.20.65.0/24, 10.20.66.0/24]
"""


@pytest.fixture
def env_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _write(suffix: str = "dev") -> Path:
        path = tmp_path / "test.yaml"
        path.write_text(ENV_TEMPLATE.format(suffix=suffix))
        return path

    return _write
