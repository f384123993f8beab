"""ElastiCache Global Datastore API on the emulator, through boto3 (AWS API reference: elasticache)."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

from streamflix_dr_emulator import (
    elasticache_global,
)

PRIMARY = "eu-west-2"
DR = "us-east-1"


def make_rg(
    endpoint: str, region: str, *, node_type: str = "cache.r7g.large", global_id: str | None = None
) -> str:
    rg_id = uid("rg")
    kwargs: dict[str, Any] = {
        "ReplicationGroupId": rg_id,
        "ReplicationGroupDescription": "test",
        "NumCacheClusters": 2,
    }
    if global_id:
        kwargs["GlobalReplicationGroupId"] = global_id
    else:
        kwargs.update(CacheNodeType=node_type, Engine="redis", EngineVersion="7.1")
    aws(endpoint, "elasticache", region).create_replication_group(**kwargs)
    return rg_id


def make_global(endpoint: str, region: str = PRIMARY) -> tuple[str, str]:
    primary = make_rg(endpoint, region)
    group = aws(endpoint, "elasticache", region).create_global_replication_group(
        GlobalReplicationGroupIdSuffix=uid("g"), PrimaryReplicationGroupId=primary
    )["GlobalReplicationGroup"]
    return str(group["GlobalReplicationGroupId"]), primary


def members(endpoint: str, region: str, global_id: str) -> dict[tuple[str, str], str]:
    group = aws(endpoint, "elasticache", region).describe_global_replication_groups(
        GlobalReplicationGroupId=global_id, ShowMemberInfo=True
    )["GlobalReplicationGroups"][0]
    return {(m["ReplicationGroupRegion"], m["ReplicationGroupId"]): m["Role"] for m in group["Members"]}


def rg_info(endpoint: str, region: str, rg_id: str) -> dict[str, Any] | None:
    rg = aws(endpoint, "elasticache", region).describe_replication_groups(ReplicationGroupId=rg_id)[
        "ReplicationGroups"
    ][0]
    info = rg.get("GlobalReplicationGroupInfo")
    return info if info and info.get("GlobalReplicationGroupId") else None


def test_create_applies_the_documented_region_prefix(endpoint: str) -> None:
    primary = make_rg(endpoint, DR)
    suffix = uid("s")
    group = aws(endpoint, "elasticache", DR).create_global_replication_group(
        GlobalReplicationGroupIdSuffix=suffix,
        PrimaryReplicationGroupId=primary,
        GlobalReplicationGroupDescription="d",
    )["GlobalReplicationGroup"]
    assert group["GlobalReplicationGroupId"] == f"ldgnf-{suffix}"
    assert group["ARN"] == f"arn:aws:elasticache::123456789012:globalreplicationgroup:ldgnf-{suffix}"
    assert group["Status"] == "available"
    assert group["CacheNodeType"] == "cache.r7g.large"
    assert group["GlobalReplicationGroupDescription"] == "d"


def test_prefix_is_stable_where_undocumented() -> None:
    assert elasticache_global.region_prefix(PRIMARY) == elasticache_global.region_prefix(PRIMARY)
    assert len(elasticache_global.region_prefix(PRIMARY)) == 5
    assert elasticache_global.region_prefix(PRIMARY) != elasticache_global.region_prefix("eu-west-1")
    assert elasticache_global.region_prefix("us-west-1") == "virxk"


def test_describe_shows_members_only_on_request(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    ec = aws(endpoint, "elasticache", PRIMARY)
    plain = ec.describe_global_replication_groups(GlobalReplicationGroupId=global_id)[
        "GlobalReplicationGroups"
    ][0]
    assert "Members" not in plain
    assert members(endpoint, PRIMARY, global_id) == {(PRIMARY, primary): "PRIMARY"}
    assert rg_info(endpoint, PRIMARY, primary) == {
        "GlobalReplicationGroupId": global_id,
        "GlobalReplicationGroupMemberRole": "PRIMARY",
    }
    listed = ec.describe_global_replication_groups()["GlobalReplicationGroups"]
    assert global_id in {g["GlobalReplicationGroupId"] for g in listed}


def test_describe_unknown(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "elasticache", PRIMARY).describe_global_replication_groups(
            GlobalReplicationGroupId="ldgnf-nope"
        )
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)


def test_create_errors(endpoint: str) -> None:
    ec = aws(endpoint, "elasticache", PRIMARY)
    with pytest.raises(ClientError) as e:
        ec.create_global_replication_group(
            GlobalReplicationGroupIdSuffix="x", PrimaryReplicationGroupId="missing"
        )
    assert error_of(e) == ("ReplicationGroupNotFoundFault", 404)

    global_id, primary = make_global(endpoint)
    with pytest.raises(ClientError) as e:
        ec.create_global_replication_group(
            GlobalReplicationGroupIdSuffix=uid("x"), PrimaryReplicationGroupId=primary
        )
    assert error_of(e) == ("InvalidReplicationGroupState", 400)

    suffix = global_id.split("-", 1)[1]
    with pytest.raises(ClientError) as e:
        ec.create_global_replication_group(
            GlobalReplicationGroupIdSuffix=suffix, PrimaryReplicationGroupId=make_rg(endpoint, PRIMARY)
        )
    assert error_of(e) == ("GlobalReplicationGroupAlreadyExistsFault", 400)

    with pytest.raises(ClientError) as e:
        ec.create_global_replication_group(
            GlobalReplicationGroupIdSuffix=uid("t"),
            PrimaryReplicationGroupId=make_rg(endpoint, PRIMARY, node_type="cache.t4g.micro"),
        )
    assert error_of(e) == ("InvalidParameterValue", 400)
    assert "cache.t4g.micro" in str(e.value)


def test_secondary_joins_and_inherits_from_primary(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    secondary = make_rg(endpoint, DR, global_id=global_id)
    assert members(endpoint, DR, global_id) == {(PRIMARY, primary): "PRIMARY", (DR, secondary): "SECONDARY"}
    rg = aws(endpoint, "elasticache", DR).describe_replication_groups(ReplicationGroupId=secondary)[
        "ReplicationGroups"
    ][0]
    assert rg["CacheNodeType"] == "cache.r7g.large"
    assert rg_info(endpoint, DR, secondary) == {
        "GlobalReplicationGroupId": global_id,
        "GlobalReplicationGroupMemberRole": "SECONDARY",
    }


def test_secondary_join_errors(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        make_rg(endpoint, DR, global_id="ldgnf-missing")
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)
    global_id, _ = make_global(endpoint)
    make_rg(endpoint, DR, global_id=global_id)
    with pytest.raises(ClientError) as e:
        make_rg(endpoint, DR, global_id=global_id)
    assert error_of(e) == ("InvalidGlobalReplicationGroupState", 400)
    with pytest.raises(ClientError) as e:
        make_rg(endpoint, PRIMARY, global_id=global_id)
    assert error_of(e) == ("InvalidGlobalReplicationGroupState", 400)


def test_failover_swaps_roles(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    secondary = make_rg(endpoint, DR, global_id=global_id)
    group = aws(endpoint, "elasticache", DR).failover_global_replication_group(
        GlobalReplicationGroupId=global_id, PrimaryRegion=DR, PrimaryReplicationGroupId=secondary
    )["GlobalReplicationGroup"]
    assert {m["ReplicationGroupId"]: m["Role"] for m in group["Members"]} == {
        primary: "SECONDARY",
        secondary: "PRIMARY",
    }
    assert rg_info(endpoint, DR, secondary)["GlobalReplicationGroupMemberRole"] == "PRIMARY"  # type: ignore[index]
    assert rg_info(endpoint, PRIMARY, primary)["GlobalReplicationGroupMemberRole"] == "SECONDARY"  # type: ignore[index]


def test_failover_errors(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    ec = aws(endpoint, "elasticache", DR)
    with pytest.raises(ClientError) as e:
        ec.failover_global_replication_group(
            GlobalReplicationGroupId="ldgnf-missing", PrimaryRegion=DR, PrimaryReplicationGroupId="x"
        )
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)
    with pytest.raises(ClientError) as e:
        ec.failover_global_replication_group(
            GlobalReplicationGroupId=global_id, PrimaryRegion=PRIMARY, PrimaryReplicationGroupId=primary
        )
    assert error_of(e) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as e:
        ec.failover_global_replication_group(
            GlobalReplicationGroupId=global_id, PrimaryRegion=DR, PrimaryReplicationGroupId="not-a-member"
        )
    assert error_of(e) == ("InvalidParameterValue", 400)


def test_disassociate_makes_secondary_standalone(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    secondary = make_rg(endpoint, DR, global_id=global_id)
    group = aws(endpoint, "elasticache", DR).disassociate_global_replication_group(
        GlobalReplicationGroupId=global_id, ReplicationGroupId=secondary, ReplicationGroupRegion=DR
    )["GlobalReplicationGroup"]
    assert [m["ReplicationGroupId"] for m in group["Members"]] == [primary]
    assert rg_info(endpoint, DR, secondary) is None
    # A standalone group can be deleted again.
    aws(endpoint, "elasticache", DR).delete_replication_group(ReplicationGroupId=secondary)


def test_disassociate_errors(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    ec = aws(endpoint, "elasticache", PRIMARY)
    with pytest.raises(ClientError) as e:
        ec.disassociate_global_replication_group(
            GlobalReplicationGroupId=global_id, ReplicationGroupId=primary, ReplicationGroupRegion=PRIMARY
        )
    assert error_of(e) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as e:
        ec.disassociate_global_replication_group(
            GlobalReplicationGroupId="ldgnf-missing",
            ReplicationGroupId=primary,
            ReplicationGroupRegion=PRIMARY,
        )
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)


def test_delete_refused_while_secondaries_are_associated(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    secondary = make_rg(endpoint, DR, global_id=global_id)
    ec = aws(endpoint, "elasticache", PRIMARY)
    with pytest.raises(ClientError) as e:
        ec.delete_global_replication_group(
            GlobalReplicationGroupId=global_id, RetainPrimaryReplicationGroup=True
        )
    assert error_of(e) == ("InvalidGlobalReplicationGroupState", 400)
    assert secondary in str(e.value)
    aws(endpoint, "elasticache", DR).disassociate_global_replication_group(
        GlobalReplicationGroupId=global_id, ReplicationGroupId=secondary, ReplicationGroupRegion=DR
    )
    deleted = ec.delete_global_replication_group(
        GlobalReplicationGroupId=global_id, RetainPrimaryReplicationGroup=True
    )
    assert deleted["GlobalReplicationGroup"]["Status"] == "deleting"
    with pytest.raises(ClientError) as e:
        ec.describe_global_replication_groups(GlobalReplicationGroupId=global_id)
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)
    assert rg_info(endpoint, PRIMARY, primary) is None


def test_delete_without_retaining_primary_removes_it(endpoint: str) -> None:
    global_id, primary = make_global(endpoint)
    ec = aws(endpoint, "elasticache", PRIMARY)
    ec.delete_global_replication_group(
        GlobalReplicationGroupId=global_id, RetainPrimaryReplicationGroup=False
    )
    with pytest.raises(ClientError) as e:
        ec.describe_replication_groups(ReplicationGroupId=primary)
    assert error_of(e) == ("ReplicationGroupNotFoundFault", 404)


def test_members_cannot_be_deleted_directly(endpoint: str) -> None:
    _, primary = make_global(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "elasticache", PRIMARY).delete_replication_group(ReplicationGroupId=primary)
    assert error_of(e) == ("InvalidReplicationGroupState", 400)


def test_python_functions_for_cloudformation_models(endpoint: str) -> None:
    eg = elasticache_global
    primary = make_rg(endpoint, DR)
    suffix = uid("cfn")
    created = eg.create_global_group("123456789012", DR, suffix, primary, "from a model")
    assert created["GlobalReplicationGroupId"] == f"ldgnf-{suffix}"
    assert created["Members"] == [
        {
            "ReplicationGroupId": primary,
            "ReplicationGroupRegion": DR,
            "Role": "PRIMARY",
            "AutomaticFailover": "disabled",
            "Status": "associated",
        }
    ]
    assert members(endpoint, DR, created["GlobalReplicationGroupId"]) == {(DR, primary): "PRIMARY"}
    assert (
        eg.describe_global_group("123456789012", created["GlobalReplicationGroupId"])["Status"] == "available"
    )
    eg.delete_global_group("123456789012", created["GlobalReplicationGroupId"])
    with pytest.raises(ClientError) as e:
        aws(endpoint, "elasticache", DR).describe_global_replication_groups(
            GlobalReplicationGroupId=created["GlobalReplicationGroupId"]
        )
    assert error_of(e) == ("GlobalReplicationGroupNotFoundFault", 404)


@pytest.fixture
def outage(endpoint: str) -> Any:
    from streamflix_dr_emulator.client import DataPlaneClient  # noqa: PLC0415

    client = DataPlaneClient(endpoint)
    yield client
    client.restore_region(PRIMARY)


def test_failover_is_refused_while_the_primary_region_is_down_and_disassociate_works(
    endpoint: str, outage: Any
) -> None:
    global_id, _primary = make_global(endpoint)
    secondary = make_rg(endpoint, DR, global_id=global_id)
    outage.fail_region(PRIMARY)
    ec = aws(endpoint, "elasticache", DR)
    with pytest.raises(ClientError) as e:
        ec.failover_global_replication_group(
            GlobalReplicationGroupId=global_id, PrimaryRegion=DR, PrimaryReplicationGroupId=secondary
        )
    assert error_of(e) == ("InvalidGlobalReplicationGroupState", 400)
    assert "DisassociateGlobalReplicationGroup" in str(e.value)
    # The runbook's fallback: the DR cluster leaves the datastore and is writable on its own.
    ec.disassociate_global_replication_group(
        GlobalReplicationGroupId=global_id, ReplicationGroupId=secondary, ReplicationGroupRegion=DR
    )
    assert rg_info(endpoint, DR, secondary) is None
