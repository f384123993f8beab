"""reconcile_report: the stacks against the live data stores, failed over and after a full failback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FakeClock, make_runner
from fakes import DR, PRIMARY, World

from streamflix_dr.failback.base import FailbackTopology, Phase
from streamflix_dr.failback.reconcile import reconcile_report


def test_a_failed_over_environment_does_not_match_its_stacks(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    report = reconcile_report(factory, None, topology)

    assert not report.matches
    assert report.active_region == "both (split)"  # both DBs standalone: the primary has diverged
    by_stack = {(f.store, f.stack): f for f in report.findings}
    dr_db = by_stack[("rds", topology.dr.stack)]
    assert not dr_db.matches and dr_db.live.startswith("standalone")
    assert not by_stack[("efs", topology.primary.stack)].matches
    assert not by_stack[("redis", topology.primary.stack)].matches
    assert not by_stack[("secrets", topology.primary.stack)].matches


def test_after_a_full_failback_every_store_matches_and_no_renamed_instance_is_left(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, list(Phase)).run().succeeded

    report = reconcile_report(factory, None, topology)

    assert report.matches, report.to_dict()
    assert report.active_region == PRIMARY
    assert report.notes == []
    assert {f.store for f in report.findings} == {"rds", "efs", "redis", "secrets"}


def test_during_reprotect_the_renamed_instance_is_noted(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, [Phase.REPROTECT]).run().succeeded

    report = reconcile_report(factory, None, topology)

    assert report.active_region == DR
    assert any("renamed-aside" in n for n in report.notes)
    assert not report.matches


# ---- a region that does not answer, fences, errors that are not outages --------------------------------

import dataclasses  # noqa: E402

import pytest  # noqa: E402
from botocore.exceptions import ClientError, EndpointConnectionError  # noqa: E402

from streamflix_dr.failback.base import TAG_FENCED_AT  # noqa: E402
from streamflix_dr.failback.reconcile import FAILED_OVER, NORMAL, PRIMARY_ACTIVE, SPLIT, UNKNOWN  # noqa: E402


class _Dead:
    """Every call of a client in a region in an outage: the connection fails (as botocore raises it)."""

    def __init__(self, service: str, region: str) -> None:
        self.service, self.region = service, region

    def __getattr__(self, name: str) -> Any:
        def call(*_a: Any, **_kw: Any) -> Any:
            raise EndpointConnectionError(endpoint_url=f"https://{self.service}.{self.region}.amazonaws.com/")

        return call


class RegionDown:
    """The fake factory with one region's endpoints unreachable; counts the calls made there."""

    def __init__(self, factory: Any, region: str) -> None:
        self.factory, self.region, self.tried = factory, region, 0

    def client(self, service: str, region: str) -> Any:
        if region == self.region and service != "dynamodb":
            self.tried += 1
            return _Dead(service, region)
        return self.factory.client(service, region)


def test_primary_region_down_the_report_still_says_dr_is_active_and_which_region_did_not_answer(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    down = RegionDown(factory, PRIMARY)

    report = reconcile_report(down, None, topology)

    assert report.unanswered == [PRIMARY]
    assert report.regions[DR] == "answers"
    assert report.active_region == DR and report.direction == FAILED_OVER and report.failed_over
    by = {(f.store, f.region): f for f in report.findings}
    assert by[("rds", PRIMARY)].live == f"unknown: {PRIMARY} does not answer"
    assert not by[("rds", PRIMARY)].known and not by[("rds", PRIMARY)].matches
    assert by[("rds", DR)].live.startswith("standalone, takes writes") and by[("rds", DR)].known
    # The Global Datastore is global: the DR region lists both members and their roles.
    redis = by[("redis", PRIMARY)]
    assert redis.known and f"{topology.dr.redis_group_id} PRIMARY in {DR}" in redis.live
    efs = by[("efs", PRIMARY)]
    assert not efs.known and f"unknown: {PRIMARY} does not answer" in efs.live
    # Once a region did not answer, the report asks it nothing more: one client per store kind at most.
    assert down.tried <= 2


def test_dr_region_down_after_a_full_failback_is_unknown_not_normal(
    factory: Any, topology: FailbackTopology, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    assert make_runner(factory, topology, clock, tmp_path, list(Phase)).run().succeeded
    assert reconcile_report(factory, None, topology).direction == NORMAL

    report = reconcile_report(RegionDown(factory, DR), None, topology)

    assert report.unanswered == [DR]
    assert report.direction == UNKNOWN and report.active_region == PRIMARY
    assert not report.matches


def test_an_error_that_is_not_an_outage_is_raised_not_reported_as_unknown(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    def deny(_kw: dict[str, Any]) -> None:
        raise ClientError(
            {
                "Error": {"Code": "AccessDenied", "Message": "not allowed"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            "DescribeDBInstances",
        )

    world.hooks[("rds", "describe_db_instances")] = deny

    with pytest.raises(ClientError, match="AccessDenied"):
        reconcile_report(factory, None, topology)


def test_a_primary_fenced_by_the_failover_makes_dr_active_not_split(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    fenced = dataclasses.replace(
        topology, primary=dataclasses.replace(topology.primary, db_fence_security_group="sg-fence")
    )
    assert reconcile_report(factory, None, topology).direction == SPLIT  # the fence group unknown

    report = reconcile_report(factory, None, fenced)

    assert report.direction == FAILED_OVER and report.active_region == DR
    assert not report.notes or all("split" not in n for n in report.notes)


def test_both_standalone_with_the_dr_writers_fenced_is_the_primary_active(
    factory: Any, topology: FailbackTopology, world: World
) -> None:
    rds = factory.client("rds", DR)
    arn = rds.describe_db_instances(DBInstanceIdentifier=topology.dr.db_id)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": TAG_FENCED_AT, "Value": "1800000000"}])

    report = reconcile_report(factory, None, topology)

    assert report.direction == PRIMARY_ACTIVE and report.active_region == PRIMARY
    assert not report.matches
