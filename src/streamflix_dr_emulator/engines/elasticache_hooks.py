"""Wire ElastiCache's emulated control plane to real Valkey servers (engines/valkey.py).

Seams (nothing in moto, ``elasticache_global`` or ``cfn/elasticache.py`` is edited; each is wrapped):

* ``moto.elasticache.models.ElastiCacheBackend.create_replication_group`` — the API's
  CreateReplicationGroup and the CloudFormation model ``AWS::ElastiCache::ReplicationGroup`` both
  end here. With engines on, one :class:`~streamflix_dr_emulator.engines.valkey.ValkeyNode` starts per
  node group, with ``AuthToken`` as ``requirepass`` and a TLS front when ``TransitEncryptionEnabled``;
  the group's PrimaryEndpoint, ReaderEndpoint and node read endpoints (DescribeReplicationGroups,
  GetAtt ``PrimaryEndPoint.Address/Port``) become the front's 127.0.0.1 host and port
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_NodeGroup.html). A group
  joining a Global Datastore (``GlobalReplicationGroupId``) replicates from the primary group's node
  through a region link.
* ``ElastiCacheBackend.delete_replication_group`` — stops the servers and removes their data once the
  control plane accepted the deletion.
* ``elasticache_global.failover_global_group`` — FailoverGlobalReplicationGroup: the chosen secondary
  is promoted (``REPLICAOF NO ONE``) and the old primary is demoted to replicate from it, at once when
  it answers, else when its region comes back
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html).
* ``elasticache_global.disassociate_member`` — DisassociateGlobalReplicationGroup: the secondary
  becomes a standalone, writable primary
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DisassociateGlobalReplicationGroup.html).
* ``elasticache_global.delete_global_group`` — with ``RetainPrimaryReplicationGroup=false`` the
  primary group goes too, and so do its servers.

Every hook does nothing while :func:`streamflix_dr_emulator.engines.enabled` is false; a group created
while engines were off has no engine (its endpoints stay moto's names).
Not modelled: cluster mode enabled (slots across node groups) is refused while engines are on, and
the replica nodes of a node group (NumCacheClusters > 1) share their primary's server, so the reader
endpoint is the primary's front.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from streamflix_dr_emulator import elasticache_global, engines
from streamflix_dr_emulator.cfn._common import patch_attr
from streamflix_dr_emulator.engines import net
from streamflix_dr_emulator.engines.valkey import ValkeyEngineError, ValkeyNode

log = logging.getLogger(__name__)

_lock = threading.RLock()
# (account, region, replication group id) -> one node per node group, in node-group order.
_groups: dict[tuple[str, str, str], list[ValkeyNode]] = {}
# (account, region, node name) -> the TLS front that stands for a deleted group's endpoint. On AWS a
# replication group's primary endpoint is "<group id>.<hash>.<region-code>.cache.amazonaws.com" (API
# NodeGroup.PrimaryEndpoint; "master.<group id>..." with in-transit encryption): it follows the group id,
# so a group re-created under the same id (a Global Datastore secondary rebuilt after a failover) answers
# at the same endpoint, which the stacks' task definitions carry. The local front (its port) is kept per
# name for that reason; while no group holds the name it reaches nothing.
_names: dict[tuple[str, str, str], net.TlsFront] = {}
# frozenset({region_a, region_b}) -> (round trip seconds, bandwidth bytes/s or None)
_link_settings: dict[frozenset[str], tuple[float, float | None]] = {}
_ca: tuple[Path, net.CertificateAuthority] | None = None


def set_link(
    region_a: str,
    region_b: str,
    rtt_seconds: float = net.EU_WEST_2_US_EAST_1_RTT_SECONDS,
    bandwidth_bytes_per_s: float | None = None,
) -> None:
    """Latency (round trip) and bandwidth of the replication links made from now on between two regions."""
    if rtt_seconds < 0:
        raise ValueError(f"rtt_seconds={rtt_seconds!r} must be >= 0")
    with _lock:
        _link_settings[frozenset((region_a, region_b))] = (rtt_seconds, bandwidth_bytes_per_s)


def _link_for(region_a: str, region_b: str) -> tuple[float, float | None]:
    return _link_settings.get(frozenset((region_a, region_b)), (net.EU_WEST_2_US_EAST_1_RTT_SECONDS, None))


def certificate_authority() -> net.CertificateAuthority:
    """The CA that issues the ElastiCache fronts' certificates in this run (``ca_file`` for clients)."""
    global _ca  # noqa: PLW0603 - one per run directory
    with _lock:
        run = engines.run_dir()
        if _ca is None or _ca[0] != run:
            _ca = (run, net.CertificateAuthority(run / "tls-elasticache"))
        return _ca[1]


def nodes(account_id: str, region: str, rg_id: str) -> list[ValkeyNode]:
    """The running Valkey nodes of a replication group (empty when it has no engine)."""
    with _lock:
        found = _groups.get((account_id, region, rg_id), [])
        if any(n.stopped for n in found):
            _groups.pop((account_id, region, rg_id), None)
            return []
        return list(found)


def forget_all() -> None:
    """Drop every reference to engines and the CA (engines.shutdown_all stopped the engines)."""
    global _ca  # noqa: PLW0603
    with _lock:
        _groups.clear()
        fronts = list(_names.values())
        _names.clear()
        _ca = None
    for front in fronts:
        front.close()


def _exc(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException  # noqa: PLC0415

    return ElastiCacheException(code, message)


def _global_primary(account_id: str, global_id: str) -> tuple[str, str] | None:
    try:
        described = elasticache_global.describe_global_group(account_id, global_id, show_members=True)
    except Exception:
        return None  # the control plane's own check answers GlobalReplicationGroupNotFoundFault
    for member in described.get("Members", []):
        if member["Role"] == elasticache_global.PRIMARY:
            return (member["ReplicationGroupRegion"], member["ReplicationGroupId"])
    return None


def _set_endpoints(rg: Any, started: list[ValkeyNode]) -> None:
    host, port = started[0].endpoint
    rg.port = port
    for node_group, node in zip(rg.node_groups, started, strict=False):
        host, port = node.endpoint
        node_group["port"] = port
        node_group["primary_endpoint_address"] = host
        node_group["reader_endpoint_address"] = host
        node_group["primary_endpoint"] = {"address": host, "port": port}
        node_group["reader_endpoint"] = {"address": host, "port": port}
        for member in node_group.get("node_group_members", []):
            member["read_endpoint"] = {"address": host, "port": port}


def _start_group(
    account_id: str, region: str, rg: Any, kwargs: dict[str, Any], upstream: list[ValkeyNode] | None = None
) -> list[ValkeyNode]:
    rg_id = str(rg.replication_group_id)
    tls = bool(kwargs.get("transit_encryption_enabled"))
    if upstream:
        # A Global Datastore secondary inherits in-transit encryption from the primary: the API refuses
        # TransitEncryptionEnabled with GlobalReplicationGroupId (cfn/elasticache.py
        # INHERITED_FROM_GLOBAL has the sources), so the secondary's engine runs as the primary's does.
        tls = tls or upstream[0].tls
    # CloudFormation resolves {{resolve:secretsmanager:...}} before the handler calls CreateReplicationGroup;
    # moto passes the reference through, so resolve it here as rds_hooks does for the master password
    # (the template's AuthToken is such a reference: without this the server's requirepass is the
    # reference's text and every client with the real token gets WRONGPASS).
    from streamflix_dr_emulator.engines.rds_hooks import resolve_secret_refs  # noqa: PLC0415

    token = resolve_secret_refs(kwargs.get("auth_token") or None, account_id, region) or None
    ca = certificate_authority() if tls else None
    started: list[ValkeyNode] = []
    try:
        for node_group in rg.node_groups:
            name = f"{rg_id}-{node_group['node_group_id']}"
            node = ValkeyNode(
                region, name, token, tls, ca=ca, hostnames=(f"{rg_id}.{region}.cache.emulator",)
            )
            started.append(node.start())
    except Exception:
        for node in started:
            node.stop()
        raise
    return started


def _hook_create(original: Any) -> Any:
    # AWS API: elasticache CreateReplicationGroup —
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
    def create_replication_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not engines.enabled():
            return original(self, *args, **kwargs)
        if (
            str(kwargs.get("cluster_mode") or "disabled").lower() != "disabled"
            or (kwargs.get("num_node_groups") or 1) > 1
        ):
            raise _exc(
                "InvalidParameterCombination",
                f"Replication group {kwargs.get('replication_group_id')}: cluster mode (several node "
                "groups, hash slots) is not modelled by the emulator's Valkey engines; use a cluster-mode-"
                "disabled group (NumCacheClusters) or switch engines off (STREAMFLIX_EMULATOR_ENGINES=0).",
            )
        upstream: list[ValkeyNode] = []
        global_id = kwargs.get("global_replication_group_id")
        if global_id:
            primary = _global_primary(self.account_id, global_id)
            if primary is not None:
                upstream = nodes(self.account_id, *primary)
                if not upstream:
                    raise _exc(
                        "InvalidGlobalReplicationGroupState",
                        f"Global datastore {global_id}: its primary {primary[0]}/{primary[1]} has no Valkey "
                        "engine (it was created while engines were off); create it again with engines on.",
                    )
        rg = original(self, *args, **kwargs)
        rg_id = str(rg.replication_group_id)
        try:
            started = _start_group(self.account_id, self.region_name, rg, kwargs, upstream)
            if upstream:
                rtt, bandwidth = _link_for(self.region_name, upstream[0].region)
                for node, source in zip(started, upstream, strict=False):
                    node.replicate_from(source, rtt_seconds=rtt, bandwidth_bytes_per_s=bandwidth)
        except ValkeyEngineError as e:
            self.replication_groups.pop(rg_id, None)
            raise _exc("InvalidReplicationGroupState", f"Replication group {rg_id}: {e}") from e
        _adopt_names(self.account_id, self.region_name, started)
        _set_endpoints(rg, started)
        with _lock:
            _groups[(self.account_id, self.region_name, rg_id)] = started
        return rg

    return create_replication_group


def _stop_group(account_id: str, region: str, rg_id: str) -> None:
    with _lock:
        found = _groups.pop((account_id, region, rg_id), [])
    for node in found:
        front = node.front
        if front is not None:
            # The endpoint outlives the group (module note on _names): it reaches nothing for now.
            front.backend_host = str(Path(str(front.backend_host)).with_name("gone.sock"))
            front.backend_port = 0

            async def drop(front: net.TlsFront = front) -> None:
                front._drop_all()

            front._run_now(drop)
            node.front = None
            with _lock:
                _names[(account_id, region, node.name)] = front
        node.stop()


def _adopt_names(account_id: str, region: str, started: list[ValkeyNode]) -> None:
    """A group created under an id that had an endpoint before answers at that endpoint again."""
    for node in started:
        with _lock:
            named = _names.pop((account_id, region, node.name), None)
        if named is None or node.front is None:
            continue
        fresh = node.front
        named.backend_host, named.backend_port = fresh.backend_host, fresh.backend_port
        named.preamble = fresh.preamble
        fresh.close()
        node.front = named


def _hook_delete(original: Any) -> Any:
    # AWS API: elasticache DeleteReplicationGroup —
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteReplicationGroup.html
    def delete_replication_group(self: Any, replication_group_id: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, replication_group_id, *args, **kwargs)
        _stop_group(self.account_id, self.region_name, replication_group_id)
        return result

    return delete_replication_group


def _hook_failover(original: Any) -> Any:
    def failover_global_group(
        account_id: str, global_id: str, primary_region: str, primary_rg_id: str
    ) -> dict[str, Any]:
        old = _global_primary(account_id, global_id)
        result = original(account_id, global_id, primary_region, primary_rg_id)
        if not engines.enabled() or old is None:
            return result
        promoted = nodes(account_id, primary_region, primary_rg_id)
        demoted = nodes(account_id, *old)
        for node in promoted:
            node.promote()
        rtt, bandwidth = _link_for(old[0], primary_region)
        for node, source in zip(demoted, promoted, strict=False):
            # A node whose region is down keeps this as pending and applies it when it answers again.
            node.replicate_from(source, rtt_seconds=rtt, bandwidth_bytes_per_s=bandwidth)
        return result

    return failover_global_group


def _hook_disassociate(original: Any) -> Any:
    def disassociate_member(account_id: str, global_id: str, rg_id: str, rg_region: str) -> dict[str, Any]:
        result = original(account_id, global_id, rg_id, rg_region)
        if engines.enabled():
            for node in nodes(account_id, rg_region, rg_id):
                node.promote()
        return result

    return disassociate_member


def _hook_delete_global(original: Any) -> Any:
    def delete_global_group(account_id: str, global_id: str, retain_primary: bool = True) -> dict[str, Any]:
        primary = _global_primary(account_id, global_id)
        result = original(account_id, global_id, retain_primary)
        if not retain_primary and primary is not None:
            _stop_group(account_id, *primary)
        return result

    return delete_global_group


_installed = False


def install() -> None:
    """Wrap the ElastiCache seams listed in the module docstring. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    with _lock:
        if _installed:
            return
        from moto.elasticache.models import ElastiCacheBackend  # noqa: PLC0415

        patch_attr(
            ElastiCacheBackend,
            "create_replication_group",
            _hook_create(ElastiCacheBackend.create_replication_group),
        )
        patch_attr(
            ElastiCacheBackend,
            "delete_replication_group",
            _hook_delete(ElastiCacheBackend.delete_replication_group),
        )
        patch_attr(
            elasticache_global,
            "failover_global_group",
            _hook_failover(elasticache_global.failover_global_group),
        )
        patch_attr(
            elasticache_global,
            "disassociate_member",
            _hook_disassociate(elasticache_global.disassociate_member),
        )
        patch_attr(
            elasticache_global,
            "delete_global_group",
            _hook_delete_global(elasticache_global.delete_global_group),
        )
        _installed = True
