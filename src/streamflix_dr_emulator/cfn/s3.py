"""AWS::S3::BucketPolicy on moto's S3 backend (GetBucketPolicy sees it, DeleteBucketPolicy on delete).

CloudFormation reference: Bucket and PolicyDocument (a JSON object or string); the policy updates in
place (PutBucketPolicy replaces it).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucketpolicy.html
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from streamflix_dr_emulator.cfn._common import CfnResource


def _backend(account_id: str, region_name: str) -> Any:
    return s3_backends[account_id][get_partition(region_name)]


def _policy_bytes(document: Any) -> bytes:
    if document is None:
        raise ValueError("AWS::S3::BucketPolicy: PolicyDocument is required")
    text = document if isinstance(document, str) else json.dumps(document)
    return text.encode("utf-8")


class S3BucketPolicy(CfnResource, CloudFormationModel):
    """AWS::S3::BucketPolicy: the bucket's policy in moto's FakeBucket."""

    CFN_TYPE = "AWS::S3::BucketPolicy"

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> S3BucketPolicy:
        props = cloudformation_json.get("Properties", {})
        bucket = props.get("Bucket")
        if not bucket:
            raise ValueError("AWS::S3::BucketPolicy: Bucket is required")
        _backend(account_id, region_name).put_bucket_policy(
            bucket, _policy_bytes(props.get("PolicyDocument"))
        )
        model = cls(bucket)
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
        if props.get("Bucket") != original_resource.bucket:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
                StackId=original_resource.stack_id,
                LogicalId=original_resource.logical_id,
            )
        _backend(account_id, region_name).put_bucket_policy(
            original_resource.bucket, _policy_bytes(props.get("PolicyDocument"))
        )
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)
