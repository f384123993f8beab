"""The region-outage switch covers S3 (503 ServiceUnavailable), as it does the other services."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from api_support import aws, error_of, uid
from botocore.config import Config
from botocore.exceptions import ClientError

from streamflix_dr_emulator.client import DataPlaneClient

PRIMARY = "eu-west-2"
DR = "us-east-1"


@pytest.fixture
def outage(endpoint: str) -> Iterator[DataPlaneClient]:
    client = DataPlaneClient(endpoint)
    yield client
    client.restore_region(PRIMARY)


def bucket_in(endpoint: str, region: str) -> str:
    name = uid("bucket-")
    if region == "us-east-1":  # S3 refuses a us-east-1 LocationConstraint: it is the default
        aws(endpoint, "s3", region).create_bucket(Bucket=name)
    else:
        aws(endpoint, "s3", region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )
    aws(endpoint, "s3", region).put_object(Bucket=name, Key="a.txt", Body=b"hello")
    return name


def test_objects_in_a_failed_region_answer_503(endpoint: str, outage: DataPlaneClient) -> None:
    bucket = bucket_in(endpoint, PRIMARY)
    outage.fail_region(PRIMARY)
    for call in (
        lambda: aws(endpoint, "s3", PRIMARY).get_object(Bucket=bucket, Key="a.txt"),
        lambda: aws(endpoint, "s3", PRIMARY).put_object(Bucket=bucket, Key="b.txt", Body=b"x"),
        lambda: aws(endpoint, "s3", PRIMARY).list_objects_v2(Bucket=bucket),
        # The bucket's data lives in the failed region, whichever endpoint is asked.
        lambda: aws(endpoint, "s3", DR).get_object(Bucket=bucket, Key="a.txt"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("ServiceUnavailable", 503)


def test_other_regions_keep_serving_and_the_region_comes_back(endpoint: str, outage: DataPlaneClient) -> None:
    primary_bucket, dr_bucket = bucket_in(endpoint, PRIMARY), bucket_in(endpoint, DR)
    outage.fail_region(PRIMARY)
    assert aws(endpoint, "s3", DR).get_object(Bucket=dr_bucket, Key="a.txt")["Body"].read() == b"hello"
    outage.restore_region(PRIMARY)
    assert (
        aws(endpoint, "s3", PRIMARY).get_object(Bucket=primary_bucket, Key="a.txt")["Body"].read() == b"hello"
    )


def test_botocore_treats_it_as_a_retryable_outage(endpoint: str, outage: DataPlaneClient) -> None:
    bucket = bucket_in(endpoint, PRIMARY)
    outage.fail_region(PRIMARY)
    s3 = boto3.client(
        "s3",
        region_name=PRIMARY,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="a.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["ResponseMetadata"]["RetryAttempts"] >= 1  # retried, as AWS 503s are
