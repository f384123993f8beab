"""AWS faults as one-paragraph messages with their own exit codes (docs/operations.md).

botocore raises a dozen exception types for "the call never got a proper answer" (no credentials, an
unknown profile, nothing listening, a TLS mismatch, a silent endpoint, an HTML page instead of AWS XML).
``translate`` turns each into a ``CredentialsError`` (exit 7) or ``EndpointError`` (exit 8) naming the
region, the endpoint or the profile and the fix; ``find_fault`` finds one anywhere in an exception's
cause chain, so a library error that wrapped it (``raise FailoverError(...) from e``) still gets the
specific message and code.

Auth error codes (rejected or expired keys) are those of the AWS Query/JSON protocols:
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from botocore import exceptions as bx
from botocore.parsers import ResponseParserError

from streamflix_dr.errors import ConfigError, CredentialsError, EndpointError, StreamflixDrError

# ClientError codes that mean "these credentials are not accepted" rather than "this call failed".
AUTH_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
        "RequestExpired",
    }
)
_CREDENTIAL_ERRORS: tuple[type[Exception], ...] = (
    bx.NoCredentialsError,
    bx.PartialCredentialsError,
    bx.CredentialRetrievalError,
    bx.ProfileNotFound,
    bx.SSOError,
    bx.SSOTokenLoadError,
    bx.TokenRetrievalError,
    bx.UnauthorizedSSOTokenError,
    bx.UnknownCredentialError,
)
_ENDPOINT_ERRORS: tuple[type[Exception], ...] = (
    bx.EndpointConnectionError,
    bx.ConnectTimeoutError,
    bx.ReadTimeoutError,
    bx.ConnectionClosedError,
    bx.SSLError,
    bx.ProxyConnectionError,
    ResponseParserError,
    bx.ConnectionError,
)
_CREDENTIALS_FIX = (
    "give the tool credentials: --profile NAME (a profile in ~/.aws/config; `aws sso login --profile NAME` "
    "if it uses SSO), or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; check them with "
    "`aws sts get-caller-identity`"
)
_EMULATOR_CREDENTIALS_FIX = (
    "an emulator accepts any keys: export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing, "
    "or use --emulator, which sets them itself"
)


def check_endpoint_url(url: str | None, *, source: str = "--endpoint-url") -> None:
    """Refuse an endpoint URL botocore would reject with a bare ValueError (no scheme, no host)."""
    if not url:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            source,
            url,
            "is not an http:// or https:// URL with a host",
            f"write the scheme and host, e.g. http://{url.split('://')[-1] or '127.0.0.1:5000'} "
            "(an emulator started by `streamflix-dr emulator` prints its URL)",
        )


def find_fault(exc: BaseException) -> BaseException | None:
    """The first credentials/endpoint fault in ``exc``'s cause/context chain (``exc`` included)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, _CREDENTIAL_ERRORS + _ENDPOINT_ERRORS):
            return cur
        if isinstance(cur, bx.ClientError) and _code(cur) in AUTH_CODES:
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


def translate(
    exc: BaseException,
    *,
    region: str | None = None,
    endpoint: str | None = None,
    profile: str | None = None,
    operation: str | None = None,
) -> StreamflixDrError | None:
    """The message and exit code for a fault, or None when ``exc`` is not one."""
    fault = find_fault(exc)
    if fault is None:
        return None
    where = _where(region, endpoint, operation)
    if isinstance(fault, bx.ProfileNotFound):
        name = profile or getattr(fault, "kwargs", {}).get("profile", "?")
        return CredentialsError(
            f"AWS profile {name!r} does not exist in ~/.aws/config or ~/.aws/credentials.",
            fix=f"list the profiles with `aws configure list-profiles` and pass one with --profile, or "
            f"create {name!r} with `aws configure --profile {name}`",
        )
    if isinstance(fault, _CREDENTIAL_ERRORS):
        who = f"profile {profile!r}" if profile else "the default credential chain"
        first = str(fault).split("\n")[0]
        return CredentialsError(
            f"no usable AWS credentials for {where} from {who} ({first}).",
            fix=_EMULATOR_CREDENTIALS_FIX if endpoint else _CREDENTIALS_FIX,
        )
    if isinstance(fault, bx.ClientError):
        return CredentialsError(
            f"{where} refused the credentials ({_code(fault)}: {_message(fault)}).",
            fix="refresh them (`aws sso login`, new keys, or the right --profile for this account); "
            + _CREDENTIALS_FIX.split(": ", 1)[1],
        )
    url = endpoint or _endpoint_of(fault) or "the AWS endpoint"
    if isinstance(fault, bx.SSLError):
        plain = url.replace("https://", "http://", 1)
        return EndpointError(
            f"TLS handshake with {url} failed for {where} ({_short(fault)}).",
            fix=f"if it serves plain HTTP (an emulator does), use {plain}; otherwise check the proxy "
            "and certificate (AWS_CA_BUNDLE)",
        )
    if isinstance(fault, bx.ReadTimeoutError):
        return EndpointError(
            f"{url} accepted the connection but did not answer {where} in time, even after retries.",
            fix="check that it is the right endpoint and that it is healthy (an emulator may be stopped "
            "in a debugger); for AWS, check https://health.aws.amazon.com/ for the region, then rerun",
        )
    if isinstance(fault, bx.ConnectTimeoutError):
        return EndpointError(
            f"could not connect to {url} for {where} within the connect timeout.",
            fix="check network, VPN, proxy (HTTPS_PROXY) and firewall; for an emulator, that it runs",
        )
    if isinstance(fault, ResponseParserError):
        return EndpointError(
            f"{url} answered {where}, but not like AWS: the reply is not an AWS API response (an HTML page "
            "or another service is listening there).",
            fix="point --endpoint-url (or STREAMFLIX_DR_ENDPOINT_URL) at an AWS endpoint or the emulator "
            "(`streamflix-dr emulator` prints its URL), or leave it unset for real AWS",
        )
    return EndpointError(
        f"nothing answers at {url} for {where} ({_short(fault)}).",
        fix="start the emulator (`streamflix-dr emulator`) or fix --endpoint-url / "
        "STREAMFLIX_DR_ENDPOINT_URL; for AWS, check network, proxy and the region's health "
        "(https://health.aws.amazon.com/)",
    )


def _where(region: str | None, endpoint: str | None, operation: str | None) -> str:
    parts = [operation or "the call"]
    if region:
        parts.append(f"in {region}")
    return " ".join(parts)


def _endpoint_of(fault: BaseException) -> str | None:
    kwargs: dict[str, Any] = getattr(fault, "kwargs", {}) or {}
    return str(kwargs.get("endpoint_url") or "") or None


def _short(fault: BaseException) -> str:
    text = " ".join(str(fault).split())
    return text if len(text) <= 200 else text[:200] + "..."


def _code(e: bx.ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _message(e: bx.ClientError) -> str:
    return _short(Exception(e.response.get("Error", {}).get("Message", "")))
