"""AWS::SecretsManager::Secret, including ReplicaRegions, on moto's Secrets Manager backends.

CloudFormation reference: Ref and GetAtt Id both return the secret ARN; ReplicaRegions is a list of
{Region, KmsKeyId}; GenerateSecretString follows GetRandomPassword's options plus
SecretStringTemplate/GenerateStringKey.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-secretsmanager-secret.html
Replicas are made like ReplicateSecretToRegions does (the replica lives in the peer region's
backend and carries its own KmsKeyId)
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicateSecretToRegions.html
Delete: DeleteSecret refuses a primary that still has replicas
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html), so the
model first removes them (RemoveRegionsFromReplication), then deletes the secret without a
recovery window, so the stack's delete leaves nothing behind that DescribeSecret would show and
the same name can be deployed again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends

from streamflix_dr_emulator.cfn._common import CfnResource, resource_tags, tag_list

log = logging.getLogger(__name__)


def _backend(account_id: str, region_name: str) -> Any:
    return secretsmanager_backends[account_id][region_name]


def _generate(backend: Any, spec: dict[str, Any]) -> str:
    """GenerateSecretString as CloudFormation resolves it: a password, optionally inside a JSON template."""
    raw = backend.get_random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
        exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
        exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
        exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
        include_space=bool(spec.get("IncludeSpace", False)),
        require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
    )
    password = json.loads(raw)["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        value = json.loads(template)
        value[key] = password
        return json.dumps(value)
    if template or key:
        raise ValueError(
            "GenerateSecretString: SecretStringTemplate and GenerateStringKey go together; "
            "set both or neither"
        )
    return str(password)


def _replica_specs(props: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"Region": r["Region"], **({"KmsKeyId": r["KmsKeyId"]} if r.get("KmsKeyId") else {})}
        for r in props.get("ReplicaRegions") or []
    ]


class SecretsManagerSecret(CfnResource, CloudFormationModel):
    """AWS::SecretsManager::Secret backed by moto's FakeSecret (+ ReplicaSecret per replica region)."""

    CFN_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = frozenset({"Id"})

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def secret(self) -> Any:
        return _backend(self.account_id, self.region_name).secrets[self.name]

    @property
    def physical_resource_id(self) -> str:
        return str(self.secret.arn)

    def cfn_attributes(self) -> dict[str, Any]:
        return {"Id": self.secret.arn}

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SecretsManagerSecret:
        props = cloudformation_json.get("Properties", {})
        backend = _backend(account_id, region_name)
        if "SecretString" in props and "GenerateSecretString" in props:
            raise ValueError("SecretString and GenerateSecretString exclude each other; set one")
        secret_string = props.get("SecretString")
        if secret_string is None:
            secret_string = _generate(backend, props.get("GenerateSecretString") or {})
        tags = resource_tags(
            props.get("Tags"), account_id, region_name, kwargs.get("StackId", ""), kwargs.get("LogicalId", "")
        )
        backend.create_secret(
            name=resource_name,
            secret_string=secret_string,
            secret_binary=None,
            description=props.get("Description"),
            tags=tag_list(tags) or None,
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        model = cls(resource_name)
        model._remember(account_id, region_name, kwargs)
        model._replicate(_replica_specs(props))
        return model

    def _replicate(self, specs: list[dict[str, str]]) -> None:
        if not specs:
            return
        backend = _backend(self.account_id, self.region_name)
        backend.replicate_secret_to_regions(
            self.name, [{"Region": s["Region"]} for s in specs], force_overwrite=False
        )
        wanted = {s["Region"]: s.get("KmsKeyId") for s in specs}
        for replica in self.secret.replicas:
            if replica.region in wanted:
                if replica.status == "Failed":
                    raise ValueError(
                        f"ReplicaRegions: replication to {replica.region} failed: {replica.message}"
                    )
                if wanted[replica.region]:
                    replica.config["KmsKeyId"] = wanted[replica.region]

    def _unreplicate(self, regions: list[str]) -> None:
        if regions:
            _backend(self.account_id, self.region_name).remove_regions_from_replication(self.name, regions)

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
        if props.get("Name") and props["Name"] != original_resource.name:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        backend = _backend(account_id, region_name)
        secret = original_resource.secret
        # Description, KmsKeyId and SecretString update without interruption (UpdateSecret).
        current = secret.versions.get(secret.default_version_id, {}).get("secret_string")
        if "SecretString" in props and props["SecretString"] != current:
            backend.update_secret(
                original_resource.name,
                secret_string=props["SecretString"],
                kms_key_id=props.get("KmsKeyId"),
                description=props.get("Description"),
            )
        else:
            secret.description = props.get("Description")
            if props.get("KmsKeyId"):
                secret.kms_key_id = props["KmsKeyId"]
        secret.tags = (
            tag_list(
                resource_tags(
                    props.get("Tags"),
                    account_id,
                    region_name,
                    original_resource.stack_id,
                    original_resource.logical_id,
                )
            )
            or None
        )
        specs = _replica_specs(props)
        have = {r.region for r in secret.replicas}
        want = {s["Region"] for s in specs}
        original_resource._unreplicate(sorted(have - want))
        original_resource._replicate([s for s in specs if s["Region"] not in have])
        for replica in original_resource.secret.replicas:
            kms = next((s.get("KmsKeyId") for s in specs if s["Region"] == replica.region), None)
            if kms:
                replica.config["KmsKeyId"] = kms
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.name not in backend.secrets:
            return
        self._unreplicate([r.region for r in self.secret.replicas])
        backend.delete_secret(self.name, recovery_window_in_days=None, force_delete_without_recovery=True)
