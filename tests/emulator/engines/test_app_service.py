"""The StreamFlix app's handlers against real engines: one PostgreSQL (emulated RDS) and one Valkey
(emulated ElastiCache), started once for the module; the app runs as its own process, as in its image.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_support import aws, uid

from streamflix_dr_emulator.engines import ecs_tasks, elasticache_hooks, rds_hooks

REGION = "eu-west-2"
USER = "streamflix"
PASSWORD = "pw-Secret-123"
TOKEN = "streamflix-auth-token-0123456789"


@dataclass
class Stores:
    endpoint: str
    group: str
    db: dict[str, Any]
    redis: tuple[str, int]


@dataclass
class App:
    port: int
    process: subprocess.Popen[bytes]
    media: Path

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # self-signed, as the ALB sees it
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=15, context=context)
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, doc: Any = None) -> tuple[int, Any]:
        status, body = self.call(method, path, None if doc is None else json.dumps(doc).encode())
        return status, json.loads(body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(stores: Stores, media: Path, **overrides: str) -> App:
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ecs_tasks.app_dir()),
        "BIND_ADDRESS": "127.0.0.1",
        "PORT": str(port),
        "STREAMFLIX_ROLE": "primary",
        "STREAMFLIX_REGION": REGION,
        "DB_HOST": stores.db["Address"],
        "DB_PORT": str(stores.db["Port"]),
        "DB_SECRET": json.dumps({"username": USER, "password": PASSWORD}),
        "DB_CA_BUNDLE": str(rds_hooks.ca().ca_file),
        "REDIS_HOST": stores.redis[0],
        "REDIS_PORT": str(stores.redis[1]),
        "REDIS_AUTH_TOKEN": TOKEN,
        "REDIS_CA_BUNDLE": str(elasticache_hooks.certificate_authority().ca_file),
        "MEDIA_PATH": str(media),
        **overrides,
    }
    process = subprocess.Popen(
        # As the ECS tasks run: without root's power to ignore permission bits (setpriv when root).
        [*ecs_tasks._launcher(), sys.executable, "-m", "streamflix_app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = App(port, process, media)
    deadline = time.monotonic() + 60
    while True:
        try:
            app.call("GET", "/health")
            return app
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start listening (exit code {process.poll()})")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def stores(engines_on: str) -> Stores:
    rds = aws(engines_on, "rds", REGION)
    group = uid("pg")
    rds.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="t"
    )
    db_id = uid("db")
    rds.create_db_instance(
        DBInstanceIdentifier=db_id,
        DBName="streamflix",
        Engine="postgres",
        EngineVersion="16.9",
        DBInstanceClass="db.r6g.large",
        MasterUsername=USER,
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        DBParameterGroupName=group,
    )
    db = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["Endpoint"]
    ec = aws(engines_on, "elasticache", REGION)
    rg_id = uid("vk")
    ec.create_replication_group(
        ReplicationGroupId=rg_id,
        ReplicationGroupDescription="app handler tests",
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
        TransitEncryptionMode="required",
        AuthToken=TOKEN,
        CacheNodeType="cache.r7g.large",
        Engine="redis",
        EngineVersion="7.1",
    )
    address = ec.describe_replication_groups(ReplicationGroupId=rg_id)["ReplicationGroups"][0]["NodeGroups"][
        0
    ]["PrimaryEndpoint"]
    return Stores(engines_on, group, db, (address["Address"], int(address["Port"])))


@pytest.fixture(scope="module")
def app(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    running = start_app(stores, tmp_path_factory.mktemp("media"))
    yield running
    running.process.terminate()
    running.process.wait(10)


def test_health_checks_every_store_and_reports_them(app: App) -> None:
    status, doc = app.json("GET", "/health")
    assert status == 200, doc
    assert doc["failed"] == []
    assert doc["checks"]["db"] == {"ok": True, "read_only": False, "in_recovery": False}
    assert doc["checks"]["cache"] == {"ok": True, "read_only": False, "role": "master"}
    assert doc["checks"]["fs"] == {"ok": True, "read_only": False}


def test_health_fails_naming_the_store_that_does_not_answer(stores: Stores, tmp_path: Path) -> None:
    closed = _free_port()  # nothing listens there
    broken = start_app(stores, tmp_path, REDIS_PORT=str(closed), MEDIA_PATH=str(tmp_path / "absent"))
    try:
        status, doc = broken.json("GET", "/health")
    finally:
        broken.process.terminate()
        broken.process.wait(10)
    assert status == 503
    assert doc["failed"] == ["cache", "fs"]
    assert doc["checks"]["db"]["ok"] is True
    assert "error" in doc["checks"]["cache"]


def test_titles_are_committed_read_back_and_listed_since_an_instant(app: App) -> None:
    first, second = uid("t"), uid("t")
    status, one = app.json("POST", "/titles", {"id": first, "name": "One", "metadata": {"year": 1999}})
    assert status == 201, one
    status, two = app.json("POST", "/titles", {"id": second, "name": "Two"})
    assert status == 201, two
    assert app.json("GET", f"/titles/{first}") == (200, one)
    status, listed = app.json("GET", f"/titles?since={two['created_at'].replace('+', '%2B')}")
    assert status == 200
    assert [t["id"] for t in listed["titles"]] == [second]
    assert app.json("POST", "/titles", {"id": first, "name": "Again"})[0] == 409
    assert app.json("GET", f"/titles/{uid('missing')}")[0] == 404


def test_bad_requests_are_refused_before_any_store(app: App) -> None:
    assert app.json("POST", "/titles", {"id": "x"})[0] == 400  # no name
    assert app.json("POST", "/titles", {"id": "a b", "name": "n"})[0] == 400
    assert app.call("PUT", "/media/../etc/passwd", b"x")[0] == 400
    assert app.call("PUT", "/media/.hidden", b"x")[0] == 400
    assert app.call("GET", "/nowhere")[0] == 404


def test_sessions_are_stored_in_valkey(app: App) -> None:
    assert app.call("PUT", "/sessions/abc?ttl=60", b'{"user": 7}')[0] == 201
    assert app.call("GET", "/sessions/abc") == (200, b'{"user": 7}')
    assert app.call("GET", f"/sessions/{uid('none')}")[0] == 404


def test_media_is_written_to_the_mount(app: App) -> None:
    assert app.call("PUT", "/media/shows/s01e01.mp4", b"frames")[0] == 201
    assert (app.media / "shows" / "s01e01.mp4").read_bytes() == b"frames"
    assert [p.name for p in (app.media / "shows").iterdir()] == ["s01e01.mp4"]  # no temporary file left
    assert app.call("GET", "/media/shows/s01e01.mp4") == (200, b"frames")


def test_read_only_mount_keeps_health_and_refuses_media_writes(stores: Stores, tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    ro = start_app(stores, tmp_path)
    try:
        status, doc = ro.json("GET", "/health")
        assert (status, doc["checks"]["fs"]["read_only"]) == (200, True)
        status, body = ro.call("PUT", "/media/a", b"x")
        assert (status, json.loads(body)["error"], json.loads(body)["store"]) == (503, "read-only", "fs")
        assert list(tmp_path.iterdir()) == []
    finally:
        ro.process.terminate()
        ro.process.wait(10)
        tmp_path.chmod(0o755)


def test_plain_http_is_not_served(app: App) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.request("GET", "/health")
        conn.getresponse()
    conn.close()


def test_fenced_database_keeps_health_and_answers_writes_503_read_only(app: App, stores: Stores) -> None:
    rds = aws(stores.endpoint, "rds", REGION)
    rds.modify_db_parameter_group(
        DBParameterGroupName=stores.group,
        Parameters=[
            {
                "ParameterName": "default_transaction_read_only",
                "ParameterValue": "1",
                "ApplyMethod": "immediate",
            }
        ],
    )
    try:
        status, doc = app.json("POST", "/titles", {"name": "after the fence"})
        assert status == 503
        assert (doc["error"], doc["code"], doc["store"]) == ("read-only", "25006", "db")
        status, health = app.json("GET", "/health")
        assert (status, health["checks"]["db"]["read_only"]) == (200, True)
    finally:
        rds.modify_db_parameter_group(
            DBParameterGroupName=stores.group,
            Parameters=[
                {
                    "ParameterName": "default_transaction_read_only",
                    "ParameterValue": "0",
                    "ApplyMethod": "immediate",
                }
            ],
        )
