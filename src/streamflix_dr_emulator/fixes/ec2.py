"""AWS::EC2::SubnetRouteTableAssociation that DescribeRouteTables can see.

moto records the CFN association in a side table only, so the route table's
``Associations`` stay empty. CloudFormation calls AssociateRouteTable
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateRouteTable.html) and the
resource's Ref is the association id
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-subnetroutetableassociation.html#aws-resource-ec2-subnetroutetableassociation-return-values).
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_installed = False


def install() -> None:
    """Patch moto's SubnetRouteTableAssociation model. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ec2.models import ec2_backends  # noqa: PLC0415
    from moto.ec2.models.subnets import SubnetRouteTableAssociation  # noqa: PLC0415

    original_create = SubnetRouteTableAssociation.create_from_cloudformation_json

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        assoc: Any = original_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        backend = ec2_backends[account_id][region_name]
        assoc.association_id = backend.associate_route_table(assoc.route_table_id, subnet_id=assoc.subnet_id)
        return assoc

    def physical_resource_id(self: Any) -> str:
        return getattr(self, "association_id", None) or self.route_table_id

    def delete(self: Any, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        association_id = getattr(self, "association_id", None)
        if association_id:
            backend.disassociate_route_table(association_id)
        backend.subnet_associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)

    patch_attr(
        SubnetRouteTableAssociation,
        "create_from_cloudformation_json",
        classmethod(create_from_cloudformation_json),
    )
    patch_attr(SubnetRouteTableAssociation, "physical_resource_id", property(physical_resource_id))
    patch_attr(SubnetRouteTableAssociation, "delete", delete)
    _installed = True
