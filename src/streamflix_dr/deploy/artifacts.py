"""The per-region artifact bucket: large templates (TemplateURL) and the automation Lambda zip.

The bucket is created by ``deploy`` before any stack and removed by ``destroy`` at the very end.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.constants import APPLICATION
from streamflix_dr.errors import AwsError

log = logging.getLogger(__name__)

# What the in-cloud automation needs: pure-boto3 modules only (no click, no cfn-lint, no moto).
AUTOMATION_PARTS: tuple[str, ...] = (
    "__init__.py",
    "constants.py",
    "errors.py",
    "aws",
    "automation",
    "runbook",
    "readiness",
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def bucket_name(account: str, region: str, suffix: str) -> str:
    """``streamflix-artifacts-<account>-<region>-<suffix>`` (at most 59 characters: S3 allows 63)."""
    return f"{APPLICATION}-artifacts-{account}-{region}-{suffix}"


def object_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted S3 URL CFN accepts as TemplateURL; moto reads the bucket from the host."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def build_automation_zip(package_dir: Path | None = None) -> bytes:
    """A deterministic zip of the package parts the automation Lambda imports (same input, same bytes)."""
    root = package_dir or Path(__file__).resolve().parents[1]
    files: list[Path] = []
    for part in AUTOMATION_PARTS:
        p = root / part
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(f for f in p.rglob("*.py") if "__pycache__" not in f.parts)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(set(files)):
            arcname = f"{root.name}/{f.relative_to(root).as_posix()}"
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, f.read_bytes())
    return buf.getvalue()


# SSE-KMS with the AWS managed key for S3 (aws/s3) and an S3 Bucket Key. The managed key's policy lets
# every principal of the account use it through S3 only (kms:ViaService s3.<region>, kms:CallerAccount),
# so CloudFormation (TemplateURL, read with the caller's credentials) and Lambda (the automation zip)
# read the objects without key grants a customer managed key would need, and nothing has to be
# deleted by destroy: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html,
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html (fewer KMS requests).
ARTIFACT_KMS_KEY = "alias/aws/s3"


def encryption_configuration() -> dict[str, Any]:
    """The artifact buckets' default encryption: SSE-KMS (aws/s3) with a bucket key."""
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": ARTIFACT_KMS_KEY,
                },
                "BucketKeyEnabled": True,
            }
        ]
    }


def _tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


@dataclass
class ArtifactBucket:
    """One region's artifact bucket."""

    s3: Any
    region: str
    name: str

    def exists(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.name)
            return True
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise self._error("look up", e) from e

    def ensure(self, tags: dict[str, str]) -> bool:
        """Create the bucket if missing and (re)apply its settings. Returns True if it was created."""
        created = False
        if not self.exists():
            kwargs: dict[str, Any] = {"Bucket": self.name}
            # us-east-1 is the one region that rejects an explicit LocationConstraint.
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.s3.create_bucket(**kwargs)
            except ClientError as e:
                if str(e.response.get("Error", {}).get("Code")) != "BucketAlreadyOwnedByYou":
                    raise self._error("create", e) from e
            created = True
        try:
            self.s3.put_public_access_block(
                Bucket=self.name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self.s3.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": "Enabled"})
            self.s3.put_bucket_encryption(
                Bucket=self.name, ServerSideEncryptionConfiguration=encryption_configuration()
            )
            self.s3.put_bucket_policy(Bucket=self.name, Policy=_tls_only_policy(self.name))
            self.s3.put_bucket_tagging(
                Bucket=self.name,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]},
            )
        except ClientError as e:
            raise self._error("configure", e) from e
        return created

    def put(self, prefix: str, body: bytes, extension: str) -> str:
        """Store ``body`` under a content-addressed key (unchanged content, unchanged key); return the key."""
        key = f"{prefix}/{hashlib.sha256(body).hexdigest()[:32]}.{extension}"
        try:
            self.s3.put_object(Bucket=self.name, Key=key, Body=body)
        except ClientError as e:
            raise self._error(f"upload {key} to", e) from e
        return key

    def url(self, key: str) -> str:
        return object_url(self.name, self.region, key)

    def empty(self) -> int:
        """Delete every object version and delete marker. Returns how many were deleted."""
        count = 0
        try:
            paginator = self.s3.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.name):
                items = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in (page.get("Versions", []) or []) + (page.get("DeleteMarkers", []) or [])
                ]
                if items:
                    self.s3.delete_objects(Bucket=self.name, Delete={"Objects": items, "Quiet": True})
                    count += len(items)
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) == "NoSuchBucket":
                return count
            raise self._error("empty", e) from e
        return count

    def remove(self) -> bool:
        """Empty and delete the bucket. Returns False when it did not exist (idempotent)."""
        if not self.exists():
            return False
        self.empty()
        try:
            self.s3.delete_bucket(Bucket=self.name)
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) == "NoSuchBucket":
                return False
            raise self._error("delete", e) from e
        return True

    def _error(self, what: str, e: ClientError) -> AwsError:
        err = e.response.get("Error", {})
        return AwsError(
            f"{self.region}: could not {what} the artifact bucket {self.name}: {err.get('Code')}: "
            f"{err.get('Message')}.",
            fix="check that the credentials may manage S3 buckets in this account, then rerun the command",
        )
