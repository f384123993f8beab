"""The client factory: explicit regions, per-instance caching, endpoint and retry configuration."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from streamflix_dr.aws.clients import DEFAULT_MAX_ATTEMPTS, ClientFactory, Target


class RecordingSession:
    """Stands in for boto3.Session and records what clients were asked for."""

    instances: list[RecordingSession] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[str, str, str | None, Any]] = []
        RecordingSession.instances.append(self)

    def client(self, service: str, *, region_name: str, endpoint_url: str | None, config: Any) -> object:
        self.calls.append((service, region_name, endpoint_url, config))
        return object()


@pytest.fixture(autouse=True)
def _reset() -> None:
    RecordingSession.instances.clear()


def test_clients_are_cached_per_region_and_service() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    a = factory.client("rds", "eu-west-2")
    assert factory.client("rds", "eu-west-2") is a
    assert factory.client("rds", "us-east-1") is not a
    assert factory.client("efs", "eu-west-2") is not a
    (session,) = RecordingSession.instances
    assert [(c[0], c[1]) for c in session.calls] == [
        ("rds", "eu-west-2"),
        ("rds", "us-east-1"),
        ("efs", "eu-west-2"),
    ]


def test_cache_is_per_instance_not_per_class() -> None:
    one = ClientFactory(session_class=RecordingSession)
    two = ClientFactory(session_class=RecordingSession)
    assert one.client("s3", "eu-west-2") is not two.client("s3", "eu-west-2")


def test_endpoint_profile_and_credentials_reach_the_session_and_clients() -> None:
    target = Target(
        profile="ops", endpoint_url="http://127.0.0.1:5000", access_key_id="AK", secret_access_key="SK"
    )
    factory = ClientFactory(target=target, session_class=RecordingSession)
    factory.client("cloudformation", "us-east-1")
    (session,) = RecordingSession.instances
    assert session.kwargs["profile_name"] == "ops"
    assert session.kwargs["aws_access_key_id"] == "AK"
    service, region, endpoint, config = session.calls[0]
    assert (service, region, endpoint) == ("cloudformation", "us-east-1", "http://127.0.0.1:5000")
    # Throttling is retried by botocore's standard mode: jittered exponential backoff.
    assert config.retries == {"mode": "standard", "max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert config.region_name == "us-east-1"


def test_region_view_binds_the_region() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    dr = factory.region("us-east-1")
    assert dr.client("rds") is factory.client("rds", "us-east-1")
    assert dr.application_autoscaling is factory.client("application-autoscaling", "us-east-1")


def test_concurrent_callers_share_one_client() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    seen: list[object] = []

    def grab() -> None:
        seen.append(factory.client("ecs", "us-east-1"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1


def test_target_describe_names_where_calls_go() -> None:
    assert Target(endpoint_url="http://127.0.0.1:1").describe() == "endpoint http://127.0.0.1:1"
    assert Target(profile="prod").describe() == "AWS profile prod"
    assert "default credential chain" in Target().describe()


# ---- faults: each a message with its exit code, against throwaway servers on 127.0.0.1 ----------------

import http.server  # noqa: E402
import socket  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from streamflix_dr.aws import clients as clients_mod  # noqa: E402
from streamflix_dr.cli import main as cli_main  # noqa: E402
from streamflix_dr.errors import ConfigError, CredentialsError, EndpointError  # noqa: E402


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "STREAMFLIX_DR_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Short probe timeouts: the behaviour (bounded, then a message) is what is tested, not the figures.
    monkeypatch.setattr(clients_mod, "PROBE_CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(clients_mod, "PROBE_READ_TIMEOUT", 0.5)


@pytest.fixture
def no_creds(creds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def _html_server(body: bytes) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: Any) -> None:
            return None

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


PAGE = (
    b"<html><head><title>Welcome to nginx!</title></head><body>"
    + b"<p>SECRET-PAGE-TEXT</p>" * 50
    + b"</body></html>"
)


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    yield from _html_server(PAGE)


@pytest.fixture
def broken_html_endpoint() -> Iterator[str]:
    # Not even XML: botocore's parser raises ResponseParserError and would print the page.
    yield from _html_server(b"<html><body><p>SECRET-PAGE-TEXT<br></body>" * 20)


@pytest.fixture
def closed_port() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def probe(endpoint: str | None = None, profile: str | None = None) -> str:
    return ClientFactory(Target(endpoint_url=endpoint, profile=profile)).probe("us-east-1")


def test_silent_endpoint_is_an_endpoint_error_within_bounded_retries(
    creds: None, silent_endpoint: str
) -> None:
    with pytest.raises(EndpointError) as info:
        probe(silent_endpoint)
    assert info.value.exit_code == 8
    assert "accepted the connection but did not answer" in info.value.message
    assert silent_endpoint in info.value.message and "us-east-1" in info.value.message


@pytest.mark.parametrize("fixture", ["html_endpoint", "broken_html_endpoint"])
def test_non_aws_http_server_is_named_without_its_page(
    creds: None, fixture: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(fixture)
    with pytest.raises(EndpointError) as info:
        probe(url)
    assert "not like AWS" in info.value.message and url in info.value.message
    assert "SECRET-PAGE-TEXT" not in str(info.value)


def test_nothing_listening(creds: None, closed_port: str) -> None:
    with pytest.raises(EndpointError) as info:
        probe(closed_port)
    assert f"nothing answers at {closed_port}" in info.value.message
    assert "streamflix-dr emulator" in (info.value.fix or "")


def test_https_to_a_plain_http_endpoint_suggests_http(creds: None, html_endpoint: str) -> None:
    https = html_endpoint.replace("http://", "https://")
    with pytest.raises(EndpointError) as info:
        probe(https)
    assert "TLS handshake" in info.value.message
    assert html_endpoint in (info.value.fix or "")


def test_url_without_scheme_is_bad_input(creds: None) -> None:
    with pytest.raises(ConfigError) as info:
        probe("127.0.0.1:5000")
    assert info.value.exit_code == 2 and "http://127.0.0.1:5000" in (info.value.fix or "")


def test_no_credentials_with_and_without_endpoint(no_creds: None, html_endpoint: str) -> None:
    with pytest.raises(CredentialsError) as info:
        probe()
    assert info.value.exit_code == 7 and "aws sts get-caller-identity" in (info.value.fix or "")
    with pytest.raises(CredentialsError) as info:
        probe(html_endpoint)
    assert "AWS_ACCESS_KEY_ID=testing" in (info.value.fix or "")


def test_unknown_profile_names_it(creds: None) -> None:
    with pytest.raises(CredentialsError) as info:
        probe(profile="nosuch")
    assert "'nosuch'" in info.value.message and "aws configure list-profiles" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--endpoint-url", "{closed}"], 8, "nothing answers at"),
        (["--endpoint-url", "{html}"], 8, "not like AWS"),
        (["--endpoint-url", "127.0.0.1:1"], 2, "is not an http:// or https:// URL"),
        (["--profile", "nosuch"], 7, "AWS profile 'nosuch' does not exist"),
    ],
)
def test_cli_exit_codes_for_faults(
    creds: None,
    closed_port: str,
    html_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    text: str,
) -> None:
    argv = ["status", "--env", "dev", *(a.format(closed=closed_port, html=html_endpoint) for a in args)]
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == code, err
    assert text in err and "Traceback" not in err


def test_endpoint_from_the_environment_is_checked_too(
    creds: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMFLIX_DR_ENDPOINT_URL", "localhost:4566")
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["status", "--env", "dev"])
    assert exit_info.value.code == 2
    assert "STREAMFLIX_DR_ENDPOINT_URL='localhost:4566'" in capsys.readouterr().err


def test_calls_use_bounded_timeouts_and_retries() -> None:
    factory = ClientFactory(session_class=RecordingSession)
    factory.client("rds", "us-east-1")
    config = RecordingSession.instances[0].calls[0][3]
    assert config.connect_timeout <= 10 and config.read_timeout <= 30
    assert config.retries["max_attempts"] <= 5
