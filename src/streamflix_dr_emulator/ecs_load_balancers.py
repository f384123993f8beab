"""AWS::ECS::Service ``LoadBalancers`` reach the service, so its tasks register with the target group.

moto 5.2.5's CloudFormation model creates the service without ``LoadBalancers`` (a "TODO" in
``moto/ecs/models.py``). Route 53 health checks and alias records with EvaluateTargetHealth
(``route53_health``) judge a load balancer by the healthy targets of its target groups, and ECS
registers a service's running tasks with the target groups in its ``loadBalancers``; without them every
CloudFormation-made load balancer would look empty. CloudFormation passes the property to CreateService
as ``loadBalancers`` ``[{targetGroupArn, containerName, containerPort, loadBalancerName}]``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-loadbalancer.html,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LoadBalancer.html). Updates set them too
(UpdateService accepts ``loadBalancers``).

This wraps whatever CloudFormation model the ``fixes`` package installed for AWS::ECS::Service; it adds
only the load balancers.
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_KEYS = (
    ("TargetGroupArn", "targetGroupArn"),
    ("ContainerName", "containerName"),
    ("ContainerPort", "containerPort"),
    ("LoadBalancerName", "loadBalancerName"),
)


def api_load_balancers(props: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation ``LoadBalancers`` in CreateService's shape."""
    out = []
    for lb in props.get("LoadBalancers") or []:
        item: dict[str, Any] = {}
        for cfn_key, api_key in _KEYS:
            if lb.get(cfn_key) is not None:
                item[api_key] = int(lb[cfn_key]) if api_key == "containerPort" else lb[cfn_key]
        out.append(item)
    return out


_installed = False


def install() -> None:
    """Give CloudFormation-made ECS services their ``loadBalancers``. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecs.models import Service  # noqa: PLC0415

    original_create = Service.create_from_cloudformation_json
    original_update = Service.update_from_cloudformation_json

    def cfn_create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        service = original_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        wanted = api_load_balancers(cloudformation_json.get("Properties") or {})
        if wanted and service is not None:
            service.load_balancers = wanted
        return service

    def cfn_update(  # noqa: PLR0917 - moto's model signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        service = original_update(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        if service is not None:
            service.load_balancers = api_load_balancers(cloudformation_json.get("Properties") or {})
        return service

    patch_attr(Service, "create_from_cloudformation_json", classmethod(cfn_create))
    patch_attr(Service, "update_from_cloudformation_json", classmethod(cfn_update))
    _installed = True
