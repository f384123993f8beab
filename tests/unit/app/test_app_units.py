"""The StreamFlix app's pure parts: configuration from the task definition's environment, input checks,
error mapping, the self-signed certificate. (Handlers against real engines: tests/emulator/engines.)
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "app"))

from streamflix_app import server


def test_config_reads_the_task_definition_environment_and_the_secret() -> None:
    cfg = server.Config.from_env(
        {
            "PORT": "9443",
            "STREAMFLIX_ROLE": "dr",
            "STREAMFLIX_REGION": "us-east-1",
            "DB_HOST": "db.example",
            "DB_SECRET": json.dumps({"username": "u", "password": "pw-Zq81", "dbname": "films"}),
            "REDIS_HOST": "cache.example",
            "REDIS_AUTH_TOKEN": "t" * 20,
        }
    )
    assert (cfg.port, cfg.role, cfg.region) == (9443, "dr", "us-east-1")
    assert (cfg.db_host, cfg.db_port, cfg.db_name, cfg.db_user, cfg.db_password) == (
        "db.example",
        5432,
        "films",
        "u",
        "pw-Zq81",
    )
    assert (cfg.redis_port, cfg.redis_ca_bundle, cfg.db_ca_bundle) == (
        6379,
        None,
        server.DEFAULT_DB_CA_BUNDLE,
    )
    assert cfg.media_path == Path("/data")
    assert "pw-Zq81" not in repr(cfg)  # secrets are not in the repr
    assert "t" * 20 not in repr(cfg)


def test_config_refuses_a_secret_that_is_not_json() -> None:
    with pytest.raises(SystemExit, match="DB_SECRET is not JSON"):
        server.Config.from_env({"DB_SECRET": "user:pass"})


def test_a_store_the_stack_does_not_have_is_reported_not_dialled() -> None:
    cfg = server.Config.from_env({"DB_HOST": "none", "REDIS_HOST": ""})
    with pytest.raises(server.StoreError, match="DB_HOST is not set"):
        server.Database(cfg)._connect()
    with pytest.raises(server.StoreError, match="REDIS_HOST is not set"):
        server.Cache(cfg).client()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ("2026-11-30T12:00:00+00:00", dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)),
        ("2026-11-30T12:00:00", dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)),
    ],
)
def test_since_takes_epoch_seconds_or_iso_8601(value: str, expected: dt.datetime) -> None:
    assert server._parse_since(value) == expected


def test_since_refuses_anything_else() -> None:
    with pytest.raises(server.HttpError, match="ISO 8601 or epoch seconds"):
        server._parse_since("yesterday")


@pytest.mark.parametrize("name", ["../x", "a/../b", ".hidden", "a//b", "", "a b", "x/" + "y" * 200])
def test_media_names_cannot_leave_the_mount_or_hide(name: str, tmp_path: Path) -> None:
    with pytest.raises(server.HttpError) as raised:
        server.Media(tmp_path).path(name)
    assert raised.value.status == 400


def test_media_write_into_a_read_only_directory_is_a_read_only_store_error(tmp_path: Path) -> None:
    error = server._fs_error(OSError(errno.EROFS, "Read-only file system"))
    assert (error.store, error.read_only) == ("fs", True)
    assert "EROFS" in str(error)
    assert server._fs_error(OSError(errno.ETIMEDOUT, "timed out")).read_only is False


def test_self_signed_certificate_names_the_bind_address_and_serves_tls() -> None:
    context = server.self_signed_context("127.0.0.9")
    assert isinstance(context, ssl.SSLContext)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    cert_path = next(p for p in Path("/proc/self/fd").iterdir() if "cert.pem" in str(p.resolve()))
    from cryptography import x509  # noqa: PLC0415

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "127.0.0.9"}
