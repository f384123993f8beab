"""Failback end to end on the emulator's real engines: the real deploy, a failover with the primary region
down, then the three failback phases as an operator runs them, each interrupted once by a kill and resumed
by the same command; the cut-back refused while the RDS replica has not replayed the DR writes; and destroy
from the failed-back state, which leaves nothing behind.

One environment for the module (a deploy costs tens of seconds on two cores); the tests run in order and
each starts from the state the one before left, as the phases do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from integration_support import emulator_timeouts, factory_for

from streamflix_dr.config import load_environment
from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.deploy.destroy import destroy
from streamflix_dr.deploy.orchestrator import deploy
from streamflix_dr.drill import load_balancer, publish_image
from streamflix_dr.failback.base import FailbackStepId, FailbackTopology, Phase
from streamflix_dr.failback.session import build_failback_runner, resolve_failback
from streamflix_dr.resources import environments_dir
from streamflix_dr.runbook.latency import Timeouts
from streamflix_dr.runbook.runner import RunResult
from streamflix_dr.runbook.session import build_runner, resolve

pytestmark = pytest.mark.integration

TIMEOUTS = Timeouts(fence_seconds=5.0, waiter_delay=0.05, waiter_max_attempts=200)


class Killed(BaseException):
    """The process dies (kill -9): nothing after the call runs, the journal keeps what it had."""


@dataclass
class Env:
    env: Any
    factory: Any
    endpoint: str
    tmp: Path
    primary_lb: dict[str, Any] = field(default_factory=dict)
    dr_lb: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(emulator_endpoint: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Engines on, both regions deployed and serving, failed over with the primary region down."""
    if emulator_endpoint is None:
        pytest.skip("failback end to end needs the emulator's engines and region outage")
    from streamflix_dr.cli import drill as drill_cli  # noqa: PLC0415
    from streamflix_dr_emulator import engines  # noqa: PLC0415
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415
    from streamflix_dr_emulator.engines import ecs_tasks  # noqa: PLC0415

    drill_cli.engines_on(60.0)
    tmp = tmp_path_factory.mktemp("failback")
    doc = yaml.safe_load((environments_dir() / "dev.yaml").read_text())
    doc.update(suffix=f"fb{uuid.uuid4().hex[:5]}", name="failback")
    (tmp / "env.yaml").write_text(yaml.safe_dump(doc))
    env = load_environment(str(tmp / "env.yaml"))
    factory = factory_for(emulator_endpoint)
    w = Env(env, factory, emulator_endpoint, tmp)
    try:
        _deploy(w)
        resolved = resolve(factory, env)
        w.primary_lb = load_balancer(
            emulator_endpoint, (resolved.primary_outputs or {})[Output.LOAD_BALANCER_DNS_NAME]
        )
        w.dr_lb = load_balancer(emulator_endpoint, resolved.dr_outputs[Output.LOAD_BALANCER_DNS_NAME])
        dp = DataPlaneClient(emulator_endpoint)
        dp.fail_region(env.primary_region)
        topo = resolved.topology.with_overrides(
            app_url=w.dr_lb["url"], app_ca_file=w.dr_lb.get("caFile") or ""
        )
        result = build_runner(factory, topo, journal_dir=tmp / "journal", timeouts=TIMEOUTS).run()
        assert result.succeeded, result.error
        dp.restore_region(env.primary_region)
        yield w
    finally:
        try:
            DataPlaneClient(emulator_endpoint).restore_region(env.primary_region)
            destroy(env, factory, confirm=lambda _p: True, timeouts=emulator_timeouts())
        except Exception:
            pass
        engines.shutdown_all()
        engines.enable(False)
        ecs_tasks.configure(time_scale=1.0)


def _deploy(w: Env) -> None:
    """As an operator: deploy, push the image (ECR replicates it), deploy again to start the services."""
    first = deploy(
        w.env, w.factory, confirm=lambda _p: True, timeouts=emulator_timeouts(), outputs_dir=w.tmp / "outputs"
    )
    resolved = resolve(w.factory, w.env)
    publish_image(w.factory, w.env, resolved.primary_outputs or {}, resolved.dr_outputs, lambda _m: None)
    if not first.image.get("available"):
        again = deploy(
            w.env,
            w.factory,
            confirm=lambda _p: True,
            timeouts=emulator_timeouts(),
            outputs_dir=w.tmp / "outputs",
        )
        assert again.image["available"], again.next_steps


def _topology(w: Env) -> FailbackTopology:
    topo = resolve_failback(w.factory, w.env)
    return topo.with_overrides(app_url=w.primary_lb["url"], app_ca_file=w.primary_lb.get("caFile") or "")


def _run(w: Env, phase: Phase, *, owner: str, break_lock: bool = False) -> RunResult:
    runner = build_failback_runner(
        w.factory, _topology(w), [phase], journal_dir=w.tmp / "journal", timeouts=TIMEOUTS, owner=owner
    )
    return runner.run(break_lock=break_lock)


def _kill_after(w: Env, region: str, service: str, operation: str) -> Any:
    """Kill the run right after ``operation`` reached AWS (its answer never heard)."""
    seen = {"n": 0}

    def hook(**_: Any) -> None:
        seen["n"] += 1
        if seen["n"] == 1:
            raise Killed

    client = w.factory.client(service, region)
    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, hook)
    return client, event, hook, seen


def _killed_then_resumed(w: Env, phase: Phase, region: str, service: str, operation: str) -> RunResult:
    client, event, hook, seen = _kill_after(w, region, service, operation)
    try:
        with pytest.raises(Killed):
            _run(w, phase, owner="first")
    finally:
        client.meta.events.unregister(event, hook)
    assert seen["n"] == 1, f"{operation} was never called in {phase.value}"
    # The operator makes sure the first run is dead, then reruns the same command with --break-lock.
    again = {"n": 0}

    def count(**_: Any) -> None:
        again["n"] += 1

    before = event.replace("after-call.", "before-call.", 1)
    client.meta.events.register(before, count)
    try:
        result = _run(w, phase, owner="second", break_lock=True)
    finally:
        client.meta.events.unregister(before, count)
    assert result.succeeded, result.error
    assert result.resumed, "the rerun must resume the killed operation, not start a new one"
    # The action the killed run made is found in AWS by the step's check, not made a second time.
    assert again["n"] == 0, f"{operation} was called again on resume"
    return result


def _rds(w: Env, region: str) -> list[dict[str, Any]]:
    return [
        d
        for d in w.factory.client("rds", region).describe_db_instances()["DBInstances"]
        if w.env.suffix in d["DBInstanceIdentifier"]
    ]


def _sql(w: Env, region: str, db_id: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A query through the instance's endpoint with TLS and the master secret, as any client would."""
    import psycopg  # noqa: PLC0415

    d = w.factory.client("rds", region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    outputs = resolve(w.factory, w.env).primary_outputs or {}
    secret = json.loads(
        w.factory.client("secretsmanager", w.env.dr_region).get_secret_value(
            SecretId=outputs[Output.DB_SECRET_NAME]
        )["SecretString"]
    )
    with psycopg.connect(
        host=d["Endpoint"]["Address"],
        port=d["Endpoint"]["Port"],
        user=secret["username"],
        password=secret["password"],
        dbname="postgres",
        sslmode="require",
        connect_timeout=5,
        autocommit=True,
    ) as conn:
        cur = conn.execute(sql, params or None)
        return list(cur.fetchall()) if cur.description else []


def test_reprotect_killed_after_the_replica_request_resumes(world: Env) -> None:
    w = world
    db_id = resolve_failback(w.factory, w.env).primary.db_id
    _killed_then_resumed(w, Phase.REPROTECT, w.env.primary_region, "rds", "CreateDBInstanceReadReplica")
    ids = {d["DBInstanceIdentifier"]: d for d in _rds(w, w.env.primary_region)}
    # One replica under the original identifier and the diverged instance renamed aside, once.
    assert ids[db_id].get("ReadReplicaSourceDBInstanceIdentifier"), ids[db_id]
    assert len([i for i in ids if i.startswith(f"{db_id}-old-")]) == 1, sorted(ids)
    # The old primary's service came back with the region; it is stopped until the cut-back.
    topo = resolve_failback(w.factory, w.env)
    svc = w.factory.client("ecs", w.env.primary_region).describe_services(
        cluster=topo.primary.ecs_cluster, services=[topo.primary.ecs_service]
    )["services"][0]
    assert (svc["desiredCount"], svc["runningCount"]) == (0, 0), svc
    # Any PostgreSQL client sees the new replica in recovery.
    assert _sql(w, w.env.primary_region, db_id, "SELECT pg_is_in_recovery()") == [(True,)]


def test_cutback_refuses_to_promote_while_rds_has_not_drained(world: Env) -> None:
    """A DR write the primary-side replica has not replayed stops the cut-back before any promotion; once
    it has, the rerun is killed after the promotion request and the next rerun finishes the cut-back."""
    from streamflix_dr_emulator.engines import rds_hooks  # noqa: PLC0415

    w = world
    topo = resolve_failback(w.factory, w.env)
    replica = rds_hooks.find(w.env.primary_region, topo.primary.db_id)
    assert replica is not None and replica.link is not None
    marker = f"written-in-dr-{uuid.uuid4().hex[:8]}"
    _sql(w, w.env.dr_region, topo.dr.db_id, "CREATE TABLE IF NOT EXISTS drill_marker (v text)")
    replica.link.cut()  # the replication stream stops crossing (the replica falls behind)
    try:
        _sql(w, w.env.dr_region, topo.dr.db_id, "INSERT INTO drill_marker VALUES (%s)", marker)
        result = _run(w, Phase.CUTBACK, owner="cut-1")
    finally:
        replica.link.mend()
    assert not result.succeeded
    drain = result.step(FailbackStepId.DRAIN_RDS.value)
    assert drain is not None and "has not replayed" in (drain.message or ""), drain
    promote = result.step(FailbackStepId.PROMOTE_RDS.value)
    assert promote is None or promote.status.value != "done", promote
    # Nothing was promoted: the primary-side instance is still a replica of the DR one.
    db = next(d for d in _rds(w, w.env.primary_region) if d["DBInstanceIdentifier"] == topo.primary.db_id)
    assert db.get("ReadReplicaSourceDBInstanceIdentifier"), db

    # The stream catches up and EFS syncs again (about once a minute on AWS; the emulator is asked to sync
    # now); the same command resumes and the write made in DR is in the primary region.
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    DataPlaneClient(w.endpoint).sync()
    # The rerun is killed right after the promotion request reached AWS; the next rerun finds the
    # promotion made (not repeated) and goes on.
    resumed = _killed_then_resumed(w, Phase.CUTBACK, w.env.primary_region, "rds", "PromoteReadReplica")
    assert resumed.step(FailbackStepId.PROMOTE_RDS.value).status.value == "done"
    # eu-west-2 serves from real tasks only: every target is one of its app processes, health-checked.
    health = w.factory.client("elbv2", w.env.primary_region).describe_target_health(
        TargetGroupArn=topo.primary.target_group_arn
    )["TargetHealthDescriptions"]
    assert health and all(h["Target"]["Id"].startswith("127.0.0.") for h in health), health
    rows = _sql(
        w, w.env.primary_region, topo.primary.db_id, "SELECT v FROM drill_marker WHERE v = %s", marker
    )
    assert rows == [(marker,)]
    assert _sql(w, w.env.primary_region, topo.primary.db_id, "SELECT pg_is_in_recovery()") == [(False,)]


def test_reprotect_original_killed_after_the_efs_request_resumes(world: Env) -> None:
    w = world
    _killed_then_resumed(
        w, Phase.REPROTECT_ORIGINAL, w.env.primary_region, "efs", "CreateReplicationConfiguration"
    )
    topo = resolve_failback(w.factory, w.env)
    # The original direction again: the DR DB replicates the primary's, nothing renamed is left.
    dr_db = next(d for d in _rds(w, w.env.dr_region) if d["DBInstanceIdentifier"] == topo.dr.db_id)
    assert topo.primary.db_id in str(dr_db.get("ReadReplicaSourceDBInstanceIdentifier")), dr_db
    leftovers = [
        d["DBInstanceIdentifier"] for r in (w.env.primary_region, w.env.dr_region) for d in _rds(w, r)
    ]
    assert not [i for i in leftovers if "-old-" in i], leftovers
    reps = w.factory.client("efs", w.env.primary_region).describe_replication_configurations(
        FileSystemId=topo.primary.fs_id
    )["Replications"]
    assert [d["FileSystemId"] for r in reps for d in r["Destinations"]] == [topo.dr.fs_id]


DATA_STORE_TYPES = (
    "AWS::RDS::DBInstance",
    "AWS::EFS::FileSystem",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::GlobalReplicationGroup",
    "AWS::SecretsManager::Secret",
)


def test_deploy_after_the_full_failback_changes_no_data_store(world: Env) -> None:
    """Both stacks describe what runs again: the next deploy's change sets touch no data store."""
    w = world
    plans: list[Any] = []

    def confirm(plan: Any) -> bool:
        plans.append(plan)
        return True

    result = deploy(
        w.env, w.factory, confirm=confirm, timeouts=emulator_timeouts(), outputs_dir=w.tmp / "outputs"
    )
    touched = [
        (p.stack, c.logical_id, c.action, c.replacement)
        for p in plans
        for c in p.changes
        if c.resource_type in DATA_STORE_TYPES
    ]
    assert not touched, touched
    assert {s.action for s in result.stages} <= {"no-op", "skipped"}, [s.to_dict() for s in result.stages]
    assert result.mode == "normal" and not any(result.data_store_changes.values()), result.to_dict()
    # What the tool reads from AWS: the normal direction again, every store as the stacks declare.
    from streamflix_dr.failback.reconcile import reconcile_report  # noqa: PLC0415

    report = reconcile_report(w.factory, w.env)
    assert report.direction == "normal", report
    # The identifiers the stacks hold are the live instances: standalone in eu-west-2, its replica in DR.
    topo = resolve_failback(w.factory, w.env)
    primary = next(
        d for d in _rds(w, w.env.primary_region) if d["DBInstanceIdentifier"] == topo.primary.db_id
    )
    assert not primary.get("ReadReplicaSourceDBInstanceIdentifier"), primary


def test_destroy_from_the_failed_back_state_leaves_nothing(world: Env) -> None:
    w = world
    destroy(w.env, w.factory, confirm=lambda _p: True, timeouts=emulator_timeouts())
    for role in (Role.PRIMARY, Role.DR):
        region = w.env.region_of(role).region
        stacks = w.factory.client("cloudformation", region).describe_stacks()["Stacks"]
        live = [
            s
            for s in stacks
            if s["StackName"] == stack_name(role, w.env.suffix) and s["StackStatus"] != "DELETE_COMPLETE"
        ]
        assert not live, live
        assert not _rds(w, region), _rds(w, region)
        fss = w.factory.client("efs", region).describe_file_systems()["FileSystems"]
        assert not [f for f in fss if w.env.suffix in (f.get("Name") or "")], fss
