"""RDS CloudFormation models: Ref values, GetAtt attributes and in-place updates.

moto 5.2.5 gives AWS::RDS::DBSubnetGroup and AWS::RDS::DBParameterGroup no physical id, so
``Ref`` yields the Python object: describe_stack_resources shows an empty PhysicalResourceId
and ``DBParameterGroupName: !Ref Group`` on a DBInstance crashes CreateStack. CloudFormation's
Ref for both is the group name
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbsubnetgroup.html#aws-resource-rds-dbsubnetgroup-return-values,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbparametergroup.html#aws-resource-rds-dbparametergroup-return-values).
AWS::RDS::DBInstance also returns DBInstanceArn and DbiResourceId through Fn::GetAtt
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbinstance.html#aws-resource-rds-dbinstance-return-values),
and updates in place through ModifyDBInstance for the properties changed here. Deleting a
cross-region read replica works (moto removed it from its source by the wrong key).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

log = logging.getLogger(__name__)

_installed = False

# CFN DBInstance property -> moto modify_db_instance keyword (ModifyDBInstance request parameters).
_MODIFIABLE = {
    "DBInstanceClass": "db_instance_class",
    "AllocatedStorage": "allocated_storage",
    "BackupRetentionPeriod": "backup_retention_period",
    "MultiAZ": "multi_az",
    "DeletionProtection": "deletion_protection",
    "DBParameterGroupName": "db_parameter_group_name",
    "PreferredBackupWindow": "preferred_backup_window",
    "PreferredMaintenanceWindow": "preferred_maintenance_window",
    "EngineVersion": "engine_version",
}


def _name_of(value: Any) -> Any:
    return getattr(value, "name", value)


def install() -> None:
    """Patch moto's RDS CloudFormation models. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415
    from moto.rds.models import DBInstance, DBParameterGroup, DBSubnetGroup, rds_backends  # noqa: PLC0415

    patch_attr(DBSubnetGroup, "physical_resource_id", property(lambda self: self.name))
    patch_attr(DBParameterGroup, "physical_resource_id", property(lambda self: self.name))
    patch_attr(DBParameterGroup, "cloudformation_name_type", staticmethod(lambda: "DBParameterGroupName"))

    original_create = DBInstance.create_from_cloudformation_json

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        props = cloudformation_json.setdefault("Properties", {})
        # moto's model reads ``.name`` off these (it expected the Ref to be the object).
        if isinstance(props.get("DBSubnetGroupName"), str):
            props["DBSubnetGroupName"] = SimpleNamespace(name=props["DBSubnetGroupName"])
        if props.get("DBSecurityGroups"):
            props["DBSecurityGroups"] = [SimpleNamespace(name=_name_of(g)) for g in props["DBSecurityGroups"]]
        if props.get("DBParameterGroupName") is not None:
            props["DBParameterGroupName"] = _name_of(props["DBParameterGroupName"])
        return original_create(resource_name, cloudformation_json, account_id, region_name, **kw)

    def update_from_cloudformation_json(  # noqa: PLR0917 - moto's model signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        db_kwargs = {kw: _name_of(props[p]) for p, kw in _MODIFIABLE.items() if p in props}
        for flag in ("multi_az", "deletion_protection"):
            # CFN Booleans often arrive as "true"/"false" from a String parameter; "false" is truthy.
            if flag in db_kwargs:
                db_kwargs[flag] = to_bool(db_kwargs[flag]) is True
        if db_kwargs:
            backend = rds_backends[account_id][region_name]
            backend.modify_db_instance(original_resource.db_instance_identifier, db_kwargs)
        return original_resource

    attrs = {
        "Endpoint.Address": lambda db: db.address,
        "Endpoint.Port": lambda db: str(db.port),
        "DBInstanceArn": lambda db: db.db_instance_arn,
        "DbiResourceId": lambda db: db.dbi_resource_id,
    }

    def has_cfn_attr(cls: Any, attr: str) -> bool:
        return attr in attrs

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name not in attrs:
            raise UnformattedGetAttTemplateException()
        return attrs[attribute_name](self)

    def remove_replica(self: Any, replica: Any) -> None:
        # moto records a cross-region replica by ARN (add_replica) but removes it by identifier,
        # so deleting a cross-region read replica (DeleteDBInstance) failed with ValueError.
        for ref in (replica.db_instance_arn, replica.db_instance_identifier):
            if ref in self.replicas:
                self.replicas.remove(ref)

    patch_attr(DBInstance, "remove_replica", remove_replica)
    patch_attr(DBInstance, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    patch_attr(DBInstance, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))
    patch_attr(DBInstance, "has_cfn_attr", classmethod(has_cfn_attr))
    patch_attr(DBInstance, "get_cfn_attribute", get_cfn_attribute)
    _installed = True
