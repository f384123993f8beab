"""AWS::ECS::Cluster and AWS::ECS::TaskDefinition properties that moto 5.2.5 drops or mangles.

- Cluster: moto creates the cluster by name only; ``Tags`` and ``ClusterSettings`` (Container Insights) are
  lost. CloudFormation passes them to CreateCluster
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-cluster.html;
  API: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html, ``tags``
  ``[{key, value}]``, ``settings`` ``[{name, value}]``).
- TaskDefinition: moto registers family, containers, volumes and memory only, and camel-cases
  ``EFSVolumeConfiguration`` into ``eFSVolumeConfiguration``. CloudFormation passes every property to
  RegisterTaskDefinition (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html):
  ``requiresCompatibilities``, ``networkMode``, ``cpu``, ``taskRoleArn``, ``executionRoleArn``,
  ``runtimePlatform``, ``tags``, and volumes with ``efsVolumeConfiguration {fileSystemId, transitEncryption,
  authorizationConfig {accessPointId, iam}}`` (note CloudFormation's ``FilesystemId`` and ``IAM`` spellings,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-efsvolumeconfiguration.html).
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

_installed = False


def _efs_volume(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"fileSystemId": cfg.get("FilesystemId") or cfg.get("FileSystemId")}
    for cfn_key, api_key in (
        ("RootDirectory", "rootDirectory"),
        ("TransitEncryption", "transitEncryption"),
        ("TransitEncryptionPort", "transitEncryptionPort"),
    ):
        if cfn_key in cfg:
            out[api_key] = cfg[cfn_key]
    auth = cfg.get("AuthorizationConfig")
    if auth:
        out["authorizationConfig"] = {
            k: v
            for k, v in (("accessPointId", auth.get("AccessPointId")), ("iam", auth.get("IAM")))
            if v is not None
        }
    return out


def api_volumes(volumes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """CloudFormation's Volumes in RegisterTaskDefinition's shape (name, host, efsVolumeConfiguration)."""
    out = []
    for vol in volumes or []:
        api: dict[str, Any] = {"name": vol.get("Name")}
        if "Host" in vol:
            api["host"] = {"sourcePath": (vol["Host"] or {}).get("SourcePath")}
        if "EFSVolumeConfiguration" in vol:
            api["efsVolumeConfiguration"] = _efs_volume(vol["EFSVolumeConfiguration"])
        out.append(api)
    return out


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": str(t["Value"])} for t in props.get("Tags") or []]


def install() -> None:
    """Replace moto's create for both models with one that keeps these properties. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys  # noqa: PLC0415
    from moto.ecs.models import Cluster, TaskDefinition, ecs_backends  # noqa: PLC0415

    def create_cluster(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        settings = [{"name": s["Name"], "value": s["Value"]} for s in props.get("ClusterSettings") or []]
        return ecs_backends[account_id][region_name].create_cluster(
            cluster_name=resource_name, tags=_tags(props) or None, cluster_settings=settings or None
        )

    def create_task_definition(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        family = props.get("Family") or resource_name
        runtime = props.get("RuntimePlatform")
        return ecs_backends[account_id][region_name].register_task_definition(
            family=family,
            container_definitions=remap_nested_keys(
                props.get("ContainerDefinitions", []), pascal_to_camelcase
            ),
            volumes=api_volumes(props.get("Volumes")),
            network_mode=props.get("NetworkMode"),
            tags=_tags(props) or None,
            requires_compatibilities=props.get("RequiresCompatibilities"),
            cpu=None if props.get("Cpu") is None else str(props["Cpu"]),
            memory=None if props.get("Memory") is None else str(props["Memory"]),
            task_role_arn=props.get("TaskRoleArn"),
            execution_role_arn=props.get("ExecutionRoleArn"),
            runtime_platform=remap_nested_keys(runtime, pascal_to_camelcase) if runtime else None,
        )

    def update_task_definition(  # noqa: PLR0917 - moto's signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        # Every TaskDefinition property requires replacement: CloudFormation registers a new revision and
        # deregisters the old one. The new revision is registered first, so a failure keeps the old one.
        new = create_task_definition(cls, new_resource_name, cloudformation_json, account_id, region_name)
        ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
        return new

    patch_attr(Cluster, "create_from_cloudformation_json", classmethod(create_cluster))
    patch_attr(TaskDefinition, "update_from_cloudformation_json", classmethod(update_task_definition))
    patch_attr(TaskDefinition, "create_from_cloudformation_json", classmethod(create_task_definition))
    _installed = True
