"""One embedded emulator per test session, a ClientFactory bound to it, and stack helpers."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.template import to_json
from streamflix_dr_emulator import server

# --import-mode=importlib does not put test folders on sys.path; api_support is shared by these tests.
sys.path.insert(0, str(Path(__file__).parent))


def _install_speedups() -> None:
    """tests/speedups.py for this process (no behaviour under test changes; see its docstring)."""
    path = Path(__file__).resolve().parents[1] / "speedups.py"
    spec = importlib.util.spec_from_file_location("streamflix_dr_test_speedups", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


_install_speedups()

REGION = "us-east-1"
PEER_REGION = "eu-west-2"


@pytest.fixture(scope="session")
def emulator_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of the emulator started for this session."""
    with server.running() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(emulator_endpoint: str) -> str:
    """The session emulator's URL, under the name the service-API tests use."""
    return emulator_endpoint


@pytest.fixture
def factory(emulator_endpoint: str) -> ClientFactory:
    """A ClientFactory whose clients talk to the session's emulator with fake credentials."""
    target = Target(endpoint_url=emulator_endpoint, access_key_id="testing", secret_access_key="testing")
    return ClientFactory(target=target, max_attempts=1)


@pytest.fixture(autouse=True)
def _no_leftover_throttling() -> Iterator[None]:
    yield
    server.clear_throttling()


@dataclass
class Stacks:
    """Create/update/delete stacks from template dicts, sent as JSON like the deploy code does."""

    factory: ClientFactory
    region: str = REGION
    created: list[tuple[str, str]] = field(default_factory=list)

    def cfn(self, region: str | None = None) -> Any:
        return self.factory.client("cloudformation", region or self.region)

    def create(
        self,
        template: dict[str, Any],
        *,
        region: str | None = None,
        parameters: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        name = name or f"t-{uuid.uuid4().hex[:10]}"
        region = region or self.region
        self.cfn(region).create_stack(
            StackName=name,
            TemplateBody=to_json(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        self.created.append((region, name))
        return self.describe(name, region=region)

    def update(
        self,
        name: str,
        template: dict[str, Any],
        *,
        region: str | None = None,
        parameters: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.cfn(region).update_stack(
            StackName=name,
            TemplateBody=to_json(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        )
        return self.describe(name, region=region)

    def delete(self, name: str, *, region: str | None = None) -> None:
        self.cfn(region).delete_stack(StackName=name)

    def describe(self, name: str, *, region: str | None = None) -> dict[str, Any]:
        stack: dict[str, Any] = self.cfn(region).describe_stacks(StackName=name)["Stacks"][0]
        return stack

    def outputs(self, name: str, *, region: str | None = None) -> dict[str, str]:
        return {
            o["OutputKey"]: o["OutputValue"] for o in self.describe(name, region=region).get("Outputs", [])
        }

    def physical_id(self, name: str, logical_id: str, *, region: str | None = None) -> str:
        resources = self.cfn(region).describe_stack_resources(StackName=name, LogicalResourceId=logical_id)
        return str(resources["StackResources"][0]["PhysicalResourceId"])

    @staticmethod
    def assert_status(stack: dict[str, Any], status: str = "CREATE_COMPLETE") -> None:
        """The stack reached ``status``; otherwise show its reason."""
        assert stack["StackStatus"] == status, json.dumps(
            {"status": stack["StackStatus"], "reason": stack.get("StackStatusReason")}, default=str
        )

    @staticmethod
    def tag_map(tags: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
        if isinstance(tags, dict):
            return dict(tags)
        return {t[key]: t[value] for t in tags or []}

    def events(self, name: str, *, region: str | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cfn(region).describe_stack_events(StackName=name)["StackEvents"]
        return events


@pytest.fixture
def stacks(factory: ClientFactory) -> Iterator[Stacks]:
    """Stack helper; stacks a test leaves behind are deleted afterwards (best effort)."""
    helper = Stacks(factory)
    yield helper
    for region, name in helper.created:
        try:
            status = helper.describe(name, region=region)["StackStatus"]
            if status != "DELETE_COMPLETE":
                helper.delete(name, region=region)
        except Exception:
            pass
