"""ElastiCache Global Datastore for moto (global replication groups).

moto 5.2.5 has no global replication groups. Modelled here, each traced to the API reference
(https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/):

* ``CreateGlobalReplicationGroup`` — the id is ``<region prefix>-<suffix>``; the prefixes are the
  ones AWS lists per region in the ElastiCache user guide, "Using the AWS CLI with Global
  datastores" (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-CLI.html),
  e.g. ``ldgnf`` for us-east-1. For a region whose prefix that page does not show us (eu-west-2
  among them) the emulator derives a stable five-letter prefix from the region name; code must
  treat the id as opaque, as AWS intends.
* ``DescribeGlobalReplicationGroups`` (``ShowMemberInfo`` adds ``Members``).
* A secondary is added with ``CreateReplicationGroup(GlobalReplicationGroupId=...)`` in another
  region; it inherits engine, version and node type from the primary ("Prerequisites and
  limitations" in the Global Datastore guide).
* ``FailoverGlobalReplicationGroup`` — promotes a secondary, the old primary becomes secondary. While the
  primary's region is in an emulated outage it is refused with InvalidGlobalReplicationGroupState ("The
  Global datastore is not available or in primary-only state", the error the API reference lists): a
  failover demotes the old primary to secondary, which needs that region, and AWS documents nothing
  about a failover whose primary region cannot answer, so the emulator fails loudly rather than guess.
  ``DisassociateGlobalReplicationGroup`` of the secondary, which only touches the secondary's region
  ("The secondary cluster will no longer receive updates from the primary cluster, but will remain as a
  standalone cluster in that Amazon region"), is the way out, as the runbook does.
* ``DisassociateGlobalReplicationGroup`` — the secondary becomes a standalone replication group.
* ``DeleteGlobalReplicationGroup`` — refused (InvalidGlobalReplicationGroupState) while secondaries
  are associated; ``RetainPrimaryReplicationGroup=false`` deletes the primary too.
* ``DeleteReplicationGroup`` on a member is refused (InvalidReplicationGroupState): members leave
  the datastore first.

Changes complete at once (AWS passes through ``creating``/``modifying``); status is ``available``.
Error codes/statuses are the botocore model's (elasticache 2015-02-02).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

PRIMARY = "PRIMARY"
SECONDARY = "SECONDARY"

# From the ElastiCache user guide page cited in the module docstring.
REGION_PREFIXES: dict[str, str] = {
    "us-east-2": "fpkhr",
    "us-east-1": "ldgnf",
    "us-west-1": "virxk",
    "us-west-2": "sgaui",
    "ca-central-1": "bxodz",
    "ap-south-1": "erpgt",
    "ap-northeast-1": "quwsw",
    "ap-northeast-2": "lfqnh",
    "ap-northeast-3": "nlapn",
    "ap-southeast-1": "vlqxn",
    "ap-southeast-2": "vbgxd",
}


def region_prefix(region: str) -> str:
    """The Global Datastore id prefix AWS applies in ``region`` (derived when undocumented here)."""
    if region in REGION_PREFIXES:
        return REGION_PREFIXES[region]
    digest = hashlib.sha256(region.encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:5])


# --- public functions (CloudFormation models and the Valkey engine's hooks call these) ------------


def create_global_group(
    account_id: str, region: str, suffix: str, primary_rg_id: str, description: str = ""
) -> dict[str, Any]:
    """Create a Global Datastore around an existing replication group; return its description.

    Args:
        account_id: owning account.
        region: the primary replication group's region (where the call is made).
        suffix: ``GlobalReplicationGroupIdSuffix``; the id becomes ``<prefix>-<suffix>``.
        primary_rg_id: the replication group that becomes PRIMARY.
        description: ``GlobalReplicationGroupDescription``.

    Returns:
        The ``GlobalReplicationGroup`` dict, ``Members`` included.
    """
    return _describe(_create(account_id, region, suffix, primary_rg_id, description), True)


def describe_global_group(account_id: str, global_id: str, show_members: bool = True) -> dict[str, Any]:
    """The ``GlobalReplicationGroup`` dict; GlobalReplicationGroupNotFoundFault when absent."""
    return _describe(_get(account_id, global_id), show_members)


def delete_global_group(account_id: str, global_id: str, retain_primary: bool = True) -> dict[str, Any]:
    """Delete a Global Datastore that has no secondaries; return its last description."""
    return _describe(_delete(account_id, global_id, retain_primary), True)


def failover_global_group(
    account_id: str, global_id: str, primary_region: str, primary_rg_id: str
) -> dict[str, Any]:
    """Promote the secondary ``primary_rg_id`` in ``primary_region``; return the new description."""
    return _describe(_failover(account_id, global_id, primary_region, primary_rg_id), True)


def disassociate_member(account_id: str, global_id: str, rg_id: str, rg_region: str) -> dict[str, Any]:
    """Detach a secondary, which becomes a standalone replication group; return the description."""
    return _describe(_disassociate(account_id, global_id, rg_id, rg_region), True)


def member_role(account_id: str, region: str, rg_id: str) -> str | None:
    """PRIMARY, SECONDARY or None for a replication group."""
    for group in groups(account_id):
        for member in group.members:
            if (member.region, member.rg_id) == (region, rg_id):
                return member.role
    return None


def primary_of(account_id: str, region: str, rg_id: str) -> tuple[str, str] | None:
    """(region, id) of the primary a secondary replicates from; None for anything else."""
    for group in groups(account_id):
        if any(m.role == SECONDARY and (m.region, m.rg_id) == (region, rg_id) for m in group.members):
            primary = group.primary
            return (primary.region, primary.rg_id)
    return None


# --- model ------------------------------------------------------------------------------------


@dataclass
class Member:
    """A replication group in a Global Datastore."""

    region: str
    rg: Any  # moto ReplicationGroup
    role: str

    @property
    def rg_id(self) -> str:
        return str(self.rg.replication_group_id)


@dataclass
class GlobalGroup:
    """One Global Datastore."""

    account_id: str
    global_id: str
    description: str
    members: list[Member] = field(default_factory=list)
    status: str = "available"

    @property
    def primary(self) -> Member:
        return next(m for m in self.members if m.role == PRIMARY)

    @property
    def arn(self) -> str:
        return f"arn:aws:elasticache::{self.account_id}:globalreplicationgroup:{self.global_id}"


_groups: dict[tuple[str, str], GlobalGroup] = {}


def _backend(account_id: str, region: str) -> Any:
    from moto.elasticache.models import elasticache_backends  # noqa: PLC0415

    return elasticache_backends[account_id][region]


def _member_alive(account_id: str, member: Member) -> bool:
    return _backend(account_id, member.region).replication_groups.get(member.rg_id) is member.rg


def groups(account_id: str | None = None) -> list[GlobalGroup]:
    """Live Global Datastores; members whose replication group vanished (moto reset) are dropped."""
    with regional_state.LOCK:
        for key, group in list(_groups.items()):
            group.members = [m for m in group.members if _member_alive(group.account_id, m)]
            if not any(m.role == PRIMARY for m in group.members):
                del _groups[key]
        return [g for g in _groups.values() if account_id is None or g.account_id == account_id]


def _exc(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException  # noqa: PLC0415

    return ElastiCacheException(code, message)


def _not_found(global_id: str) -> Exception:
    return _exc("GlobalReplicationGroupNotFoundFault", f"Global replication group {global_id} not found.")


def _invalid_value(message: str) -> Exception:
    return _exc("InvalidParameterValue", message)


def _get(account_id: str, global_id: str) -> GlobalGroup:
    if not global_id:
        raise _invalid_value("GlobalReplicationGroupId is required.")
    for group in groups(account_id):
        if group.global_id == global_id:
            return group
    raise _not_found(global_id)


def _rg(account_id: str, region: str, rg_id: str) -> Any:
    rg = _backend(account_id, region).replication_groups.get(rg_id)
    if rg is None:
        raise _exc("ReplicationGroupNotFoundFault", f"Replication group {rg_id} not found in {region}.")
    return rg


def _set_membership(rg: Any, global_id: str, role: str | None) -> None:
    rg.global_replication_group_id = global_id
    if role is None:
        if hasattr(rg, "global_replication_group_member_role"):
            del rg.global_replication_group_member_role
    else:
        rg.global_replication_group_member_role = role


def _create(account_id: str, region: str, suffix: str, primary_rg_id: str, description: str) -> GlobalGroup:
    if not suffix:
        raise _invalid_value("GlobalReplicationGroupIdSuffix is required.")
    with regional_state.LOCK:
        rg = _rg(account_id, region, primary_rg_id)
        if member_role(account_id, region, primary_rg_id) is not None:
            raise _exc(
                "InvalidReplicationGroupState",
                f"Replication group {primary_rg_id} is already a member of a Global datastore.",
            )
        node_type = str(rg.cache_node_type or "")
        if node_type.startswith("cache.t"):
            # Global Datastore guide, "Prerequisites and limitations": T-class nodes are not supported.
            raise _invalid_value(
                f"Global datastore is not supported for node type {node_type} of {primary_rg_id}; "
                "use M5/M6g/M7g/R5/R6g/R6gd/R7g (large or bigger)."
            )
        if rg.status != "available":
            raise _exc(
                "InvalidReplicationGroupState",
                f"Replication group {primary_rg_id} is {rg.status}, not available.",
            )
        global_id = f"{region_prefix(region)}-{suffix}"
        if any(g.global_id == global_id for g in groups(account_id)):
            raise _exc(
                "GlobalReplicationGroupAlreadyExistsFault",
                f"Global replication group {global_id} already exists.",
            )
        group = GlobalGroup(account_id, global_id, description or "", [Member(region, rg, PRIMARY)])
        _set_membership(rg, global_id, PRIMARY)
        _groups[(account_id, global_id)] = group
        log.info("global datastore %s created around %s/%s", global_id, region, primary_rg_id)
        return group


def _add_secondary(account_id: str, region: str, rg: Any, global_id: str) -> None:
    group = _get(account_id, global_id)
    primary = group.primary.rg
    for attr in ("engine", "engine_version", "cache_node_type", "cluster_enabled", "cluster_mode"):
        if hasattr(primary, attr):
            setattr(rg, attr, getattr(primary, attr))
    _set_membership(rg, global_id, SECONDARY)
    group.members.append(Member(region, rg, SECONDARY))


def _check_can_join(account_id: str, region: str, global_id: str) -> None:
    group = _get(account_id, global_id)
    if any(m.region == region for m in group.members):
        raise _exc(
            "InvalidGlobalReplicationGroupState",
            f"Global replication group {global_id} already has a member in {region}; "
            "a Global datastore has at most one cluster per region.",
        )
    if group.status != "available":
        raise _exc(
            "InvalidGlobalReplicationGroupState", f"Global replication group {global_id} is {group.status}."
        )


def _failover(account_id: str, global_id: str, primary_region: str, primary_rg_id: str) -> GlobalGroup:
    with regional_state.LOCK:
        group = _get(account_id, global_id)
        if not primary_region or not primary_rg_id:
            raise _invalid_value("PrimaryRegion and PrimaryReplicationGroupId are required.")
        target = next(
            (m for m in group.members if (m.region, m.rg_id) == (primary_region, primary_rg_id)), None
        )
        if target is None:
            raise _invalid_value(
                f"Replication group {primary_rg_id} in {primary_region} is not a member of {global_id}."
            )
        if target.role == PRIMARY:
            raise _invalid_value(
                f"Replication group {primary_rg_id} in {primary_region} is already the primary "
                f"of {global_id}."
            )
        if regional_state.is_failed(group.primary.region):
            raise _exc(
                "InvalidGlobalReplicationGroupState",
                f"Global replication group {global_id} is not available: its primary "
                f"{group.primary.region}/{group.primary.rg_id} cannot be reached to be demoted "
                "(emulated regional outage). Disassociate the secondary with "
                "DisassociateGlobalReplicationGroup to use it standalone.",
            )
        old = group.primary
        old.role = SECONDARY
        target.role = PRIMARY
        _set_membership(old.rg, global_id, SECONDARY)
        _set_membership(target.rg, global_id, PRIMARY)
        log.info("global datastore %s failed over to %s/%s", global_id, primary_region, primary_rg_id)
        return group


def _disassociate(account_id: str, global_id: str, rg_id: str, rg_region: str) -> GlobalGroup:
    with regional_state.LOCK:
        group = _get(account_id, global_id)
        member = next((m for m in group.members if (m.region, m.rg_id) == (rg_region, rg_id)), None)
        if member is None:
            raise _invalid_value(f"Replication group {rg_id} in {rg_region} is not a member of {global_id}.")
        if member.role == PRIMARY:
            raise _invalid_value(
                f"Replication group {rg_id} is the primary of {global_id}; only secondaries can be "
                "disassociated (fail over first, or delete the Global datastore)."
            )
        group.members.remove(member)
        _set_membership(member.rg, "", None)
        log.info("replication group %s/%s disassociated from %s", rg_region, rg_id, global_id)
        return group


def _delete(account_id: str, global_id: str, retain_primary: bool) -> GlobalGroup:
    with regional_state.LOCK:
        group = _get(account_id, global_id)
        secondaries = [m for m in group.members if m.role == SECONDARY]
        if secondaries:
            names = ", ".join(f"{m.region}/{m.rg_id}" for m in secondaries)
            raise _exc(
                "InvalidGlobalReplicationGroupState",
                f"Global replication group {global_id} still has secondary clusters ({names}); "
                "disassociate them with DisassociateGlobalReplicationGroup first.",
            )
        primary = group.primary
        _set_membership(primary.rg, "", None)
        if not retain_primary:
            _backend(account_id, primary.region).replication_groups.pop(primary.rg_id, None)
        del _groups[(account_id, global_id)]
        group.status = "deleting"
        log.info("global datastore %s deleted (primary retained: %s)", global_id, retain_primary)
        return group


def _describe(group: GlobalGroup, show_members: bool) -> dict[str, Any]:
    primary = group.primary.rg
    result: dict[str, Any] = {
        "GlobalReplicationGroupId": group.global_id,
        "GlobalReplicationGroupDescription": group.description,
        "Status": group.status,
        "CacheNodeType": primary.cache_node_type,
        "Engine": primary.engine,
        "EngineVersion": primary.engine_version,
        "ClusterEnabled": bool(primary.cluster_enabled),
        "AuthTokenEnabled": bool(primary.auth_token_enabled),
        "TransitEncryptionEnabled": bool(primary.transit_encryption_enabled),
        "AtRestEncryptionEnabled": bool(primary.at_rest_encryption_enabled),
        "ARN": group.arn,
    }
    if show_members:
        result["Members"] = [
            {
                "ReplicationGroupId": m.rg_id,
                "ReplicationGroupRegion": m.region,
                "Role": m.role,
                "AutomaticFailover": m.rg.automatic_failover,
                "Status": "associated",
            }
            for m in group.members
        ]
    return result


# --- HTTP API (methods added to moto's ElastiCacheResponse) ---------------------------------------


# AWS API: elasticache CreateGlobalReplicationGroup —
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateGlobalReplicationGroup.html
def _api_create(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    p = self._get_params()
    group = create_global_group(
        self.current_account,
        self.region,
        p.get("GlobalReplicationGroupIdSuffix", ""),
        p.get("PrimaryReplicationGroupId", ""),
        p.get("GlobalReplicationGroupDescription", ""),
    )
    return ActionResult({"GlobalReplicationGroup": group})


# AWS API: elasticache DescribeGlobalReplicationGroups —
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeGlobalReplicationGroups.html
def _api_describe(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    p = self._get_params()
    show = str(p.get("ShowMemberInfo", "false")).lower() == "true"
    wanted = p.get("GlobalReplicationGroupId")
    if wanted:
        found = [describe_global_group(self.current_account, wanted, show)]
    else:
        found = [_describe(g, show) for g in groups(self.current_account)]
    return ActionResult({"GlobalReplicationGroups": found})


# AWS API: elasticache FailoverGlobalReplicationGroup —
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_FailoverGlobalReplicationGroup.html
def _api_failover(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    p = self._get_params()
    group = failover_global_group(
        self.current_account,
        p.get("GlobalReplicationGroupId", ""),
        p.get("PrimaryRegion", ""),
        p.get("PrimaryReplicationGroupId", ""),
    )
    return ActionResult({"GlobalReplicationGroup": group})


# AWS API: elasticache DisassociateGlobalReplicationGroup —
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DisassociateGlobalReplicationGroup.html
def _api_disassociate(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    p = self._get_params()
    group = disassociate_member(
        self.current_account,
        p.get("GlobalReplicationGroupId", ""),
        p.get("ReplicationGroupId", ""),
        p.get("ReplicationGroupRegion", ""),
    )
    return ActionResult({"GlobalReplicationGroup": group})


# AWS API: elasticache DeleteGlobalReplicationGroup —
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteGlobalReplicationGroup.html
def _api_delete(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    p = self._get_params()
    retain = p.get("RetainPrimaryReplicationGroup")
    if retain is None:
        raise _invalid_value("RetainPrimaryReplicationGroup is required (true or false).")
    group = delete_global_group(
        self.current_account, p.get("GlobalReplicationGroupId", ""), str(retain).lower() == "true"
    )
    return ActionResult({"GlobalReplicationGroup": group})


_installed = False


def install() -> None:
    """Add the Global Datastore API to moto's ElastiCache and membership to its replication groups."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.elasticache.models import ElastiCacheBackend  # noqa: PLC0415
    from moto.elasticache.responses import ElastiCacheResponse  # noqa: PLC0415

    patch_attr(ElastiCacheResponse, "create_global_replication_group", _api_create)
    patch_attr(ElastiCacheResponse, "describe_global_replication_groups", _api_describe)
    patch_attr(ElastiCacheResponse, "failover_global_replication_group", _api_failover)
    patch_attr(ElastiCacheResponse, "disassociate_global_replication_group", _api_disassociate)
    patch_attr(ElastiCacheResponse, "delete_global_replication_group", _api_delete)

    original_create = ElastiCacheBackend.create_replication_group

    # AWS API: elasticache CreateReplicationGroup, GlobalReplicationGroupId ("the name of the Global
    # datastore" the new group joins as a secondary) —
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
    def create_replication_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        global_id = kwargs.get("global_replication_group_id")
        if not global_id:
            return original_create(self, *args, **kwargs)
        with regional_state.LOCK:
            _check_can_join(self.account_id, self.region_name, global_id)
            rg = original_create(self, *args, **kwargs)
            _add_secondary(self.account_id, self.region_name, rg, global_id)
            return rg

    patch_attr(ElastiCacheBackend, "create_replication_group", create_replication_group)

    original_delete = ElastiCacheBackend.delete_replication_group

    def delete_replication_group(self: Any, replication_group_id: str, *args: Any, **kwargs: Any) -> Any:
        role = member_role(self.account_id, self.region_name, replication_group_id)
        if role is not None:
            raise _exc(
                "InvalidReplicationGroupState",
                f"Replication group {replication_group_id} is the {role} of a Global datastore; "
                "disassociate it (or delete the Global datastore) first.",
            )
        return original_delete(self, replication_group_id, *args, **kwargs)

    patch_attr(ElastiCacheBackend, "delete_replication_group", delete_replication_group)
    _installed = True
