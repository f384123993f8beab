"""RDS for PostgreSQL on a real server: endpoint, TLS, master secret, replica, fence, promotion, lag, delete.

One primary (eu-west-2) and its cross-region replica (us-east-1) are created once for the module
through the RDS API and shared by the tests, in file order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from api_support import aws, uid

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import rds_hooks

PRIMARY = "eu-west-2"
DR = "us-east-1"
USER = "streamflix"
PASSWORD = "pw-Secret-123"


@dataclass
class Pair:
    endpoint: str
    group: str
    primary_id: str
    replica_id: str

    def rds(self, region: str) -> Any:
        return aws(self.endpoint, "rds", region)

    def describe(self, region: str, db_id: str) -> dict[str, Any]:
        return dict(self.rds(region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0])

    def connect(self, region: str, db_id: str, **kwargs: Any) -> psycopg.Connection[Any]:
        ep = self.describe(region, db_id)["Endpoint"]
        params: dict[str, Any] = {
            "host": ep["Address"],
            "port": ep["Port"],
            "user": USER,
            "password": PASSWORD,
            "dbname": "streamflix",
            "sslmode": "verify-full",
            "sslrootcert": str(rds_hooks.ca().ca_file),
            "connect_timeout": 10,
            "autocommit": True,
        }
        params.update(kwargs)
        return psycopg.connect(**params)


def param(name: str, value: str) -> dict[str, str]:
    return {"ParameterName": name, "ParameterValue": value, "ApplyMethod": "immediate"}


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Poll ``check`` until it holds (bounded); fail naming ``what``. Not a timing assertion."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pair(engines_on: str) -> Iterator[Pair]:
    endpoint = engines_on
    rds_primary = aws(endpoint, "rds", PRIMARY)
    group = uid("pg")
    rds_primary.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="engine tests"
    )
    rds_primary.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}],
    )
    primary_id = uid("db")
    source = rds_primary.create_db_instance(
        DBInstanceIdentifier=primary_id,
        DBName="streamflix",
        Engine="postgres",
        EngineVersion="16.9",
        DBInstanceClass="db.r6g.large",
        MasterUsername=USER,
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
        DBParameterGroupName=group,
    )["DBInstance"]
    # The replica names a group of its own region, as the template does (a cross-region replica
    # otherwise gets the default group, aws-notes section 1).
    rds_dr = aws(endpoint, "rds", DR)
    rds_dr.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="engine tests"
    )
    rds_dr.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}],
    )
    replica_id = uid("replica")
    rds_dr.create_db_instance_read_replica(
        DBInstanceIdentifier=replica_id,
        SourceDBInstanceIdentifier=source["DBInstanceArn"],
        SourceRegion=PRIMARY,
        DBParameterGroupName=group,
    )
    p = Pair(endpoint, group, primary_id, replica_id)
    with p.connect(PRIMARY, primary_id) as conn:
        conn.execute("CREATE TABLE titles (id int PRIMARY KEY, name text)")
    with p.connect(DR, replica_id) as replica:
        wait_for(
            lambda: replica.execute("SELECT to_regclass('titles') IS NOT NULL").fetchone()[0],
            "the table replicating to us-east-1",
        )
    yield p


def test_endpoint_is_the_tls_front_and_takes_the_master_secret_with_verify_full(pair: Pair) -> None:
    ep = pair.describe(PRIMARY, pair.primary_id)["Endpoint"]
    assert ep["Address"] == "127.0.0.1"
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (USER, "streamflix")
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
    with pair.connect(PRIMARY, pair.primary_id, sslmode="require", sslrootcert=None) as conn:
        assert conn.info.pgconn.ssl_in_use


def test_plain_text_client_is_refused_as_rds_force_ssl_does(pair: Pair) -> None:
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry for host .* no encryption"):
        pair.connect(PRIMARY, pair.primary_id, sslmode="disable")


def test_wrong_password_is_refused(pair: Pair) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pair.connect(PRIMARY, pair.primary_id, password="not-the-secret")


def test_replica_is_a_hot_standby_that_refuses_writes_with_25006(pair: Pair) -> None:
    ep = pair.describe(DR, pair.replica_id)["Endpoint"]
    assert ep["Address"] == "127.0.0.1"
    assert ep["Port"] != pair.describe(PRIMARY, pair.primary_id)["Endpoint"]["Port"]
    with pair.connect(DR, pair.replica_id) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as err:
            conn.execute("INSERT INTO titles VALUES (999, 'nope')")
        assert err.value.sqlstate == "25006"


def test_row_written_on_the_primary_reaches_the_replica(pair: Pair) -> None:
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        conn.execute("INSERT INTO titles VALUES (1, 'Metropolis')")
    with pair.connect(DR, pair.replica_id) as replica:

        def replicated() -> bool:
            return replica.execute("SELECT name FROM titles WHERE id = 1").fetchone() == ("Metropolis",)

        wait_for(replicated, "the row replicating to us-east-1")


def test_replica_lag_datapoints_reach_cloudwatch_in_the_replica_region(pair: Pair) -> None:
    published: dict[tuple[str, str], float] = {}

    def publish() -> bool:
        published.update(rds_hooks.publish_replica_lag())
        return (DR, pair.replica_id) in published  # known once the replica has replayed a transaction

    wait_for(publish, "a ReplicaLag value for the replica")
    assert published[(DR, pair.replica_id)] >= 0
    assert (PRIMARY, pair.primary_id) not in published  # a primary has no ReplicaLag
    now = datetime.now(UTC)
    stats = aws(pair.endpoint, "cloudwatch", DR).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": pair.replica_id}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    assert sum(d["SampleCount"] for d in stats["Datapoints"]) >= 1


def test_read_only_fence_parameter_makes_new_primary_transactions_read_only(pair: Pair) -> None:
    rds = pair.rds(PRIMARY)
    rds.modify_db_parameter_group(
        DBParameterGroupName=pair.group,
        Parameters=[param("default_transaction_read_only", "on")],
    )
    try:
        with pair.connect(PRIMARY, pair.primary_id) as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO titles VALUES (2, 'fenced')")
    finally:
        rds.modify_db_parameter_group(
            DBParameterGroupName=pair.group,
            Parameters=[param("default_transaction_read_only", "off")],
        )
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        conn.execute("INSERT INTO titles VALUES (3, 'after the fence')")


def test_modify_instance_to_another_group_applies_that_group(pair: Pair) -> None:
    rds = pair.rds(PRIMARY)
    other = uid("pg")
    rds.create_db_parameter_group(
        DBParameterGroupName=other, DBParameterGroupFamily="postgres16", Description="other"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=other,
        Parameters=[param("rds.force_ssl", "1"), param("log_min_duration_statement", "2500")],
    )
    try:
        rds.modify_db_instance(
            DBInstanceIdentifier=pair.primary_id, DBParameterGroupName=other, ApplyImmediately=True
        )
        with pair.connect(PRIMARY, pair.primary_id) as conn:
            assert conn.execute("SHOW log_min_duration_statement").fetchone()[0] == "2500ms"
    finally:
        rds.modify_db_instance(
            DBInstanceIdentifier=pair.primary_id, DBParameterGroupName=pair.group, ApplyImmediately=True
        )


def test_force_ssl_off_lets_plain_text_in_on_the_same_endpoint(pair: Pair) -> None:
    rds = pair.rds(PRIMARY)
    port = pair.describe(PRIMARY, pair.primary_id)["Endpoint"]["Port"]
    rds.modify_db_parameter_group(DBParameterGroupName=pair.group, Parameters=[param("rds.force_ssl", "0")])
    try:
        assert pair.describe(PRIMARY, pair.primary_id)["Endpoint"]["Port"] == port
        with pair.connect(PRIMARY, pair.primary_id, sslmode="disable") as conn:
            assert not conn.info.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        rds.modify_db_parameter_group(
            DBParameterGroupName=pair.group, Parameters=[param("rds.force_ssl", "1")]
        )
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        pair.connect(PRIMARY, pair.primary_id, sslmode="disable")


def test_static_parameter_waits_for_reboot(pair: Pair) -> None:
    rds = pair.rds(PRIMARY)
    # shared_buffers is static (postmaster context); RDS's value is in 8 kB units: 3072 = 24 MB.
    rds.modify_db_parameter_group(
        DBParameterGroupName=pair.group, Parameters=[param("shared_buffers", "3072")]
    )
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        assert conn.execute("SHOW shared_buffers").fetchone()[0] == "16MB"  # pending-reboot
    rds.reboot_db_instance(DBInstanceIdentifier=pair.primary_id)
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        assert conn.execute("SHOW shared_buffers").fetchone()[0] == "24MB"


def test_promotion_makes_the_replica_writable(pair: Pair) -> None:
    pair.rds(DR).promote_read_replica(DBInstanceIdentifier=pair.replica_id, BackupRetentionPeriod=7)
    with pair.connect(DR, pair.replica_id) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        conn.execute("INSERT INTO titles VALUES (100, 'written in us-east-1')")
        assert conn.execute("SELECT count(*) FROM titles WHERE id = 1").fetchone()[0] == 1


def test_delete_stops_the_server_and_removes_its_data(pair: Pair) -> None:
    inst = rds_hooks.find(DR, pair.replica_id)
    assert inst is not None
    base = Path(inst.base)
    assert (base / "data" / "PG_VERSION").exists()
    port = pair.describe(DR, pair.replica_id)["Endpoint"]["Port"]
    pair.rds(DR).delete_db_instance(DBInstanceIdentifier=pair.replica_id, SkipFinalSnapshot=True)
    assert not base.exists()
    assert rds_hooks.find(DR, pair.replica_id) is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="streamflix", connect_timeout=5
        )


def test_engines_off_leave_moto_alone(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "_enabled", False)
    db_id = uid("db")
    db = pair.rds(PRIMARY).create_db_instance(
        DBInstanceIdentifier=db_id,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        MasterUsername=USER,
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
    )["DBInstance"]
    assert db["Endpoint"]["Address"].endswith(".rds.amazonaws.com")
    assert rds_hooks.find(PRIMARY, db_id) is None
    pair.rds(PRIMARY).delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=True)
