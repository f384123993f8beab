"""AWS::ECR::ReplicationConfiguration on moto's ECR backend (DescribeRegistry sees it).

CloudFormation reference: ReplicationConfiguration.Rules[].Destinations[{Region, RegistryId}] and
RepositoryFilters[{Filter, FilterType}]; Ref and GetAtt RegistryId are the account's registry id.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecr-replicationconfiguration.html
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutReplicationConfiguration.html
Delete puts an empty rule list: the registry keeps no replication, as after the stack is gone in AWS.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ecr.models import ecr_backends

from streamflix_dr_emulator.cfn._common import CfnResource


def _backend(account_id: str, region_name: str) -> Any:
    return ecr_backends[account_id][region_name]


def api_shape(config: dict[str, Any]) -> dict[str, Any]:
    """CFN's PascalCase replication configuration in the API's camelCase."""
    rules = []
    for rule in config.get("Rules") or []:
        api_rule: dict[str, Any] = {
            "destinations": [
                {"region": d["Region"], "registryId": str(d["RegistryId"])}
                for d in rule.get("Destinations") or []
            ]
        }
        if rule.get("RepositoryFilters"):
            api_rule["repositoryFilters"] = [
                {"filter": f["Filter"], "filterType": f["FilterType"]} for f in rule["RepositoryFilters"]
            ]
        rules.append(api_rule)
    return {"rules": rules}


class EcrReplicationConfiguration(CfnResource, CloudFormationModel):
    """AWS::ECR::ReplicationConfiguration: the registry's replication rules."""

    CFN_TYPE = "AWS::ECR::ReplicationConfiguration"
    ATTRIBUTES = frozenset({"RegistryId"})

    @property
    def physical_resource_id(self) -> str:
        return self.account_id

    def cfn_attributes(self) -> dict[str, Any]:
        return {"RegistryId": self.account_id}

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EcrReplicationConfiguration:
        props = cloudformation_json.get("Properties", {})
        config = props.get("ReplicationConfiguration")
        if not isinstance(config, dict):
            raise ValueError("AWS::ECR::ReplicationConfiguration: ReplicationConfiguration is required")
        _backend(account_id, region_name).put_replication_configuration(api_shape(config))
        model = cls()
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
        config = cloudformation_json.get("Properties", {}).get("ReplicationConfiguration") or {}
        _backend(account_id, region_name).put_replication_configuration(api_shape(config))
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).put_replication_configuration({"rules": []})
