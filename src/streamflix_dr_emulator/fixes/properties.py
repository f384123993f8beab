"""CloudFormation properties moto 5.2.5 drops on types it otherwise creates.

- AWS::S3::Bucket ``PublicAccessBlockConfiguration`` and ``VersioningConfiguration`` are ignored;
  CloudFormation applies them with PutPublicAccessBlock and PutBucketVersioning
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html).
- AWS::Logs::LogGroup ``KmsKeyId`` is read under the API's spelling ``kmsKeyId`` only, so the CFN
  property never lands (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html).
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

_installed = False


def install() -> None:
    """Patch moto's S3 bucket and log group models. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.logs.models import LogGroup  # noqa: PLC0415
    from moto.s3.models import FakeBucket, s3_backends  # noqa: PLC0415
    from moto.utilities.utils import get_partition  # noqa: PLC0415

    original_bucket = FakeBucket.create_from_cloudformation_json

    def _bucket_extras(bucket: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(bucket.name, {k: to_bool(v) is True for k, v in block.items()})
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)

    def bucket_create(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        bucket = original_bucket(resource_name, cloudformation_json, account_id, region_name, **kw)
        _bucket_extras(bucket, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    patch_attr(FakeBucket, "create_from_cloudformation_json", classmethod(bucket_create))

    original_log_group = LogGroup.create_from_cloudformation_json

    def log_group_create(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        props = cloudformation_json.setdefault("Properties", {})
        if "KmsKeyId" in props:
            props["kmsKeyId"] = props.pop("KmsKeyId")
        return original_log_group(resource_name, cloudformation_json, account_id, region_name, **kw)

    patch_attr(LogGroup, "create_from_cloudformation_json", classmethod(log_group_create))
    _installed = True
