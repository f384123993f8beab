"""The DR drill: deploy both regions, write data on the primary, check readiness, fail the primary
region, fail over with the latency model on, check the DR region serves and what data survived,
tear down, and report (JSON, Markdown, SVG, history line).

The data plane (rows, files, cache keys, the region outage) exists only in the project's emulator,
so a drill needs an emulator endpoint; on AWS the equivalent is a game day with ``failover``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.constants import Output, Param
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
    rows: int = 20
    files: int = 10
    keys: int = 10
    teardown: bool = True
    poll_interval: float = 0.05
    # Real seconds between the last writes and the outage: RDS and Redis replicate within it (the
    # emulator's lags are about a second), EFS (which syncs every minute or so) does not: the drill
    # shows each store's RPO. Real time, not the emulator's clock offset, so that timestamps the
    # emulator returns and this machine's clock agree when RPO is measured.
    settle_seconds: float = 1.5


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
            "a drill needs the emulator's data plane (rows, files, keys, region outage).",
            fix="run `streamflix-dr drill --emulator`; on AWS, run a game day with `failover`",
        )
    from streamflix_dr_emulator.client import DataPlaneClient, DataPlaneError  # noqa: PLC0415

    dp = DataPlaneClient(endpoint_url)
    started = time.time()
    errors: list[str] = []
    progress(f"deploying {env.name} to {env.primary_region} and {env.dr_region}")
    t0 = time.monotonic()
    first = deployer(env, factory, opts)
    resolved = resolve(factory, env)
    # As an operator would: the first deploy leaves the services at 0 tasks until the image is in both
    # regions; push it to the primary (ECR replicates it), then deploy again to start the services.
    publish_image(factory, env, resolved.primary_outputs or {}, resolved.dr_outputs, progress)
    image = getattr(first, "image", None) or {}
    if image.get("gated") and not image.get("available"):
        progress("image published: deploying again so the services start (AppImageAvailable=true)")
        second = deployer(env, factory, opts)
        if getattr(second, "image_missing", False):
            progress("the image is still missing in a region: " + "; ".join(second.next_steps[:1]))
        resolved = resolve(factory, env)
    deploy_seconds = time.monotonic() - t0
    topo = resolved.topology
    progress(f"deployed in {deploy_seconds:.1f} s; writing data on the primary")

    written = _write_data(dp, topo, opts, DataPlaneError, progress)
    progress("checking readiness")
    readiness = run_readiness(factory, readiness_target(env, resolved.dr_outputs), now=time.time())
    for f in readiness.failed:
        progress(f"readiness {f.check_id} {f.resource}: {f.message}")

    progress(f"failing {env.primary_region}")
    dp.fail_region(env.primary_region)
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
    progress(f"failing over (latency model on, {opts.time_scale:.0f} AWS seconds per drill second)")
    result = runner.run()
    if result.not_serving:
        # The honest outcome until tasks really register with the DR target group: the failover ran,
        # the DR region does not serve, and the RTO is not met.
        errors.append(f"not serving: {result.error}")
        progress(f"the DR region does not serve, RTO not met: {result.error}")
    elif not result.succeeded:
        errors.append(f"failover: {result.error}")

    survived = _check_data(dp, topo, written, DataPlaneError)
    data = {
        store: {
            "written": len(written[store]),
            "survived": survived[store]["read"],
            "writable_after": survived[store]["writable"],
        }
        for store in written
    }
    for store, d in data.items():
        progress(
            f"{store}: {d['survived']}/{d['written']} survived, writable afterwards: {d['writable_after']}"
        )
    if (result.succeeded or result.not_serving) and not all(
        d["writable_after"] for s, d in data.items() if s != "redis" or topo.global_datastore_id
    ):
        errors.append("the DR region does not accept writes on every data store after the failover")

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
    doc = build_report(
        result,
        kind="drill",
        environment=env.name,
        rto_target_seconds=env.rto_target_seconds,
        readiness=readiness.to_dict(),
        extra={
            "data": data,
            "teardown": teardown,
            "deploy_seconds": round(deploy_seconds, 2),
            "drill_seconds": round(time.time() - started, 2),
            "drill_errors": errors,
            "not_serving": result.not_serving,
        },
    )
    if errors:
        doc["result"] = "failed"
        doc["error"] = "; ".join(errors)
    folder = opts.reports_dir / "drills" / result.operation_id
    paths = write_report(doc, folder)
    doc["report_path"] = str(paths["markdown"])
    append_history(doc, opts.reports_dir / "history.jsonl")
    return doc


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


def _write_data(
    dp: Any, topo: Any, opts: DrillOptions, dp_error: type[Exception], progress: Callable[[str], None]
) -> dict[str, list[str]]:
    """Write rows, files and keys on the primary: one batch before a sync, one just before the outage."""
    written: dict[str, list[str]] = {"rds": [], "efs": [], "redis": []}
    src = topo.source_region
    db, fs, rg = topo.source_db_instance_id, topo.source_file_system_id, topo.source_redis_group_id
    for batch in ("a", "b"):
        for i in range(opts.rows // 2):
            row_id = f"{batch}{i}"
            if db and _try(
                functools.partial(
                    dp.insert_row, src, db, "titles", {"id": row_id, "name": f"title {row_id}"}
                ),
                dp_error,
                progress,
                "insert row",
            ):
                written["rds"].append(row_id)
        for i in range(opts.files // 2):
            path = f"/media/{batch}{i}.txt"
            if fs and _try(
                functools.partial(dp.write_file, src, fs, path, f"content {path}"),
                dp_error,
                progress,
                "write file",
            ):
                written["efs"].append(path)
        for i in range(opts.keys // 2):
            key = f"session:{batch}{i}"
            if rg and _try(functools.partial(dp.set_key, src, rg, key, "v"), dp_error, progress, "set key"):
                written["redis"].append(key)
        if batch == "a":
            dp.sync()
    time.sleep(opts.settle_seconds)
    return written


def _try(
    fn: Callable[[], Any], dp_error: type[Exception], progress: Callable[[str], None], what: str
) -> bool:
    try:
        fn()
        return True
    except dp_error as e:
        progress(f"could not {what}: {e}")
        return False


def _check_data(
    dp: Any, topo: Any, written: dict[str, list[str]], dp_error: type[Exception]
) -> dict[str, Any]:
    """What the DR side holds of what was written, and whether it now takes writes."""
    dst = topo.target_region
    out: dict[str, Any] = {}
    db, fs, rg = topo.target_db_instance_id, topo.target_file_system_id, topo.target_redis_group_id
    try:
        ids = {str(r.get("id")) for r in dp.select_rows(dst, db, "titles")} if db else set()
    except dp_error:
        ids = set()
    out["rds"] = {
        "read": sum(1 for r in written["rds"] if r in ids),
        "writable": bool(db) and _ok(lambda: dp.insert_row(dst, db, "titles", {"id": "after"}), dp_error),
    }
    try:
        files = dp.list_files(dst, fs) if fs else {}
    except dp_error:
        files = {}
    out["efs"] = {
        "read": sum(1 for p in written["efs"] if p in files or p.lstrip("/") in files),
        "writable": bool(fs) and _ok(lambda: dp.write_file(dst, fs, "/after.txt", "x"), dp_error),
    }
    got = 0
    for k in written["redis"]:
        with contextlib.suppress(dp_error):
            got += dp.get_key(dst, rg, k) is not None
    out["redis"] = {
        "read": got,
        "writable": bool(rg) and _ok(lambda: dp.set_key(dst, rg, "after", "x"), dp_error),
    }
    return out


def _ok(fn: Callable[[], Any], dp_error: type[Exception]) -> bool:
    try:
        fn()
        return True
    except dp_error as e:
        log.info("write refused: %s", e)
        return False
