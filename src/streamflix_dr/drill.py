"""The DR drill: deploy both regions, put load on the primary's load balancer, check readiness, fail the
primary region (its APIs and its engines at one instant), fail over with the latency model on, check the DR
region serves, read everything back through the DR load balancer, tear down, and report (JSON, Markdown,
SVG, history line).

The region outage and the real engines behind the load balancers exist only in the project's emulator, so a
drill needs an emulator endpoint (``streamflix-dr drill --emulator`` switches its engines on); on AWS the
equivalent is a game day with ``failover``. The drill reaches the emulator over HTTP only (its
``/_streamflix/...`` endpoints); what it measures comes from requests a client made (``drill_load``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.constants import Output, Param, StepId
from streamflix_dr.drill_load import LoadClient
from streamflix_dr.errors import EmulatorError, StreamflixDrError
from streamflix_dr.readiness.core import run_readiness
from streamflix_dr.report.model import build_report
from streamflix_dr.report.render import append_history, write_report
from streamflix_dr.runbook.latency import Clock, Latency, Timeouts, load_model
from streamflix_dr.runbook.runner import RunEvent
from streamflix_dr.runbook.session import build_runner, readiness_target, resolve

log = logging.getLogger(__name__)


@dataclass
class DrillOptions:
    """How the drill runs."""

    time_scale: float = 60.0  # AWS seconds per drill second (60: one minute becomes one second)
    reports_dir: Path = Path("reports")
    teardown: bool = True
    poll_interval: float = 0.05
    # The load: one write per store (title, session, media file) and one read every ``load_interval``
    # real seconds, bounded in time and count; it starts ``load_before_seconds`` before the outage (an
    # EFS sync happens half way, as the periodic sync would) and goes on ``load_after_seconds`` after the
    # failover (longer when the DR region has not yet taken a write, up to ``load_max_seconds`` in all).
    load_interval: float = 0.2
    load_before_seconds: float = 3.0
    load_after_seconds: float = 3.0
    load_max_seconds: float = 120.0
    # How long the primary's load balancer may take to answer before the load starts.
    serve_wait_seconds: float = 60.0
    # The whole cycle: after the failover, fail back (re-protect, cut back under load, re-protect the
    # original direction) and fail over a second time, which proves the re-protection worked.
    failback: bool = True
    # Re-protection is hours of AWS time (a cross-region replica build): it runs at an hour per drill
    # second; the cut-back window, which the load measures, at ``failback_time_scale``.
    reprotect_time_scale: float = 3600.0
    failback_time_scale: float = 120.0


Deployer = Callable[[Any, Any, DrillOptions], Any]


def deploy_stacks(env: Any, factory: Any, opts: DrillOptions) -> Any:
    """The real deploy: both regions through the orchestrator, as ``streamflix-dr deploy`` does."""
    from streamflix_dr.deploy.orchestrator import Timeouts as DeployTimeouts  # noqa: PLC0415 - CLI-side
    from streamflix_dr.deploy.orchestrator import deploy  # noqa: PLC0415
    from streamflix_dr.deploy.stacks import Timing  # noqa: PLC0415

    return deploy(
        env,
        factory,
        confirm=lambda _p: True,
        timeouts=DeployTimeouts(timing=Timing(poll_interval=opts.poll_interval)),
        outputs_dir=opts.reports_dir / "drill-cfn-outputs",
    )


def destroy_stacks(env: Any, factory: Any, opts: DrillOptions) -> None:
    """The real teardown, as ``streamflix-dr destroy`` does."""
    from streamflix_dr.deploy.destroy import destroy  # noqa: PLC0415 - CLI-side
    from streamflix_dr.deploy.orchestrator import Timeouts as DeployTimeouts  # noqa: PLC0415
    from streamflix_dr.deploy.stacks import Timing  # noqa: PLC0415

    destroy(
        env,
        factory,
        confirm=lambda _p: True,
        timeouts=DeployTimeouts(timing=Timing(poll_interval=opts.poll_interval)),
    )


def run_drill(
    env: Any,
    factory: Any,
    endpoint_url: str | None,
    *,
    options: DrillOptions | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    on_event: Callable[[RunEvent], None] | None = None,
    deployer: Deployer = deploy_stacks,
    destroyer: Deployer = destroy_stacks,
) -> dict[str, Any]:
    """Run a drill against an emulator endpoint and return the report document (also written to disk).

    ``deployer``/``destroyer`` default to the real deploy and teardown; tests may pass their own.
    Raises ``EmulatorError`` without an endpoint, and whatever the deploy raises.
    """
    opts = options or DrillOptions()
    if not endpoint_url:
        raise EmulatorError(
            "a drill needs the emulator's engines and its region outage.",
            fix="run `streamflix-dr drill --emulator`; on AWS, run a game day with `failover`",
        )
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    dp = DataPlaneClient(endpoint_url)
    started = time.time()
    errors: list[str] = []
    progress(f"deploying {env.name} to {env.primary_region} and {env.dr_region}")
    t0 = time.monotonic()
    first_deploy = deployer(env, factory, opts)
    resolved = resolve(factory, env)
    # As an operator would: the first deploy leaves the services at 0 tasks until the image is in both
    # regions; push it to the primary (ECR replicates it), then deploy again to start the services.
    publish_image(factory, env, resolved.primary_outputs or {}, resolved.dr_outputs, progress)
    image = getattr(first_deploy, "image", None) or {}
    if image.get("gated") and not image.get("available"):
        progress("image published: deploying again so the services start (AppImageAvailable=true)")
        second_deploy = deployer(env, factory, opts)
        if getattr(second_deploy, "image_missing", False):
            progress("the image is still missing in a region: " + "; ".join(second_deploy.next_steps[:1]))
        resolved = resolve(factory, env)
    deploy_seconds = time.monotonic() - t0
    primary_lb = load_balancer(
        endpoint_url, (resolved.primary_outputs or {}).get(Output.LOAD_BALANCER_DNS_NAME)
    )
    dr_lb = load_balancer(endpoint_url, resolved.dr_outputs.get(Output.LOAD_BALANCER_DNS_NAME))
    progress(f"deployed in {deploy_seconds:.1f} s; waiting for {primary_lb['dnsName']} to serve")
    cycle = _Cycle(env, factory, dp, opts, primary_lb, dr_lb, progress, on_event)
    first = _failover_under_load(cycle, resolved, label="failover")
    errors.extend(first.errors)
    result, readiness = first.result, first.readiness

    failback: dict[str, Any] | None = None
    second: dict[str, Any] | None = None
    if opts.failback and result.succeeded and not first.errors:
        failback = _failback_under_load(cycle)
        errors.extend(f"failback: {e}" for e in failback.pop("errors"))
        if failback["result"] == "succeeded":
            again = _failover_under_load(cycle, resolve(factory, env), label="second failover")
            errors.extend(f"second failover: {e}" for e in again.errors)
            second = again.summary()
        else:
            second = {"result": "not run", "why": "the failback did not succeed"}
    elif opts.failback:
        failback = {"result": "not run", "why": "the first failover did not succeed"}
    engines = _engines(endpoint_url)

    teardown = "skipped"
    if opts.teardown:
        progress("tearing down")
        dp.restore_region(env.primary_region)
        try:
            destroyer(env, factory, opts)
            teardown = "done"
        except StreamflixDrError as e:
            teardown = f"failed: {e}"
            errors.append(f"teardown: {e}")
    extra: dict[str, Any] = {
        "data": first.data,
        "load": first.figures,
        "unavailable_seconds": first.unavailable,
        "unavailable_seconds_by_store": first.unavailable_by_store,
        "fence": first.fence,
        "engines": engines,
        "failed_at": round(first.failed_at, 3),
        "teardown": teardown,
        "deploy_seconds": round(deploy_seconds, 2),
        "drill_errors": errors,
        "not_serving": result.not_serving,
    }
    if failback is not None:
        extra["failback"] = failback
        extra["second_failover"] = second
    extra["drill_seconds"] = round(time.time() - started, 2)
    doc = build_report(
        result,
        kind="drill",
        environment=env.name,
        rto_target_seconds=env.rto_target_seconds,
        readiness=readiness.to_dict(),
        extra=extra,
    )
    if errors:
        doc["result"] = "failed"
        doc["error"] = "; ".join(errors)
    folder = opts.reports_dir / "drills" / result.operation_id
    paths = write_report(doc, folder)
    doc["report_path"] = str(paths["markdown"])
    append_history(doc, opts.reports_dir / "history.jsonl")
    return doc


@dataclass
class _Cycle:
    """What every part of a drill's cycle works with: the environment, its clients, the emulator's data
    plane, the options, both load balancers' local addresses, and where progress goes."""

    env: Any
    factory: Any
    dp: Any
    opts: DrillOptions
    primary_lb: dict[str, Any]
    dr_lb: dict[str, Any]
    progress: Callable[[str], None]
    on_event: Callable[[RunEvent], None] | None


@dataclass
class FailoverRun:
    """One failover under load: the runner's result and what the client measured."""

    label: str
    result: Any
    readiness: Any
    failed_at: float
    figures: dict[str, dict[str, Any]]
    unavailable: dict[str, float | None]
    unavailable_by_store: dict[str, dict[str, float | None]]
    fence: dict[str, Any]
    data: dict[str, dict[str, Any]]
    errors: list[str]

    def summary(self) -> dict[str, Any]:
        """The second failover's entry in the report: enough to see it worked and what it measured."""
        r = self.result
        return {
            "result": "succeeded" if r.succeeded and not self.errors else "failed",
            "operation_id": r.operation_id,
            "error": "; ".join(self.errors) or r.error,
            "readiness": {
                "ready": self.readiness.ready,
                "failed": [f.check_id for f in self.readiness.failed],
            },
            "rto_modelled_seconds": _modelled_rto(r),
            "load": self.figures,
            "unavailable_seconds": self.unavailable,
            "fence": self.fence,
        }


def _modelled_rto(result: Any) -> float | None:
    from streamflix_dr.report.model import build_report as _build  # noqa: PLC0415 - one figure

    try:
        return _build(result, kind="failover", environment="", rto_target_seconds=0).get(
            "rto_modelled_seconds"
        )
    except (KeyError, TypeError, ValueError):
        return None


def _failover_under_load(c: _Cycle, resolved: Any, *, label: str) -> FailoverRun:
    """Load through the primary's load balancer, readiness, the primary region failed, the failover with
    the latency model on, the load carried on through DR, then everything read back through DR."""
    env, factory, dp, opts = c.env, c.factory, c.dp, c.opts
    primary_lb, dr_lb, progress, on_event = c.primary_lb, c.dr_lb, c.progress, c.on_event
    errors: list[str] = []
    # Clients (and verify-serving) reach the DR load balancer at its local address, with the run's CA.
    topo = resolved.topology.with_overrides(app_url=dr_lb["url"], app_ca_file=dr_lb.get("caFile") or "")
    if not wait_serving(primary_lb["url"], primary_lb.get("caFile"), opts.serve_wait_seconds):
        raise EmulatorError(
            f"{env.primary_region}: the primary load balancer {primary_lb['dnsName']} "
            f"({primary_lb['url']}) does not answer /health within "
            f"{opts.serve_wait_seconds:.0f} s: no load can be written ({label}).",
            fix="look at the ECS service's events and the app tasks' logs (GET /_streamflix/ecs-tasks)",
        )
    load = LoadClient(
        primary_lb["url"],
        dr_lb["url"],
        ca_file=primary_lb.get("caFile"),
        interval=opts.load_interval,
        max_seconds=opts.load_max_seconds,
    )
    progress(f"{label}: writing titles, sessions and media through {primary_lb['dnsName']}")
    load.start()
    try:
        time.sleep(opts.load_before_seconds / 2)
        # The periodic EFS sync (every minute or so on AWS): what is written after it is the EFS RPO.
        dp.sync()
        progress(f"{label}: checking readiness")
        readiness = run_readiness(factory, readiness_target(env, resolved.dr_outputs), now=time.time())
        for f in readiness.failed:
            progress(f"readiness {f.check_id} {f.resource}: {f.message}")
        time.sleep(opts.load_before_seconds / 2)

        progress(f"{label}: failing {env.primary_region} (its APIs and its engines, at one instant)")
        failed_at = time.time()
        dp.fail_region(env.primary_region)
        # The outage takes effect at one instant between the call and its answer: a write sent in
        # between may still be acknowledged. The fence is judged from when the region is surely down.
        down_at = time.time()
        latency = Latency(actions=load_model(), scale=1.0 / opts.time_scale, enabled=True, sleep=time.sleep)
        runner = build_runner(
            factory,
            topo,
            journal_dir=opts.reports_dir / "journal",
            latency=latency,
            clock=Clock(),
            timeouts=Timeouts(
                fence_seconds=5.0, waiter_delay=max(0.05, opts.poll_interval), waiter_max_attempts=200
            ),
            on_event=on_event,
            heartbeat_seconds=5.0,
        )
        progress(f"{label} (latency model on, {opts.time_scale:.0f} AWS seconds per drill second)")
        result = runner.run()
        _keep_loading(load, result.ended_at, opts)
    finally:
        load.stop()
    if result.not_serving:
        errors.append(f"not serving: {result.error}")
        progress(f"{label}: the DR region does not serve, RTO not met: {result.error}")
    elif not result.succeeded:
        errors.append(f"{label}: {result.error}")

    progress(f"{label}: reading everything back through {dr_lb['dnsName']}")
    figures = load.read_back(failed_at)
    unavailable = load.unavailable_seconds(failed_at)
    unavailable_by_store = load.unavailable_by_store(failed_at)
    fence = _fence(load, result, down_at, env.primary_region)
    dr_writes = load.dr_acknowledged_after(result.ended_at)
    for store, d in figures.items():
        progress(
            f"{label}: {store}: {d['found']}/{d['acknowledged']} acknowledged writes found, {d['lost']} "
            f"lost, RPO {d['rpo_seconds']} s"
        )
    progress(
        f"{label}: unavailable as the client saw it: read {unavailable['read']} s, "
        f"write {unavailable['write']} s"
    )
    progress(f"{label}: fence: {fence['note']}")
    if not fence["held"]:
        errors.append(f"fence: {fence['note']}")
    data = {
        store: {
            "written": d["acknowledged"],
            "survived": d["found"],
            "writable_after": dr_writes.get(store, 0) > 0,
        }
        for store, d in figures.items()
    }
    if (result.succeeded or result.not_serving) and not all(
        d["writable_after"] for s, d in data.items() if s != "redis" or topo.global_datastore_id
    ):
        errors.append("the DR region does not accept writes on every data store after the failover")
    return FailoverRun(
        label, result, readiness, failed_at, figures, unavailable, unavailable_by_store, fence, data, errors
    )


def _failback_under_load(c: _Cycle) -> dict[str, Any]:
    """The failback as an operator runs it: ``failback --phase reprotect`` once the primary region is
    back, ``--phase cutback`` in the window (under load: a client writing through the active (DR) load
    balancer, following the DNS switch to the primary's), ``--phase reprotect-original``. Every
    acknowledged write is then read back through the primary's load balancer."""
    env, factory, dp, opts = c.env, c.factory, c.dp, c.opts
    primary_lb, dr_lb, progress, on_event = c.primary_lb, c.dr_lb, c.progress, c.on_event
    from streamflix_dr.failback.base import FailbackStepId, Phase  # noqa: PLC0415 - the drill's failback half
    from streamflix_dr.failback.report import build_failback_report  # noqa: PLC0415
    from streamflix_dr.failback.session import build_failback_runner, resolve_failback  # noqa: PLC0415

    progress(f"failback: {env.primary_region} recovers (its APIs and its engines)")
    dp.restore_region(env.primary_region)
    topo: Any = resolve_failback(factory, env).with_overrides(
        app_url=primary_lb["url"], app_ca_file=primary_lb.get("caFile") or ""
    )
    timeouts = Timeouts(
        fence_seconds=5.0, waiter_delay=max(0.05, opts.poll_interval), waiter_max_attempts=400
    )
    docs: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}
    errors: list[str] = []
    load: LoadClient | None = None
    fence_at = 0.0
    for phase, scale in (
        (Phase.REPROTECT, opts.reprotect_time_scale),
        (Phase.CUTBACK, opts.failback_time_scale),
        (Phase.REPROTECT_ORIGINAL, opts.reprotect_time_scale),
    ):
        runner = build_failback_runner(
            factory,
            topo,
            [phase],
            journal_dir=opts.reports_dir / "journal",
            max_lag_seconds=env.max_replica_lag_seconds,
            latency=Latency(actions=load_model(), scale=1.0 / scale, enabled=True, sleep=time.sleep),
            clock=Clock(),
            timeouts=timeouts,
            on_event=on_event,
        )
        if phase is Phase.CUTBACK:
            # Writes go to the active region (DR) until it is fenced; a refused write is retried on the
            # primary's load balancer; once DNS has moved, the client writes there first.
            load = LoadClient(
                dr_lb["url"],
                primary_lb["url"],
                ca_file=dr_lb.get("caFile"),
                interval=opts.load_interval,
                max_seconds=opts.load_max_seconds,
            )
            runner.on_event = _cutback_events(dp, load, on_event)
            progress(f"failback: writing titles, sessions and media through {dr_lb['dnsName']}")
            load.start()
            time.sleep(opts.load_before_seconds / 2)
            fence_at = time.time()
        progress(
            f"failback --phase {phase.value} (latency model on, {scale:.0f} AWS seconds per drill second)"
        )
        try:
            result = runner.run()
            if load is not None and phase is Phase.CUTBACK and result.succeeded:
                _keep_loading(load, result.ended_at, opts)
        finally:
            if load is not None and phase is Phase.CUTBACK:
                load.stop()
        results[phase.value] = result
        docs[phase.value] = build_failback_report(result, environment=env.name)
        if not result.succeeded:
            errors.append(f"{phase.value}: {result.error}")
            break
    lost: dict[str, int] = {}
    figures: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, float | None] = {}
    if load is not None:
        progress(f"failback: reading everything back through {primary_lb['dnsName']}")
        figures = load.read_back(fence_at)
        lost = {store: int(d["lost"]) for store, d in figures.items()}
        unavailable = load.unavailable_seconds(fence_at)
        for store, d in figures.items():
            progress(
                f"failback: {store}: {d['found']}/{d['acknowledged']} acknowledged writes found, "
                f"{d['lost']} lost"
            )
        # Without a Global Datastore the cache is not replicated in either direction: sessions written
        # in the DR region stay there (users sign in again), as after the failover.
        # The same when the failover could only detach the DR member (the primary region was down): a
        # standalone group cannot rejoin with its data, so the re-protect reports the cache as not
        # carried back (metric cache_carried_back 0).
        rec = results[Phase.REPROTECT.value].step(FailbackStepId.REPROTECT_REDIS.value) if results else None
        carried = not (rec is not None and rec.metrics.get("cache_carried_back") == 0.0)
        must_keep = {s: n for s, n in lost.items() if s != "redis" or (topo.global_datastore_id and carried)}
        if any(must_keep.values()):
            errors.append(f"acknowledged writes lost in the failback: {must_keep}")
        primary_writes = (
            load.dr_acknowledged_after(results[Phase.CUTBACK.value].ended_at)
            if Phase.CUTBACK.value in results
            else {}
        )
        if primary_writes and not all(primary_writes.values()):
            errors.append(
                f"{env.primary_region} did not accept writes on every store after the cut-back: "
                f"{primary_writes}"
            )
    cut = docs.get(Phase.CUTBACK.value, {})
    phases = {name: p for d in docs.values() for name, p in d.get("phases", {}).items()}
    reprotect = docs.get(Phase.REPROTECT.value, {}).get("reprotect_seconds")
    original = phases.get(Phase.REPROTECT_ORIGINAL.value, {}).get("modelled_seconds")
    out: dict[str, Any] = {
        "result": "succeeded" if not errors and len(results) == len(Phase) else "failed",
        "error": "; ".join(errors) or None,
        "operation_ids": {p: r.operation_id for p, r in results.items()},
        "phases": phases,
        "rto_modelled_seconds": cut.get("rto_modelled_seconds"),
        "write_unavailable_seconds": cut.get("write_unavailable_seconds"),
        "write_unavailable_client_seconds": unavailable.get("write"),
        "read_unavailable_client_seconds": unavailable.get("read"),
        "lost": lost,
        "lost_seconds_at_promotion": cut.get("lost", {}),
        "load": figures,
        "reprotect_seconds": reprotect,
        "reprotect_original_seconds": original,
        "warnings": [w for d in docs.values() for w in d.get("warnings", [])],
        "errors": errors,
    }
    progress(
        f"failback {out['result']}: cut-back {out['rto_modelled_seconds']} s modelled, writes unavailable "
        f"{out['write_unavailable_seconds']} s modelled ({out['write_unavailable_client_seconds']} s as the "
        f"client saw it), lost {lost}, re-protect {reprotect} s + {original} s modelled"
    )
    return out


def _cutback_events(
    dp: Any, load: LoadClient, on_event: Callable[[RunEvent], None] | None
) -> Callable[[RunEvent], None]:
    """What happens around the cut-back's steps on their own on AWS, compressed for the drill:

    * EFS syncs about once a minute (EFS UG: "most changes are replicated within a minute"): once the DR
      writers are fenced the drill asks the emulator for the next sync now; the EFS drain waits for it.
    * Clients follow DNS: once the DNS step has moved the record (or, without a domain, the operator
      has published the primary's URL), the load client sends to the primary's load balancer first."""
    from streamflix_dr.failback.base import FailbackStepId  # noqa: PLC0415
    from streamflix_dr.runbook.runner import EventKind  # noqa: PLC0415

    def handle(ev: RunEvent) -> None:
        if on_event is not None:
            on_event(ev)
        if ev.kind is not EventKind.STEP_FINISHED:
            return
        if ev.step == FailbackStepId.FENCE_DR.value:
            dp.sync()
        elif ev.step == FailbackStepId.SWITCH_DNS.value:
            load.follow_dns()

    return handle


# A minimal image manifest: what the release pipeline's push leaves in the registry (PutImage).
_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 2,
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    },
    "layers": [],
}


def publish_image(
    factory: Any,
    env: Any,
    primary_outputs: dict[str, str],
    dr_outputs: dict[str, str],
    progress: Callable[[str], None],
    *,
    replication_wait: float = 10.0,
) -> None:
    """Push the application image to the primary's repository, as a release would (after the primary
    stack, and with it the ECR replication rule, exists); ECR replicates it to the DR repository. If the
    copy does not appear, push to the DR repository too, as the deploy's instructions say."""
    repo = primary_outputs.get(Output.ECR_REPOSITORY_NAME)
    if not repo:
        progress("no primary ECR repository in the outputs: image not published")
        return
    from streamflix_dr.template import load_template  # noqa: PLC0415 - only the drill needs the template
    from streamflix_dr.template_model import parameter_defaults  # noqa: PLC0415

    tag = env.parameters.get(Param.IMAGE_TAG) or parameter_defaults(load_template())[Param.IMAGE_TAG]
    if not _has_tag(factory, env.primary_region, repo, tag):
        factory.client("ecr", env.primary_region).put_image(
            repositoryName=repo, imageManifest=json.dumps(_MANIFEST), imageTag=tag
        )
    progress(f"published image {repo}:{tag} in {env.primary_region}")
    dr_repo = dr_outputs.get(Output.ECR_REPOSITORY_NAME) or repo
    deadline = time.monotonic() + replication_wait
    while not _has_tag(factory, env.dr_region, dr_repo, tag):
        if time.monotonic() > deadline:
            factory.client("ecr", env.dr_region).put_image(
                repositoryName=dr_repo, imageManifest=json.dumps(_MANIFEST), imageTag=tag
            )
            progress(
                f"replication did not copy it within {replication_wait:.0f} s: pushed to {env.dr_region}"
            )
            return
        time.sleep(0.2)
    progress(f"ECR replicated {dr_repo}:{tag} to {env.dr_region}")


def _has_tag(factory: Any, region: str, repo: str, tag: str) -> bool:
    try:
        ids = factory.client("ecr", region).list_images(repositoryName=repo).get("imageIds") or []
    except ClientError:
        return False
    return any(i.get("imageTag") == tag for i in ids)


def load_balancer(endpoint_url: str, dns_name: str | None) -> dict[str, Any]:
    """The local address of a load balancer, from the emulator's ``GET /_streamflix/alb/<DNSName>``."""
    if not dns_name:
        raise EmulatorError(
            "no load balancer DNS name in the stack outputs (LoadBalancerDnsName).",
            fix="deploy both stacks with the current template and rerun",
        )
    answer = _get_json(f"{endpoint_url.rstrip('/')}/_streamflix/alb/{dns_name}")
    if not answer.get("url"):
        raise EmulatorError(
            f"the emulator has no listener for {dns_name}: {answer.get('message') or answer}.",
            fix="run the drill with the engines on (`streamflix-dr drill --emulator` switches them on)",
        )
    return answer


def wait_serving(url: str, ca_file: str | None, seconds: float) -> bool:
    """True once ``url``/health answers 200 (polls every half second for at most ``seconds``)."""
    import ssl  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https://") else None
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=5, context=context) as r:  # noqa: S310
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError, ValueError) as e:
            log.debug("not serving yet: %s", e)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def _get_json(url: str) -> dict[str, Any]:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - the emulator's own endpoint
            return dict(json.loads(r.read() or b"{}"))
    except urllib.error.HTTPError as e:
        try:
            return dict(json.loads(e.read() or b"{}"))
        except ValueError:
            return {"message": f"HTTP {e.code}"}
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise EmulatorError(f"{url}: the emulator does not answer ({e}).", fix="check the emulator") from e


def _engines(endpoint_url: str) -> dict[str, Any]:
    """Per store the engine and version, and the ECS services' desired vs real task processes."""
    base = endpoint_url.rstrip("/")
    answer = _get_json(f"{base}/_streamflix/engines")
    stores: dict[str, Any] = dict(answer.get("stores") or {})
    tasks = _get_json(f"{base}/_streamflix/ecs-tasks")
    stores["ecs"] = {
        "engine": "StreamFlix app processes",
        "services": [
            {
                "region": s.get("region"),
                "service": s.get("service"),
                "desired": s.get("desiredCount"),
                "real": s.get("realTasks"),
                "max_real": s.get("maxRealTasks"),
            }
            for s in tasks.get("services") or []
        ],
        "max_real_per_service": tasks.get("maxRealTasksPerService"),
    }
    return stores


def _keep_loading(load: LoadClient, failover_ended: float, opts: DrillOptions) -> None:
    """Go on writing after the failover: ``load_after_seconds``, and until the DR region has taken a write
    per store (bounded by the load's own time limit)."""
    deadline = time.monotonic() + opts.load_max_seconds
    time.sleep(opts.load_after_seconds)
    while time.monotonic() < deadline and load.running():
        if all(n > 0 for n in load.dr_acknowledged_after(failover_ended).values()):
            return
        time.sleep(0.2)


def _fence(load: LoadClient, result: Any, failed_at: float, region: str) -> dict[str, Any]:
    """After the fence step (or the failure, when the fence could not run), no write through the old
    primary's load balancer is acknowledged."""
    rec = result.step(StepId.FENCE_PRIMARY.value)
    status = getattr(getattr(rec, "status", None), "value", None) or "not run"
    after = rec.ended_at if rec is not None and rec.ended_at is not None and status == "done" else failed_at
    out = load.fence(after)
    out["fence_step"] = status
    since = "the fence step" if status == "done" else f"the failure of {region} (fence step: {status})"
    if out["acknowledged"]:
        out["note"] = (
            f"NOT held: {out['acknowledged']} of {out['writes_tried']} writes through the old primary's load "
            f"balancer were acknowledged after {since}"
        )
    elif out["writes_tried"] and out["no_answer"] == out["writes_tried"]:
        out["note"] = (
            f"held: {region} is down, its load balancer answered none of the {out['writes_tried']} writes "
            f"tried after {since}"
        )
    else:
        out["note"] = (
            f"held: none of the {out['writes_tried']} writes through the old primary after {since} "
            "was acknowledged"
        )
    return out
