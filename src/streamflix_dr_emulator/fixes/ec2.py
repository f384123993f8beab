"""EC2 CloudFormation models: visible route table associations, and deletes moto leaves out.

AWS::EC2::SubnetRouteTableAssociation that DescribeRouteTables can see.

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


def _backend(account_id: str, region_name: str) -> Any:
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    return ec2_backends[account_id][region_name]


# moto 5.2.5 gives these EC2 models no delete, so a deleted stack leaves them behind (and the VPC,
# whose DeleteVpc refuses extra route tables, cannot go). Each calls the API CloudFormation's
# handler uses: DeleteRouteTable, DeleteRoute, DeleteNatGateway, DetachInternetGateway,
# DeleteInternetGateway, DeleteVpcEndpoints, ReleaseAddress, DeleteFlowLogs
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Operations.html).
def _delete_route_table(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self.id in backend.route_tables:
        backend.delete_route_table(self.id)


def _delete_route(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    table = backend.route_tables.get(self.route_table.id)
    if table is not None and self.id in table._routes:
        table._routes.pop(self.id)


def _delete_nat_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self.id in backend.nat_gateways:
        backend.delete_nat_gateway(self.id)


def _delete_internet_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self.id in backend.internet_gateways:
        backend.delete_internet_gateway(self.id)


def _delete_gateway_attachment(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    igw = backend.internet_gateways.get(self.gateway_id)
    if igw is not None and igw.vpc is not None and igw.vpc.id == self.vpc_id:
        backend.detach_internet_gateway(self.gateway_id, self.vpc_id)


def _delete_vpc_endpoint(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self.id in backend.vpc_end_points:
        backend.delete_vpc_endpoints([self.id])


def _delete_address(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self in backend.addresses:
        backend.release_address(address=self.public_ip)


def _delete_flow_log(self: Any, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if self.id in backend.flow_logs:
        backend.delete_flow_logs([self.id])


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
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress  # noqa: PLC0415
    from moto.ec2.models.flow_logs import FlowLogs  # noqa: PLC0415
    from moto.ec2.models.internet_gateways import InternetGateway  # noqa: PLC0415
    from moto.ec2.models.nat_gateways import NatGateway  # noqa: PLC0415
    from moto.ec2.models.route_tables import Route, RouteTable  # noqa: PLC0415
    from moto.ec2.models.vpcs import VPCEndPoint  # noqa: PLC0415
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment  # noqa: PLC0415

    for cls, delete_fn in (
        (RouteTable, _delete_route_table),
        (Route, _delete_route),
        (NatGateway, _delete_nat_gateway),
        (InternetGateway, _delete_internet_gateway),
        (VPCGatewayAttachment, _delete_gateway_attachment),
        (VPCEndPoint, _delete_vpc_endpoint),
        (ElasticAddress, _delete_address),
        (FlowLogs, _delete_flow_log),
    ):
        if "delete" not in cls.__dict__:
            patch_attr(cls, "delete", delete_fn)
    _installed = True
