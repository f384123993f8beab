"""Helpers shared by the emulator's service-API tests: boto3 clients without retries, error codes, ids."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def aws(endpoint: str, service: str, region: str) -> Any:
    """A client for ``service`` in ``region`` against the emulator; one attempt, so errors show as raised."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """The AWS error code and HTTP status of a ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
