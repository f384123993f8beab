"""Deploy both regions once per session, through the same core the CLI uses, then let tests look.

Targets:
- default: the embedded emulator (``streamflix_dr_emulator.server.running()``), deployed by ``deploy()``
  with environment ``dev`` into a temporary outputs folder;
- ``STREAMFLIX_DR_LIVE=1``: real AWS through the standard credential chain (``AWS_PROFILE`` etc.). Nothing
  is deployed or destroyed by the suite: it reads the outputs files a real ``streamflix-dr deploy`` wrote
  (``STREAMFLIX_DR_OUTPUTS_DIR``, default ``cfn-outputs``) and checks the stacks they name. Tests that need
  the emulator (fault injection, destroy) are skipped there with the reason shown.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

# --import-mode=importlib does not put test folders on sys.path; the helpers are shared by these tests.
sys.path.insert(0, str(Path(__file__).parent))


from integration_support import ENV_NAME, LIVE, Deployment, emulator_timeouts, factory_for

from streamflix_dr.config import load_environment, parse_environment
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.template import load_template


def _install_speedups() -> None:
    """The process-wide test speed-ups of tests/speedups.py (no behaviour under test changes)."""
    import importlib.util  # noqa: PLC0415

    path = Path(__file__).resolve().parents[1] / "speedups.py"
    spec = importlib.util.spec_from_file_location("streamflix_dr_test_speedups", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


_install_speedups()


@pytest.fixture(scope="session")
def emulator_endpoint() -> Iterator[str | None]:
    if LIVE:
        yield None
        return
    from streamflix_dr_emulator import server  # noqa: PLC0415

    with server.running() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def target(emulator_endpoint: str | None, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The target without the main deployment: for tests that deploy small templates of their own."""
    return Deployment(
        load_environment(ENV_NAME),
        factory_for(emulator_endpoint),
        load_template(),
        tmp_path_factory.mktemp("target-outputs"),
        emulator_endpoint,
    )


@pytest.fixture(scope="session")
def deployment(emulator_endpoint: str | None, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    env = load_environment(ENV_NAME)
    factory = factory_for(emulator_endpoint)
    template = load_template()
    if LIVE:
        outputs_dir = Path(os.environ.get("STREAMFLIX_DR_OUTPUTS_DIR", "cfn-outputs"))
        if not (outputs_dir / "flat-outputs.json").is_file():
            pytest.skip(
                f"STREAMFLIX_DR_LIVE=1 but {outputs_dir}/flat-outputs.json is missing: run "
                f"`streamflix-dr deploy --env {ENV_NAME}` first"
            )
        return Deployment(env, factory, template, outputs_dir, None)
    outputs_dir = tmp_path_factory.mktemp("cfn-outputs")
    dep = Deployment(env, factory, template, outputs_dir, emulator_endpoint)
    started = time.monotonic()
    dep.result = deploy(
        env,
        factory,
        confirm=lambda _p: True,
        on_event=dep.events.append,
        timeouts=emulator_timeouts(),
        outputs_dir=outputs_dir,
        template=template,
    )
    _start_services(dep)
    dep.seconds = time.monotonic() - started
    return dep


@pytest.fixture(scope="session")
def deployment_dns_gds(emulator_endpoint: str | None, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A second environment: ``dev`` + DNS failover (zone, certificates in both regions) + Global Datastore.

    It exercises what ``dev`` leaves off: HTTPS listeners, the health check, the PRIMARY/SECONDARY records,
    the global datastore and the Redis secondary. Emulator only: on AWS it would need a real zone and certs.
    """
    if LIVE:
        pytest.skip("the DNS + Global Datastore variant needs a hosted zone and certificates: emulator only")
    factory = factory_for(emulator_endpoint)
    domain = "watch.streamflix.example"
    # Real zone ids start with "Z" (config checks that); moto draws them at random, so draw until one does.
    r53 = factory.client("route53", "us-east-1")
    zone = ""
    for attempt in range(500):
        created = r53.create_hosted_zone(Name="streamflix.example", CallerReference=f"sfdr-it-{attempt}")
        zone = created["HostedZone"]["Id"].rsplit("/", 1)[-1]
        if zone.startswith("Z"):
            break
        r53.delete_hosted_zone(Id=zone)
    assert zone.startswith("Z"), "the emulator never produced a Z... hosted zone id"
    doc = yaml.safe_load(
        (Path(__file__).parents[2] / "environments" / "dev.yaml").read_text(encoding="utf-8")
    )
    doc.update(
        suffix="dnsgds",
        domain_name=domain,
        hosted_zone_id=zone,
        global_datastore=True,
        alarm_email="sre@example.com",
    )
    for role in ("primary", "dr"):
        region = doc["regions"][role]["region"]
        doc["regions"][role]["certificate_arn"] = factory.client("acm", region).request_certificate(
            DomainName=domain, ValidationMethod="DNS"
        )["CertificateArn"]
    env = parse_environment(doc, "tests/integration: dev + DNS + Global Datastore")
    template = load_template()
    outputs_dir = tmp_path_factory.mktemp("cfn-outputs-dns-gds")
    dep = Deployment(env, factory, template, outputs_dir, emulator_endpoint)
    started = time.monotonic()
    dep.result = deploy(
        env,
        factory,
        confirm=lambda _p: True,
        on_event=dep.events.append,
        timeouts=emulator_timeouts(),
        outputs_dir=outputs_dir,
        template=template,
    )
    _start_services(dep)
    dep.seconds = time.monotonic() - started
    return dep


def _start_services(dep: Deployment) -> None:
    """As an operator does after the first deploy: push the image (ECR replicates it), deploy again.

    The first deploy leaves the services at 0 tasks (AppImageAvailable=false) because no image is in
    the registries yet; the second finds it in both regions and starts them.
    """
    from streamflix_dr.drill import publish_image  # noqa: PLC0415
    from streamflix_dr.runbook.session import resolve  # noqa: PLC0415

    dep.first_result = dep.result
    image = getattr(dep.result, "image", None) or {}
    if not image or image.get("available"):
        return
    resolved = resolve(dep.factory, dep.env)
    publish_image(dep.factory, dep.env, resolved.primary_outputs or {}, resolved.dr_outputs, lambda _m: None)
    dep.result = deploy(
        dep.env,
        dep.factory,
        confirm=lambda _p: True,
        on_event=dep.events.append,
        timeouts=emulator_timeouts(),
        outputs_dir=dep.outputs_dir,
        template=dep.template,
    )
    assert dep.result.image["available"], dep.result.next_steps
