"""The artifact buckets (defect 8): SSE-KMS with a bucket key, TLS only, no public access, on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from streamflix_dr.deploy.artifacts import ArtifactBucket, bucket_name


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield boto3.client("s3", region_name="eu-west-2")


def test_artifact_bucket_is_kms_encrypted_tls_only_and_private(s3: object) -> None:
    name = bucket_name("123456789012", "eu-west-2", "dev")
    bucket = ArtifactBucket(s3, "eu-west-2", name)
    assert bucket.ensure({"Environment": "dev", "Application": "streamflix", "CostCenter": "cc"})
    client = boto3.client("s3", region_name="eu-west-2")
    rule = client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == "alias/aws/s3"
    assert rule["BucketKeyEnabled"] is True
    policy = json.loads(client.get_bucket_policy(Bucket=name)["Policy"])
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(deny[0]["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
    block = client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    # a second ensure keeps the settings and reports it did not create
    assert not bucket.ensure({"Environment": "dev", "Application": "streamflix", "CostCenter": "cc"})
