"""ElastiCache on real Valkey servers: AUTH, TLS, Global Datastore replication, failover, outage.

Every engine of this module is started once, by the ``stores`` fixture: one Global Datastore per
scenario, each in a region pair of its own so that a region outage or a failover in one scenario
leaves the others alone. A standard Redis client (redis-py) talks to the endpoints
DescribeReplicationGroups returns.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

sys.path.insert(0, str(Path(__file__).parent.parent))
from api_support import aws, uid

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import elasticache_hooks
from streamflix_dr_emulator.engines.valkey import ValkeyNode

TOKEN = "streamflix-auth-token-0123456789"  # AuthToken: 16-128 printable characters
DR_TOKEN = TOKEN  # the secondary's token comes from the replicated secret: the same value

# Scenario -> (primary region, secondary region)
PAIRS = {
    "main": ("eu-west-2", "us-east-1"),
    "failover": ("eu-west-1", "us-west-2"),
    "disassociate": ("eu-central-1", "us-west-1"),
    "outage": ("eu-west-3", "us-east-2"),
}
# The outage scenario's link: 2 s round trip, so a write made just before the failure is still in
# flight when the region fails.
OUTAGE_RTT_SECONDS = 2.0
WAIT_SECONDS = 60.0
# A refused connection must show as refused, not be retried into a pass or a slow failure.
NO_RETRY = Retry(NoBackoff(), 0)


@dataclass
class Datastore:
    global_id: str
    primary_region: str
    primary_rg: str
    secondary_region: str
    secondary_rg: str


def _create_rg(endpoint: str, region: str, *, global_id: str | None = None, tls: bool = True) -> str:
    rg_id = uid("vk")
    kwargs: dict[str, Any] = {
        "ReplicationGroupId": rg_id,
        "ReplicationGroupDescription": "engine test",
        "NumCacheClusters": 2,
        "TransitEncryptionEnabled": tls,
    }
    if tls:
        # AWS accepts an AuthToken only with in-transit encryption (CreateReplicationGroup, AuthToken).
        kwargs["AuthToken"] = TOKEN if global_id is None else DR_TOKEN
        kwargs["TransitEncryptionMode"] = "required"
    if global_id:
        kwargs["GlobalReplicationGroupId"] = global_id
    else:
        kwargs.update(CacheNodeType="cache.r7g.large", Engine="redis", EngineVersion="7.1")
    aws(endpoint, "elasticache", region).create_replication_group(**kwargs)
    return rg_id


def _create_datastore(endpoint: str, primary_region: str, secondary_region: str) -> Datastore:
    primary = _create_rg(endpoint, primary_region)
    group = aws(endpoint, "elasticache", primary_region).create_global_replication_group(
        GlobalReplicationGroupIdSuffix=uid("g"), PrimaryReplicationGroupId=primary
    )["GlobalReplicationGroup"]
    secondary = _create_rg(endpoint, secondary_region, global_id=group["GlobalReplicationGroupId"])
    return Datastore(group["GlobalReplicationGroupId"], primary_region, primary, secondary_region, secondary)


@pytest.fixture(scope="module")
def stores(emulator_endpoint: str) -> Iterator[dict[str, Datastore]]:
    engines.enable(True)
    elasticache_hooks.install()
    primary, secondary = PAIRS["outage"]
    elasticache_hooks.set_link(primary, secondary, rtt_seconds=OUTAGE_RTT_SECONDS)
    try:
        made = {name: _create_datastore(emulator_endpoint, *pair) for name, pair in PAIRS.items()}
        for store in made.values():
            for node in elasticache_hooks.nodes("123456789012", store.secondary_region, store.secondary_rg):
                node.wait_replicated(WAIT_SECONDS)
        yield made
    finally:
        engines.shutdown_all()
        engines.enable(False)


def _endpoint(endpoint: str, region: str, rg_id: str, which: str = "PrimaryEndpoint") -> tuple[str, int]:
    rg = aws(endpoint, "elasticache", region).describe_replication_groups(ReplicationGroupId=rg_id)[
        "ReplicationGroups"
    ][0]
    address = rg["NodeGroups"][0][which]
    return address["Address"], int(address["Port"])


def _client(
    endpoint: str, region: str, rg_id: str, *, password: str | None = TOKEN, which: str = "PrimaryEndpoint"
) -> redis.Redis:
    host, port = _endpoint(endpoint, region, rg_id, which)
    return redis.Redis(
        host=host,
        port=port,
        ssl=True,
        ssl_ca_certs=str(elasticache_hooks.certificate_authority().ca_file),
        password=password,
        socket_timeout=10,
        socket_connect_timeout=10,
        retry=NO_RETRY,
    )


def _wait_for(check: Any, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_tls_client_with_the_auth_token_reaches_the_described_endpoints(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    store = stores["main"]
    host, port = _endpoint(emulator_endpoint, store.primary_region, store.primary_rg)
    assert host == "127.0.0.1"
    node = elasticache_hooks.nodes("123456789012", store.primary_region, store.primary_rg)[0]
    assert node.front is not None and port == node.front.port != node.raw_port
    primary = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    assert primary.set("title:1", "Metropolis")
    reader = _client(emulator_endpoint, store.primary_region, store.primary_rg, which="ReaderEndpoint")
    assert reader.get("title:1") == b"Metropolis"
    assert primary.info("server")["server_name"] == "valkey"


def test_plaintext_client_is_refused(stores: dict[str, Datastore], emulator_endpoint: str) -> None:
    store = stores["main"]
    host, port = _endpoint(emulator_endpoint, store.primary_region, store.primary_rg)
    plain = redis.Redis(
        host=host, port=port, password=TOKEN, socket_timeout=5, socket_connect_timeout=5, retry=NO_RETRY
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()


def test_wrong_or_missing_token_is_refused(stores: dict[str, Datastore], emulator_endpoint: str) -> None:
    store = stores["main"]
    wrong = _client(emulator_endpoint, store.primary_region, store.primary_rg, password="not-the-token-0000")
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    anonymous = _client(emulator_endpoint, store.primary_region, store.primary_rg, password=None)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get("title:1")


def test_secondary_is_a_read_only_replica(stores: dict[str, Datastore], emulator_endpoint: str) -> None:
    store = stores["main"]
    secondary = _client(emulator_endpoint, store.secondary_region, store.secondary_rg)
    info = secondary.info("replication")
    assert info["role"] == "slave"
    assert info["master_link_status"] == "up"
    with pytest.raises(redis.exceptions.ReadOnlyError, match="You can't write against a read only replica"):
        secondary.set("session:x", "1")


def test_key_set_on_the_primary_reaches_the_secondary(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    store = stores["main"]
    primary = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    secondary = _client(emulator_endpoint, store.secondary_region, store.secondary_rg)
    key = uid("session:")
    primary.set(key, "alice")
    _wait_for(lambda: secondary.get(key) == b"alice", f"{key} on the secondary")


def test_failover_promotes_the_secondary_and_demotes_the_old_primary(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    store = stores["failover"]
    old = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    new = _client(emulator_endpoint, store.secondary_region, store.secondary_rg)
    old.set("before", "1")
    _wait_for(lambda: new.get("before") == b"1", "the key before failover on the secondary")

    aws(emulator_endpoint, "elasticache", store.secondary_region).failover_global_replication_group(
        GlobalReplicationGroupId=store.global_id,
        PrimaryRegion=store.secondary_region,
        PrimaryReplicationGroupId=store.secondary_rg,
    )

    assert new.info("replication")["role"] == "master"
    assert new.set("after", "2")
    assert old.info("replication")["role"] == "slave"
    _wait_for(lambda: old.get("after") == b"2", "the new primary's key on the old primary")
    with pytest.raises(redis.exceptions.ReadOnlyError):
        old.set("split-brain", "x")


def test_disassociation_makes_the_secondary_standalone(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    store = stores["disassociate"]
    primary = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    secondary = _client(emulator_endpoint, store.secondary_region, store.secondary_rg)
    primary.set("shared", "1")
    _wait_for(lambda: secondary.get("shared") == b"1", "the shared key on the secondary")

    aws(emulator_endpoint, "elasticache", store.primary_region).disassociate_global_replication_group(
        GlobalReplicationGroupId=store.global_id,
        ReplicationGroupId=store.secondary_rg,
        ReplicationGroupRegion=store.secondary_region,
    )

    assert secondary.info("replication")["role"] == "master"
    assert secondary.set("own", "dr")
    primary.set("later", "1")
    # Standalone: what the old primary writes no longer arrives. The replication stream would have
    # delivered it within one round trip of the default link; a replica's PING period is 10 s, so
    # ask the old primary how many replicas it still has instead of waiting on the clock.
    _wait_for(
        lambda: primary.info("replication")["connected_slaves"] == 0, "the old primary to lose its replica"
    )
    assert secondary.get("later") is None
    assert primary.get("own") is None


def test_region_failure_loses_exactly_the_keys_not_yet_replicated(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    store = stores["outage"]
    primary = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    secondary = _client(emulator_endpoint, store.secondary_region, store.secondary_rg)
    replicated = [f"acked:{i}" for i in range(20)]
    primary.mset(dict.fromkeys(replicated, "1"))
    _wait_for(lambda: secondary.exists(*replicated) == len(replicated), "the first batch on the secondary")

    in_flight = [f"late:{i}" for i in range(20)]
    # One round trip to the primary, then the failure: the link's one-way delay is 1 s.
    primary.mset(dict.fromkeys(in_flight, "1"))
    engines.fail_region(store.primary_region)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            primary.ping()
        aws(emulator_endpoint, "elasticache", store.secondary_region).failover_global_replication_group(
            GlobalReplicationGroupId=store.global_id,
            PrimaryRegion=store.secondary_region,
            PrimaryReplicationGroupId=store.secondary_rg,
        )
        keys = {k.decode() for k in secondary.keys("*")}
        assert keys == set(replicated)
        assert secondary.set("after-failover", "1")
    finally:
        engines.restore_region(store.primary_region)
    # Back again, the old primary was demoted as FailoverGlobalReplicationGroup asked: it resyncs
    # from the new primary and the writes that never crossed are gone there too.
    old = _client(emulator_endpoint, store.primary_region, store.primary_rg)
    _wait_for(lambda: old.get("after-failover") == b"1", "the old primary to resync from the new one")
    assert old.info("replication")["role"] == "slave"
    assert old.exists(*in_flight) == 0


def test_delete_stops_the_server_and_removes_its_data(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    region = "ap-southeast-2"
    rg_id = _create_rg(emulator_endpoint, region)
    node = elasticache_hooks.nodes("123456789012", region, rg_id)[0]
    client = _client(emulator_endpoint, region, rg_id)
    client.set("k", "v")
    data_dir = node.data_dir
    assert data_dir.is_dir()

    aws(emulator_endpoint, "elasticache", region).delete_replication_group(ReplicationGroupId=rg_id)

    assert not data_dir.exists()
    assert node.pid == 0
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()
    assert elasticache_hooks.nodes("123456789012", region, rg_id) == []


def test_without_transit_encryption_the_server_answers_plaintext(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    region = "ap-northeast-1"
    rg_id = _create_rg(emulator_endpoint, region, tls=False)
    host, port = _endpoint(emulator_endpoint, region, rg_id)
    client = redis.Redis(host=host, port=port, socket_timeout=10)
    assert client.ping()
    assert elasticache_hooks.nodes("123456789012", region, rg_id)[0].front is None


def test_cloudformation_replication_group_gets_an_engine(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    region = "ca-central-1"
    cfn = aws(emulator_endpoint, "cloudformation", region)
    name = uid("vkstack")
    template = {
        "Resources": {
            "Cache": {
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {
                    "ReplicationGroupDescription": "cfn",
                    "Engine": "redis",
                    "CacheNodeType": "cache.r7g.large",
                    "NumCacheClusters": 2,
                    "TransitEncryptionEnabled": True,
                    "TransitEncryptionMode": "required",
                    "AuthToken": TOKEN,
                },
            }
        },
        "Outputs": {
            "Id": {"Value": {"Ref": "Cache"}},
            "Port": {"Value": {"Fn::GetAtt": ["Cache", "PrimaryEndPoint.Port"]}},
        },
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    client = _client(emulator_endpoint, region, outputs["Id"])
    assert client.ping()
    assert int(outputs["Port"]) == _endpoint(emulator_endpoint, region, outputs["Id"])[1]
    cfn.delete_stack(StackName=name)
    assert elasticache_hooks.nodes("123456789012", region, outputs["Id"]) == []


def test_promotion_asked_while_the_region_is_down_applies_when_it_returns(
    stores: dict[str, Datastore],
) -> None:
    primary_region, replica_region = "me-south-1", "af-south-1"
    ca = elasticache_hooks.certificate_authority()
    primary = ValkeyNode(primary_region, uid("p"), TOKEN, True, ca=ca).start()
    replica = ValkeyNode(replica_region, uid("r"), TOKEN, True, ca=ca).start()
    try:
        replica.replicate_from(primary, rtt_seconds=0.0)
        replica.wait_replicated(WAIT_SECONDS)
        engines.fail_region(replica_region)
        try:
            replica.promote()  # cannot reach the server now: remembered
        finally:
            engines.restore_region(replica_region)
        assert replica.role() == "master"
        assert replica.admin().set("writable", "1")
    finally:
        primary.stop()
        replica.stop()


def test_cloudformation_global_datastore_secondary_is_a_replica(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    primary_region, dr_region = "eu-west-2", "us-east-1"

    def cache(extra: dict[str, Any]) -> dict[str, Any]:
        props = {
            "ReplicationGroupDescription": "cfn",
            "NumCacheClusters": 2,
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AuthToken": TOKEN,
        }
        props.update(extra)
        return {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": props}

    primary_template = {
        "Resources": {
            "Cache": cache({"Engine": "redis", "EngineVersion": "7.1", "CacheNodeType": "cache.r7g.large"}),
            "Global": {
                "Type": "AWS::ElastiCache::GlobalReplicationGroup",
                "Properties": {
                    "GlobalReplicationGroupIdSuffix": uid("cfn"),
                    "Members": [
                        {
                            "ReplicationGroupId": {"Ref": "Cache"},
                            "ReplicationGroupRegion": primary_region,
                            "Role": "PRIMARY",
                        }
                    ],
                },
            },
        },
        "Outputs": {"Id": {"Value": {"Ref": "Cache"}}, "GlobalId": {"Value": {"Ref": "Global"}}},
    }
    outputs = _stack(emulator_endpoint, primary_region, primary_template)
    # A secondary inherits the transit encryption (AWS refuses it with GlobalReplicationGroupId).
    secondary_props = cache({"GlobalReplicationGroupId": outputs["GlobalId"]})
    for inherited in ("TransitEncryptionEnabled", "TransitEncryptionMode"):
        del secondary_props["Properties"][inherited]
    dr_template = {
        "Resources": {"Cache": secondary_props},
        "Outputs": {"Id": {"Value": {"Ref": "Cache"}}},
    }
    dr_outputs = _stack(emulator_endpoint, dr_region, dr_template)

    primary = _client(emulator_endpoint, primary_region, outputs["Id"])
    secondary = _client(emulator_endpoint, dr_region, dr_outputs["Id"])
    assert secondary.info("replication")["role"] == "slave"
    primary.set("from-cfn", "1")
    _wait_for(lambda: secondary.get("from-cfn") == b"1", "the primary's key on the CloudFormation secondary")


def _stack(endpoint: str, region: str, template: dict[str, Any]) -> dict[str, str]:
    cfn = aws(endpoint, "cloudformation", region)
    name = uid("vkgds")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_cloudformation_auth_token_from_a_secret_reference_is_the_secret_value(
    stores: dict[str, Datastore], emulator_endpoint: str
) -> None:
    # The template's AuthToken is {{resolve:secretsmanager:streamflix-redis-auth-<suffix>:SecretString}}.
    # CloudFormation resolves it before calling the handler; the server's password must be the secret's
    # value, not the reference's text (before: every client with the real token got WRONGPASS).
    region = "sa-east-1"
    secret = uid("vkauth")
    aws(emulator_endpoint, "secretsmanager", region).create_secret(Name=secret, SecretString=TOKEN)
    template = {
        "Resources": {
            "Cache": {
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {
                    "ReplicationGroupDescription": "cfn secret token",
                    "Engine": "redis",
                    "CacheNodeType": "cache.r7g.large",
                    "NumCacheClusters": 1,
                    "TransitEncryptionEnabled": True,
                    "TransitEncryptionMode": "required",
                    "AuthToken": f"{{{{resolve:secretsmanager:{secret}:SecretString}}}}",
                },
            }
        },
        "Outputs": {"Id": {"Value": {"Ref": "Cache"}}},
    }
    rg_id = _stack(emulator_endpoint, region, template)["Id"]
    assert _client(emulator_endpoint, region, rg_id).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(emulator_endpoint, region, rg_id, password="{{resolve:secretsmanager:" + secret).ping()
