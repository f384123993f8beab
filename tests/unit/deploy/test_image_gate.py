"""The image gate (defect 1): services ask for tasks only when ImageTag is in BOTH regions' ECR
repositories; otherwise deploy says exactly what to push and how to finish. Also the pin alarm wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy_fakes import FakeFactory, default_outputs, small_template

from streamflix_dr.config import Environment
from streamflix_dr.deploy.orchestrator import Timeouts, deploy
from streamflix_dr.deploy.plan import Plan

DR, PRIMARY = "us-east-1", "eu-west-2"


def _outputs(region: str, params: dict[str, str]) -> dict[str, str]:
    out = default_outputs(region, params)
    out["EcrRepositoryName"] = f"streamflix-{params.get('Role')}"
    if params.get("Role") == "dr":
        out["FailoverPinAlarmName"] = "streamflix-failover-pin-dev"
    return out


def _template() -> dict[str, Any]:
    tpl = small_template()
    for name in ("AppImageAvailable", "DrFailoverPinAlarmName", "ImageTag"):
        tpl["Parameters"][name] = {
            "Type": "String",
            "Default": "false" if name == "AppImageAvailable" else "v1",
        }
    return tpl


class _Registry:
    """ecr:DescribeImages over the repositories holding the tag (AWS: ImageNotFoundException otherwise)."""

    def __init__(self) -> None:
        self.repos: set[str] = set()

    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]) -> Any:
        from deploy_fakes import client_error  # noqa: PLC0415

        if repositoryName in self.repos:
            return {"imageDetails": [{"imageTags": [imageIds[0]["imageTag"]]}]}
        return client_error("ImageNotFoundException", "The image requested does not exist", "DescribeImages")


def _run(env: Environment, factory: FakeFactory, timeouts: Timeouts, out_dir: Path) -> Any:
    return deploy(
        env, factory, confirm=lambda _p: True, timeouts=timeouts, outputs_dir=out_dir, template=_template()
    )


def _params(factory: FakeFactory, region: str) -> dict[str, str]:
    return dict(next(iter(factory.cfn[region].stacks.values())).params)


def _factory(registry: _Registry) -> FakeFactory:
    return FakeFactory(outputs_for=_outputs, others={"ecr": {"describe_images": registry.describe_images}})


def test_first_deploy_gates_services_and_says_what_to_push(
    env: Environment, timeouts: Timeouts, out_dir: Path
) -> None:
    registry = _Registry()
    factory = _factory(registry)
    result = _run(env, factory, timeouts, out_dir)
    assert _params(factory, PRIMARY)["AppImageAvailable"] == "false"
    assert _params(factory, DR)["AppImageAvailable"] == "false"
    assert result.image_missing and result.image["gated"]
    text = "\n".join(result.next_steps)
    primary_uri = f"123456789012.dkr.ecr.{PRIMARY}.amazonaws.com/streamflix-primary:v1"
    dr_uri = f"123456789012.dkr.ecr.{DR}.amazonaws.com/streamflix-dr:v1"
    assert f"docker push {primary_uri}" in text and dr_uri in text
    assert "only images pushed after the replication rule exists" in text
    assert "streamflix-dr deploy --env dev" in text
    assert result.to_dict()["next_steps"] == list(result.next_steps)


def test_image_in_one_region_only_keeps_the_gate_closed(
    env: Environment, timeouts: Timeouts, out_dir: Path
) -> None:
    registry = _Registry()
    factory = _factory(registry)
    _run(env, factory, timeouts, out_dir)
    registry.repos.add("streamflix-primary")  # pushed before replication existed: not copied
    result = _run(env, factory, timeouts, out_dir)
    assert _params(factory, PRIMARY)["AppImageAvailable"] == "false"
    assert result.image["present"] == {PRIMARY: True, DR: False}
    assert any(f"{DR}.amazonaws.com/streamflix-dr:v1" in line for line in result.next_steps)


def test_rerun_after_the_push_updates_both_stacks_with_the_image(
    env: Environment, timeouts: Timeouts, out_dir: Path
) -> None:
    registry = _Registry()
    factory = _factory(registry)
    _run(env, factory, timeouts, out_dir)
    registry.repos.update({"streamflix-primary", "streamflix-dr"})
    plans: list[Plan] = []
    result = deploy(
        env,
        factory,
        confirm=lambda p: plans.append(p) or True,
        timeouts=timeouts,
        outputs_dir=out_dir,
        template=_template(),
    )
    assert _params(factory, PRIMARY)["AppImageAvailable"] == "true"
    assert _params(factory, DR)["AppImageAvailable"] == "true"
    assert [(s.role.value, s.action) for s in result.stages][1:] == [
        ("primary", "updated"),
        ("dr", "updated"),
    ]
    assert not result.image_missing and result.next_steps == ()


def test_pin_alarm_name_reaches_the_primary(env: Environment, timeouts: Timeouts, out_dir: Path) -> None:
    factory = _factory(_Registry())
    _run(env, factory, timeouts, out_dir)
    assert _params(factory, PRIMARY)["DrFailoverPinAlarmName"] == "streamflix-failover-pin-dev"


def test_a_missing_image_never_takes_running_services_to_zero(
    env: Environment, timeouts: Timeouts, out_dir: Path
) -> None:
    import pytest  # noqa: PLC0415

    from streamflix_dr.errors import ConfigError  # noqa: PLC0415

    registry = _Registry()
    factory = _factory(registry)
    _run(env, factory, timeouts, out_dir)
    registry.repos.update({"streamflix-primary", "streamflix-dr"})
    _run(env, factory, timeouts, out_dir)  # services started
    registry.repos.clear()  # e.g. a new ImageTag not pushed yet
    with pytest.raises(ConfigError, match="would stop it") as info:
        _run(env, factory, timeouts, out_dir)
    assert "docker push" in (info.value.fix or "")
    assert _params(factory, PRIMARY)["AppImageAvailable"] == "true"
