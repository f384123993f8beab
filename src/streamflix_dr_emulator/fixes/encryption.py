"""Encryption settings moto 5.2.5 receives in CloudFormation's shape and then loses.

- AWS::DynamoDB::Table ``SSESpecification`` is ``{SSEEnabled, SSEType, KMSMasterKeyId}`` in CloudFormation
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-table-ssespecification.html)
  but ``{Enabled, SSEType, KMSMasterKeyId}`` in the API
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSESpecification.html). moto hands the
  CloudFormation shape to its backend, which looks for ``Enabled``, so DescribeTable shows no SSEDescription.
- AWS::ECR::Repository ``EncryptionConfiguration`` is ``{EncryptionType, KmsKey}`` in CloudFormation
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecr-repository-encryptionconfiguration.html)
  and ``{encryptionType, kmsKey}`` in the API
  (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_EncryptionConfiguration.html); moto stores
  the CloudFormation keys, so DescribeRepositories shows neither the type nor the key.

Both are translated to the API's shape before moto's own create runs.
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

_installed = False


def dynamodb_sse(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """CloudFormation's SSESpecification in the API's shape."""
    if not spec:
        return spec
    out = {k: v for k, v in spec.items() if k != "SSEEnabled"}
    if "SSEEnabled" in spec:
        out["Enabled"] = to_bool(spec["SSEEnabled"]) is True
    return out


def ecr_encryption(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """CloudFormation's EncryptionConfiguration in the API's shape."""
    if not config:
        return config
    out: dict[str, Any] = {"encryptionType": config.get("EncryptionType", config.get("encryptionType"))}
    key = config.get("KmsKey", config.get("kmsKey"))
    if key:
        out["kmsKey"] = key
    return out


def _with_properties(cloudformation_json: Any, name: str, convert: Any) -> Any:
    props = dict(cloudformation_json.get("Properties") or {})
    if name in props:
        props[name] = convert(props[name])
    return {**cloudformation_json, "Properties": props}


def install() -> None:
    """Wrap the two models' create (and update) with the shape translation. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.ecr.models import Repository  # noqa: PLC0415

    for model, prop, convert in (
        (Table, "SSESpecification", dynamodb_sse),
        (Repository, "EncryptionConfiguration", ecr_encryption),
    ):
        for method in ("create_from_cloudformation_json", "update_from_cloudformation_json"):
            original = getattr(model, method).__func__

            def wrapped(
                cls: Any,
                *args: Any,
                _original: Any = original,
                _method: str = method,
                _prop: str = prop,
                _convert: Any = convert,
                **kwargs: Any,
            ) -> Any:
                # create(name, json, account, region); update(original, name, json, account, region)
                index = 1 if _method.startswith("create") else 2
                args_list = list(args)
                args_list[index] = _with_properties(args_list[index], _prop, _convert)
                return _original(cls, *args_list, **kwargs)

            patch_attr(model, method, classmethod(wrapped))
    _installed = True
