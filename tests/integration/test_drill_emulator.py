"""The drill end to end on the emulator's real engines, as ``make drill`` runs it: the real deploy, load
written through the primary's load balancer, the primary region failed (APIs and engines), the failover
with the latency model, everything read back through the DR load balancer, the failback under load and a
second failover, the report and the history line.

The stand-in deploy below (resources made with boto3) is kept for the failover tests that import it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_failover_emulator import DR, PRIMARY, build_resources

from streamflix_dr.aws.clients import ClientFactory, Target
from streamflix_dr.cli import drill as drill_cli
from streamflix_dr.config import load_environment
from streamflix_dr.constants import Output, Role, stack_name
from streamflix_dr.drill import DrillOptions, run_drill
from streamflix_dr.report.model import summary
from streamflix_dr.report.render import read_history
from streamflix_dr.resources import environments_dir

pytestmark = pytest.mark.integration


def _outputs_stack(f: ClientFactory, region: str, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Parameters": {k: {"Type": "String"} for k in outputs},
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": "drill", "Name": f"/{name}/marker"},
            }
        },
        "Outputs": {k: {"Value": {"Ref": k}} for k in outputs},
    }
    f.client("cloudformation", region).create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in outputs.items()],
    )


def _dns(f: Any, env: Any) -> None:
    """Failover records as the template makes them: PRIMARY with a health check, SECONDARY."""
    r53 = f.client("route53", DR)
    hc = r53.create_health_check(
        CallerReference=env.suffix,
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": f"primary.{env.domain_name}",
            "ResourcePath": "/health",
            "RequestInterval": 30,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    changes = []
    for ident, role, extra in (("primary", "PRIMARY", {"HealthCheckId": hc}), ("secondary", "SECONDARY", {})):
        changes.append(
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"{env.domain_name}.",
                    "Type": "A",
                    "SetIdentifier": ident,
                    "Failover": role,
                    "TTL": 60,
                    "ResourceRecords": [{"Value": "192.0.2.1" if role == "PRIMARY" else "192.0.2.2"}],
                    **extra,
                },
            }
        )
    r53.change_resource_record_sets(HostedZoneId=env.hosted_zone_id, ChangeBatch={"Changes": changes})


def stand_in_deploy(env: Any, f: Any, _opts: DrillOptions, *, registered_target: bool = False) -> None:
    # By default as on today's emulator after a real deploy: ECS tasks never register with the DR
    # target group. ``registered_target`` stands for tasks that did (the DR region then serves).
    t = build_resources(f, env.suffix, registered_target=registered_target)
    if env.hosted_zone_id:
        _dns(f, env)
    _outputs_stack(
        f,
        DR,
        stack_name(Role.DR, env.suffix),
        {
            Output.JOURNAL_TABLE_NAME: t.journal_table,
            Output.DB_INSTANCE_IDENTIFIER: t.target_db_instance_id,
            Output.FILE_SYSTEM_ID: t.target_file_system_id,
            Output.GLOBAL_DATASTORE_ID: t.global_datastore_id,
            Output.REDIS_REPLICATION_GROUP_ID: t.target_redis_group_id,
            Output.ECS_CLUSTER_NAME: t.target_ecs_cluster,
            Output.ECS_SERVICE_NAME: t.target_ecs_service,
            Output.DB_SECRET_NAME: t.secret_names[0],
            Output.TARGET_GROUP_ARN: t.target_group_arn,
        },
    )
    _outputs_stack(
        f,
        PRIMARY,
        stack_name(Role.PRIMARY, env.suffix),
        {
            Output.DB_INSTANCE_ARN: t.source_db_arn,
            Output.FILE_SYSTEM_ID: t.source_file_system_id,
            Output.REDIS_REPLICATION_GROUP_ID: t.source_redis_group_id,
            Output.ECS_CLUSTER_NAME: t.source_ecs_cluster,
            Output.ECS_SERVICE_NAME: t.source_ecs_service,
            "DbFenceSecurityGroupId": t.source_db_fence_security_group_id,
        },
    )


def stand_in_destroy(env: Any, f: Any, _opts: DrillOptions) -> None:
    for role in (Role.PRIMARY, Role.DR):
        f.client("cloudformation", env.region_of(role).region).delete_stack(
            StackName=stack_name(role, env.suffix)
        )


@pytest.fixture(scope="module")
def engines_on(emulator_endpoint: str | None) -> Iterator[None]:
    """The real engines for this module, as ``streamflix-dr drill --emulator`` switches them on."""
    if emulator_endpoint is None:
        pytest.skip("a drill needs the emulator's engines and region outage")
    from streamflix_dr_emulator import engines  # noqa: PLC0415
    from streamflix_dr_emulator.engines import ecs_tasks  # noqa: PLC0415

    drill_cli.engines_on(60.0)
    try:
        yield
    finally:
        engines.shutdown_all()
        engines.enable(False)
        ecs_tasks.configure(time_scale=1.0)


def test_drill_under_load_on_real_engines(emulator_endpoint: str, engines_on: None, tmp_path: Path) -> None:
    """The real deploy, the app serving through real load balancers, writes under load, the outage, the
    failover, and everything read back through the DR load balancer."""
    factory = ClientFactory(
        Target(endpoint_url=emulator_endpoint, access_key_id="testing", secret_access_key="testing")
    )
    doc = yaml.safe_load((environments_dir() / "dev.yaml").read_text())
    # With the Global Datastore on (make drill runs dev without it): the cycle then also fails the cache
    # over, detaches it (the primary region is down), re-creates the secondaries and fails over again.
    doc.update(suffix=f"d{uuid.uuid4().hex[:6]}", name="drill", global_datastore=True)
    env_file = tmp_path / "drill.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    env = load_environment(str(env_file))
    progress: list[str] = []
    report = run_drill(
        env,
        factory,
        emulator_endpoint,
        options=DrillOptions(reports_dir=tmp_path / "reports", time_scale=60),
        progress=progress.append,
    )
    assert report["teardown"] == "done", (report.get("error"), progress)
    load = report["load"]
    assert set(load) == {"rds", "efs", "redis"}, load
    for store, d in load.items():
        assert d["acknowledged"] > 0, (store, d, progress)
        assert isinstance(d["lost"], int) and isinstance(d["found"], int), (store, d)
        assert d["found"] + d["lost"] == d["acknowledged"], (store, d)
        assert d["lost"] >= 0 and d["rpo_seconds"] >= 0, (store, d)
        # Nothing lost, no data-loss window (a write sent as the outage began may be lost with an age of 0)
        assert d["lost"] > 0 or d["rpo_seconds"] == 0, (store, d)
    # The fence held: after the fence step (or the failure, when the old region is down) no write
    # through the old primary's load balancer was acknowledged.
    fence = report["fence"]
    assert fence["held"] is True and fence["acknowledged"] == 0, fence
    assert fence["writes_tried"] > 0, fence
    # The cycle: failback under load with nothing acknowledged lost in the stores that replicate back
    # (the dev environment has no Global Datastore: its cache is not replicated in either direction),
    # then a second failover on the re-protected environment.
    fb = report["failback"]
    assert fb["result"] == "succeeded", (fb.get("error"), progress)
    assert set(fb["lost"]) == {"rds", "efs", "redis"}, fb["lost"]
    assert fb["lost"]["rds"] == 0 and fb["lost"]["efs"] == 0, fb["lost"]
    for store, d in fb["load"].items():
        assert d["acknowledged"] > 0 and d["found"] + d["lost"] == d["acknowledged"], (store, d)
    assert set(fb["phases"]) == {"reprotect", "cutback", "reprotect-original"}, fb["phases"]
    assert fb["rto_modelled_seconds"] > 0 and fb["reprotect_seconds"] > 0, fb
    assert 0 < fb["write_unavailable_seconds"] <= fb["rto_modelled_seconds"], fb
    second = report["second_failover"]
    assert second["result"] == "succeeded", second
    # The re-created DR cache is a secondary again: the second failover finds the sessions written in
    # eu-west-2 in us-east-1, all but the last instants' (asynchronous replication). Without it about a
    # third of them (all written before the failure) would be missing.
    redis = second["load"]["redis"]
    assert redis["acknowledged"] > 0 and redis["lost"] * 4 < redis["acknowledged"], redis
    assert second["readiness"]["ready"] is True, second["readiness"]
    # The re-protected replica streamed: at most the last instant's writes are lost (replication is
    # asynchronous: a write acknowledged a few ms before the failure may not have crossed).
    rds = second["load"]["rds"]
    assert rds["acknowledged"] > 0 and rds["lost"] * 10 < rds["acknowledged"], rds
    assert set(report["unavailable_seconds"]) == {"read", "write"}
    assert set(report["unavailable_seconds_by_store"]) == {"read", "write"}
    engines = report["engines"]
    assert engines["rds"]["engine"] == "PostgreSQL" and str(engines["rds"]["version"]).startswith("18")
    assert engines["redis"]["engine"] == "Valkey" and engines["efs"]["engine"] == "directories"
    services = engines["ecs"]["services"]
    assert services and all(s["real"] <= s["max_real"] for s in services), services
    # verify-serving passed for real: healthy targets and a request through the DR load balancer
    verify = next(s for s in report["steps"] if s["step"] == "verify-serving")
    assert verify["status"] == "done", (verify, report.get("error"))
    assert report["serving"] is True, report.get("error")
    s = summary(report)
    assert {"load", "unavailable_seconds", "engines", "fence", "data", "rto_modelled_seconds"} <= set(s)
    assert {"failback", "second_failover"} <= set(s)
    md = Path(report["report_path"])
    text = md.read_text()
    assert "Measured under load" in text and "PostgreSQL" in text
    assert "## Failback" in text and "## Second failover" in text
    history = read_history(tmp_path / "reports" / "history.jsonl")
    assert len(history) == 1 and history[0]["operation_id"] == report["operation_id"]
    stacks = factory.client("cloudformation", env.dr_region).describe_stacks()["Stacks"]
    assert not [
        x
        for x in stacks
        if x["StackName"] == stack_name(Role.DR, env.suffix) and x["StackStatus"] != "DELETE_COMPLETE"
    ]
