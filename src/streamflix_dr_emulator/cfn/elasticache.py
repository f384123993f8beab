"""ElastiCache CloudFormation models: subnet group, replication group, global replication group.

Backed by moto's ElastiCache backend, so DescribeCacheSubnetGroups, DescribeReplicationGroups
and ListTagsForResource see what the stack created. References (CloudFormation template reference):
- AWS::ElastiCache::SubnetGroup — Ref: CacheSubnetGroupName.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticache-subnetgroup.html
- AWS::ElastiCache::ReplicationGroup — Ref: ReplicationGroupId; GetAtt PrimaryEndPoint.Address/Port,
  ReaderEndPoint.Address/Port, ReadEndPoint.Addresses(.List)/Ports(.List), ConfigurationEndPoint.Address/Port.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticache-replicationgroup.html
- AWS::ElastiCache::GlobalReplicationGroup — Ref: GlobalReplicationGroupId; GetAtt GlobalReplicationGroupId,
  Status. The id is the suffix behind an AWS-chosen prefix
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateGlobalReplicationGroup.html).
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticache-globalreplicationgroup.html

moto 5.2.5 has no global datastore; ``streamflix_dr_emulator.elasticache_global`` adds it (the API
and membership), and the global model calls its public functions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.elasticache.models import elasticache_backends

from streamflix_dr_emulator import elasticache_global
from streamflix_dr_emulator.cfn._common import (
    CfnResource,
    generated_name,
    resource_tags,
    tag_list,
    to_bool,
    to_int,
)

log = logging.getLogger(__name__)

# Properties a secondary inherits from its Global Datastore's primary; CreateReplicationGroup with
# GlobalReplicationGroupId refuses them: InvalidParameterCombination "Cannot use the given parameters when
# creating new replication group in an existing global replication group." (AWS's text, quoted in
# umotif-public/terraform-aws-elasticache-redis#31 and hashicorp/terraform-provider-aws#24854, #20893;
# terraform-provider-aws internal/service/elasticache/replication_group.go declares these as ConflictsWith
# global_replication_group_id; API reference CreateReplicationGroup, GlobalReplicationGroupId,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html;
# awsdocs/aws-cloudformation-user-guide#1117: Engine, EngineVersion, AtRestEncryptionEnabled "are
# prepopulated to match the primary cluster").
INHERITED_FROM_GLOBAL = (
    "AtRestEncryptionEnabled",
    "TransitEncryptionEnabled",
    "TransitEncryptionMode",
    "Engine",
    "EngineVersion",
    "CacheNodeType",
    "CacheParameterGroupName",
    "MultiAZEnabled",
    "AutomaticFailoverEnabled",
)
GLOBAL_COMBINATION_MESSAGE = (
    "Cannot use the given parameters when creating new replication group in an existing global "
    "replication group."
)
# ReplicationGroupId (CreateReplicationGroup): 1-40 alphanumeric characters or hyphens, first a letter, no
# trailing hyphen, no two consecutive hyphens; stored lower-case.
_REPLICATION_GROUP_ID = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


def check_replication_group_id(value: str) -> None:
    """Refuse a ReplicationGroupId CreateReplicationGroup refuses (InvalidParameterValue)."""
    from moto.elasticache.exceptions import InvalidParameterValueException  # noqa: PLC0415

    if not 1 <= len(value) <= 40 or not _REPLICATION_GROUP_ID.match(value) or value.endswith("-"):
        raise InvalidParameterValueException(
            f"Invalid replication group id: {value!r}. ReplicationGroupId must contain 1 to 40 alphanumeric "
            "characters or hyphens, begin with a letter, and neither end with a hyphen nor contain two "
            "consecutive hyphens."
        )


def check_global_secondary(props: dict[str, Any]) -> None:
    """Refuse inherited properties on a replication group joining a Global Datastore."""
    from moto.elasticache.exceptions import InvalidParameterCombinationException  # noqa: PLC0415

    if not props.get("GlobalReplicationGroupId"):
        return
    given = [p for p in INHERITED_FROM_GLOBAL if props.get(p) is not None]
    if given:
        raise InvalidParameterCombinationException(
            f"{GLOBAL_COMBINATION_MESSAGE} (GlobalReplicationGroupId with {', '.join(given)}: a secondary "
            "inherits these from the Global Datastore's primary)"
        )


# What a secondary takes from its Global Datastore's primary (the properties it may not set itself).
_INHERITED_ATTRIBUTES = (
    "engine",
    "engine_version",
    "cache_node_type",
    "cache_parameter_group_name",
    "at_rest_encryption_enabled",
    "transit_encryption_enabled",
    "transit_encryption_mode",
    "automatic_failover",
    "multi_az",
)


def global_primary_group(account_id: str, global_id: str) -> Any:
    """The replication group that is the Global Datastore's PRIMARY member, or None."""
    described = elasticache_global.describe_global_group(account_id, global_id, show_members=True)
    primary = next(
        (m for m in described.get("Members", []) if m.get("Role") == elasticache_global.PRIMARY), None
    )
    if primary is None:
        return None
    return _backend(account_id, primary["ReplicationGroupRegion"]).replication_groups.get(
        primary["ReplicationGroupId"]
    )


def inherit_from_global_primary(account_id: str, global_id: str, group: Any) -> None:
    """Give a new secondary the settings of its Global Datastore's primary, as ElastiCache does.

    CreateReplicationGroup with GlobalReplicationGroupId: the secondary "inherits" engine, version, node
    type, parameter group and encryption from the primary (API reference, GlobalReplicationGroupId;
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-Getting-Started.html).
    """
    source = global_primary_group(account_id, global_id)
    if source is None:
        return
    for attr in _INHERITED_ATTRIBUTES:
        if hasattr(source, attr):
            setattr(group, attr, getattr(source, attr))


def _backend(account_id: str, region_name: str) -> Any:
    return elasticache_backends[account_id][region_name]


class ElastiCacheSubnetGroup(CfnResource, CloudFormationModel):
    """AWS::ElastiCache::SubnetGroup backed by moto's CacheSubnetGroup."""

    CFN_TYPE = "AWS::ElastiCache::SubnetGroup"
    NAME_PROPERTY = "CacheSubnetGroupName"

    def __init__(self, group: Any) -> None:
        self.group = group

    @property
    def physical_resource_id(self) -> str:
        return str(self.group.cache_subnet_group_name)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ElastiCacheSubnetGroup:
        props = cloudformation_json.get("Properties", {})
        # Subnet group names are lower-case, at most 255 characters (CreateCacheSubnetGroup).
        name = generated_name(resource_name, 255, lower=True)
        tags = resource_tags(
            props.get("Tags"), account_id, region_name, kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        )
        group = _backend(account_id, region_name).create_cache_subnet_group(
            cache_subnet_group_name=name,
            cache_subnet_group_description=props.get("Description", ""),
            subnet_ids=list(props.get("SubnetIds", [])),
            tags=tag_list(tags),
        )
        model = cls(group)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        wanted = props.get("CacheSubnetGroupName")
        if wanted and wanted.lower() != original_resource.physical_resource_id:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        # Description and SubnetIds update in place (ModifyCacheSubnetGroup).
        group = original_resource.group
        group.cache_subnet_group_description = props.get("Description", group.cache_subnet_group_description)
        group.subnet_ids = list(props.get("SubnetIds", group.subnet_ids))
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        backend.cache_subnet_groups.pop(self.physical_resource_id, None)
        backend.tagging_service.delete_all_tags_for_resource(self.group.arn)


class ElastiCacheReplicationGroup(CfnResource, CloudFormationModel):
    """AWS::ElastiCache::ReplicationGroup backed by moto's ReplicationGroup."""

    CFN_TYPE = "AWS::ElastiCache::ReplicationGroup"
    NAME_PROPERTY = "ReplicationGroupId"
    # What ModifyReplicationGroup applies here; other updatable properties (EngineVersion, NumCacheClusters,
    # SecurityGroupIds, AuthToken, TransitEncryption*, ...) fail the update loudly; createOnly ones replace.
    IN_PLACE = frozenset(
        {
            "ReplicationGroupDescription",
            "Engine",
            "CacheNodeType",
            "AutomaticFailoverEnabled",
            "MultiAZEnabled",
            "SnapshotRetentionLimit",
            "Tags",
        }
    )
    ATTRIBUTES = frozenset(
        {
            "PrimaryEndPoint.Address",
            "PrimaryEndPoint.Port",
            "ReaderEndPoint.Address",
            "ReaderEndPoint.Port",
            "ReadEndPoint.Addresses",
            "ReadEndPoint.Addresses.List",
            "ReadEndPoint.Ports",
            "ReadEndPoint.Ports.List",
            "ConfigurationEndPoint.Address",
            "ConfigurationEndPoint.Port",
        }
    )

    def __init__(self, group: Any) -> None:
        self.group = group

    @property
    def physical_resource_id(self) -> str:
        return str(self.group.replication_group_id)

    def cfn_attributes(self) -> dict[str, Any]:
        group = self.group
        port = str(group.port)
        node = group.node_groups[0] if group.node_groups else {}
        primary = node.get("primary_endpoint_address", "")
        reader = node.get("reader_endpoint_address", "")
        members = [m.get("read_endpoint", {}).get("address", "") for m in node.get("node_group_members", [])]
        config = getattr(group, "configuration_endpoint", {}) or {}
        return {
            "PrimaryEndPoint.Address": primary,
            "PrimaryEndPoint.Port": port,
            "ReaderEndPoint.Address": reader,
            "ReaderEndPoint.Port": port,
            "ReadEndPoint.Addresses": ",".join(members),
            "ReadEndPoint.Addresses.List": members,
            "ReadEndPoint.Ports": ",".join(port for _ in members),
            "ReadEndPoint.Ports.List": [port for _ in members],
            "ConfigurationEndPoint.Address": config.get("address", ""),
            "ConfigurationEndPoint.Port": str(config.get("port", port)),
        }

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ElastiCacheReplicationGroup:
        props = cloudformation_json.get("Properties", {})
        check_global_secondary(props)
        if props.get("ReplicationGroupId"):
            # A given id is used as given (lower-cased), never cut to fit.
            check_replication_group_id(str(props["ReplicationGroupId"]))
            rg_id = str(props["ReplicationGroupId"]).lower()
        else:
            # A generated id fits the same rules (CloudFormation generates a valid one).
            rg_id = generated_name(resource_name, 40, lower=True).replace("--", "-")
            if not rg_id[:1].isalpha():
                rg_id = f"r{rg_id[1:]}"
        # A secondary joins its global datastore through CreateReplicationGroup's
        # GlobalReplicationGroupId (elasticache_global checks the datastore and the region).
        global_id = props.get("GlobalReplicationGroupId")
        tags = resource_tags(
            props.get("Tags"), account_id, region_name, kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        )
        replicas = to_int(props.get("ReplicasPerNodeGroup"))
        num_clusters = to_int(props.get("NumCacheClusters"))
        if replicas is None and num_clusters:
            # NumCacheClusters counts the primary plus its replicas; moto sizes a cluster-mode-disabled
            # group from ReplicasPerNodeGroup only, so translate.
            replicas = num_clusters - 1
        cluster_mode = props.get("ClusterMode")
        if cluster_mode is not None:
            cluster_mode = str(cluster_mode).lower()
        # The inherited settings are known before the group exists (the engine behind it starts with them).
        source = global_primary_group(account_id, str(global_id)) if global_id else None

        def setting(prop: str, attr: str, convert: Any = lambda v: v) -> Any:
            if source is not None and hasattr(source, attr):
                return getattr(source, attr)
            return convert(props.get(prop))

        group = _backend(account_id, region_name).create_replication_group(
            replication_group_id=rg_id,
            replication_group_description=props.get("ReplicationGroupDescription", ""),
            global_replication_group_id=global_id,
            primary_cluster_id=props.get("PrimaryClusterId"),
            automatic_failover_enabled=bool(to_bool(props.get("AutomaticFailoverEnabled"))),
            multi_az_enabled=bool(to_bool(props.get("MultiAZEnabled"))),
            num_cache_clusters=to_int(props.get("NumCacheClusters")),
            preferred_cache_cluster_azs=props.get("PreferredCacheClusterAZs"),
            num_node_groups=to_int(props.get("NumNodeGroups")),
            replicas_per_node_group=replicas,
            node_group_configuration=props.get("NodeGroupConfiguration"),
            cache_node_type=props.get("CacheNodeType"),
            engine=props.get("Engine"),
            engine_version=props.get("EngineVersion"),
            cache_parameter_group_name=props.get("CacheParameterGroupName"),
            cache_subnet_group_name=props.get("CacheSubnetGroupName"),
            cache_security_group_names=props.get("CacheSecurityGroupNames"),
            security_group_ids=props.get("SecurityGroupIds"),
            tags=tag_list(tags),
            snapshot_arns=props.get("SnapshotArns"),
            snapshot_name=props.get("SnapshotName"),
            preferred_maintenance_window=props.get("PreferredMaintenanceWindow"),
            port=to_int(props.get("Port")),
            notification_topic_arn=props.get("NotificationTopicArn"),
            auto_minor_version_upgrade=to_bool(props.get("AutoMinorVersionUpgrade")),
            snapshot_retention_limit=to_int(props.get("SnapshotRetentionLimit")),
            snapshot_window=props.get("SnapshotWindow"),
            auth_token=props.get("AuthToken"),
            transit_encryption_enabled=setting(
                "TransitEncryptionEnabled", "transit_encryption_enabled", to_bool
            ),
            at_rest_encryption_enabled=setting(
                "AtRestEncryptionEnabled", "at_rest_encryption_enabled", to_bool
            ),
            kms_key_id=props.get("KmsKeyId"),
            user_group_ids=props.get("UserGroupIds"),
            log_delivery_configurations=props.get("LogDeliveryConfigurations"),
            data_tiering_enabled=to_bool(props.get("DataTieringEnabled")),
            network_type=props.get("NetworkType"),
            ip_discovery=props.get("IpDiscovery"),
            transit_encryption_mode=setting("TransitEncryptionMode", "transit_encryption_mode"),
            cluster_mode=cluster_mode,
            serverless_cache_snapshot_name=None,
        )
        if global_id:
            inherit_from_global_primary(account_id, str(global_id), group)
        model = cls(group)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        changed = set(getattr(original_resource, "_streamflix_changed", None) or [])
        from streamflix_dr_emulator.fixes.stack_failures import create_only_properties  # noqa: PLC0415

        wanted = props.get("ReplicationGroupId")
        if (wanted and wanted.lower() != original_resource.physical_resource_id) or (
            changed & create_only_properties(region_name, cls.CFN_TYPE)
        ):
            check_global_secondary(props)
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        node_settings = changed & {"Engine", "CacheNodeType", "AutomaticFailoverEnabled", "MultiAZEnabled"}
        global_id = getattr(original_resource.group, "global_replication_group_id", "")
        if node_settings and global_id:
            from moto.elasticache.exceptions import InvalidParameterValueException  # noqa: PLC0415

            # ModifyReplicationGroup on a Global Datastore member: "Cluster [<id>] is part of a global
            # cluster [<global id>]. Request rejected." (hashicorp/terraform-provider-aws#27875,
            # crossplane-contrib/provider-upjet-aws#1595); they go through ModifyGlobalReplicationGroup.
            raise InvalidParameterValueException(
                f"Cluster [{original_resource.physical_resource_id}] is part of a global cluster "
                f"[{global_id}]. Request rejected."
            )
        # These update in place through ModifyReplicationGroup.
        _backend(account_id, region_name).modify_replication_group(
            replication_group_id=original_resource.physical_resource_id,
            replication_group_description=props.get("ReplicationGroupDescription"),
            engine=props.get("Engine"),
            cache_node_type=props.get("CacheNodeType"),
            automatic_failover_enabled=to_bool(props.get("AutomaticFailoverEnabled")),
            multi_az_enabled=to_bool(props.get("MultiAZEnabled")),
            snapshot_retention_limit=to_int(props.get("SnapshotRetentionLimit")),
        )
        tags = resource_tags(
            props.get("Tags"),
            account_id,
            region_name,
            original_resource.stack_id,
            original_resource.logical_id,
        )
        _backend(account_id, region_name).tagging_service.tag_resource(
            original_resource.group.arn, tag_list(tags)
        )
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        group_id = self.physical_resource_id
        global_id = getattr(self.group, "global_replication_group_id", "")
        if (
            global_id
            and elasticache_global.member_role(account_id, region_name, group_id)
            == elasticache_global.SECONDARY
        ):
            # A secondary leaves its datastore before it can be deleted (DeleteReplicationGroup
            # refuses members); a primary waits for its GlobalReplicationGroup resource to go first.
            elasticache_global.disassociate_member(account_id, global_id, group_id, region_name)
        if group_id in backend.replication_groups:
            backend.delete_replication_group(group_id, retain_primary_cluster=False)
            # moto leaves a deleted group listed as "deleting"; AWS removes it once deleted.
            backend.replication_groups.pop(group_id, None)
        backend.tagging_service.delete_all_tags_for_resource(self.group.arn)


# --- global datastore ---------------------------------------------------------------------------


class ElastiCacheGlobalReplicationGroup(CfnResource, CloudFormationModel):
    """AWS::ElastiCache::GlobalReplicationGroup on ``streamflix_dr_emulator.elasticache_global``."""

    CFN_TYPE = "AWS::ElastiCache::GlobalReplicationGroup"
    ATTRIBUTES = frozenset({"GlobalReplicationGroupId", "Status"})
    # ModifyGlobalReplicationGroup is not modelled: any property change fails the update loudly.
    IN_PLACE = frozenset[str]()
    REPLACES = False

    def __init__(self, global_id: str) -> None:
        self.global_id = global_id

    @property
    def physical_resource_id(self) -> str:
        return self.global_id

    def cfn_attributes(self) -> dict[str, Any]:
        described = elasticache_global.describe_global_group(
            self.account_id, self.global_id, show_members=False
        )
        return {"GlobalReplicationGroupId": self.global_id, "Status": described["Status"]}

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ElastiCacheGlobalReplicationGroup:
        props = cloudformation_json.get("Properties", {})
        members = props.get("Members") or []
        primaries = [m for m in members if m.get("Role", "PRIMARY") == elasticache_global.PRIMARY]
        if len(primaries) != 1:
            raise ValueError(
                f"Members={members!r}: a global replication group needs exactly one member with Role PRIMARY "
                "(CreateGlobalReplicationGroup takes one PrimaryReplicationGroupId)"
            )
        primary = primaries[0]
        primary_region = primary.get("ReplicationGroupRegion") or region_name
        suffix = props.get("GlobalReplicationGroupIdSuffix") or generated_name(resource_name, 40, lower=True)
        described = elasticache_global.create_global_group(
            account_id,
            primary_region,
            suffix,
            primary["ReplicationGroupId"],
            props.get("GlobalReplicationGroupDescription", ""),
        )
        global_id = described["GlobalReplicationGroupId"]
        # Secondaries join from their own region (ReplicationGroup.GlobalReplicationGroupId); listing one
        # here is accepted only when it already is a member.
        for member in members:
            if member is primary:
                continue
            region = member.get("ReplicationGroupRegion") or region_name
            role = elasticache_global.member_role(account_id, region, member.get("ReplicationGroupId", ""))
            if role != elasticache_global.SECONDARY:
                raise ValueError(
                    f"Members: {member!r} is not a secondary of {global_id}; in the emulator a secondary "
                    "joins by creating its ReplicationGroup with GlobalReplicationGroupId in its own region"
                )
        model = cls(global_id)
        model._remember(account_id, region_name, kwargs)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Description and node settings are ModifyGlobalReplicationGroup territory, not modelled;
        # the datastore is kept as is.
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        described = elasticache_global.describe_global_group(account_id, self.global_id, show_members=True)
        # DeleteGlobalReplicationGroup refuses while secondaries are associated: detach them first,
        # keep the primary replication group (it belongs to its own resource).
        for member in described.get("Members", []):
            if member.get("Role") == elasticache_global.SECONDARY:
                elasticache_global.disassociate_member(
                    account_id, self.global_id, member["ReplicationGroupId"], member["ReplicationGroupRegion"]
                )
        elasticache_global.delete_global_group(account_id, self.global_id, retain_primary=True)
