"""The region-outage switch covers S3: a failed region's S3 answers 503 as its other services do.

moto's S3 has its own dispatch (``S3Response.bucket_response``/``key_response``), not the
``BaseResponse.call_action`` the data plane's outage switch wraps, so S3 kept answering during an
emulated outage. Here a request is refused while :func:`regional_state.is_failed` holds for

* the region the request is signed for / addressed to (``s3.<region>.amazonaws.com``), or
* the region the addressed bucket lives in (a bucket's data is stored in its region; "Amazon S3 ...
  stores data in the AWS Region you choose", S3 User Guide "Buckets overview":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingBucket.html).

The answer is S3's own error document with code ``ServiceUnavailable``, HTTP 503 ("Service is unable to
handle request", Amazon S3 API Reference "Error responses", list of error codes:
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList). botocore's
standard retry mode retries it, as it would on AWS.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from xml.sax.saxutils import escape

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)


def _bucket_region(account_id: str, bucket_name: str | None) -> str | None:
    if not bucket_name:
        return None
    from moto.s3.models import s3_backends  # noqa: PLC0415

    bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
    return None if bucket is None else str(bucket.region_name)


def unavailable_region(account_id: str, request_region: str | None, bucket_name: str | None) -> str | None:
    """The failed region that makes this S3 request fail, or None."""
    for region in (request_region, _bucket_region(account_id, bucket_name)):
        if region and regional_state.is_failed(region):
            return region
    return None


def _answer(region: str, resource: str) -> tuple[int, dict[str, str], bytes]:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>ServiceUnavailable</Code>"
        f"<Message>Service is unable to handle request: {escape(region)} is in an emulated regional outage."
        f"</Message><Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    )
    headers = {"content-type": "application/xml", "x-amz-request-id": request_id}
    return 503, headers, body.encode()


_installed = False


def install() -> None:
    """Refuse S3 bucket and object requests that touch a region in an emulated outage."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.s3.responses import S3Response  # noqa: PLC0415

    original_bucket = S3Response._bucket_response
    original_key = S3Response._key_response

    def _bucket_response(self: Any, request: Any, full_url: str) -> Any:
        bucket = self.parse_bucket_name_from_url(request, full_url)
        region = unavailable_region(self.current_account, self.region, bucket)
        if region is not None:
            log.info("S3 request to %s refused: %s is failed", full_url, region)
            return _answer(region, f"/{bucket or ''}")
        return original_bucket(self, request, full_url)

    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        bucket = self.parse_bucket_name_from_url(request, full_url)
        region = unavailable_region(self.current_account, self.region, bucket)
        if region is not None:
            log.info("S3 request to %s refused: %s is failed", full_url, region)
            return _answer(region, f"/{bucket}/{self.parse_key_name()}")
        return original_key(self, request, full_url)

    patch_attr(S3Response, "_bucket_response", _bucket_response)
    patch_attr(S3Response, "_key_response", _key_response)
    _installed = True
