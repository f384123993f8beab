"""A region outage on real PostgreSQL: what had not crossed the link is lost, the rest survives promotion."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from api_support import aws, uid

from streamflix_dr_emulator import engines
from streamflix_dr_emulator.engines import rds_hooks

PRIMARY = "eu-west-2"
DR = "us-east-1"
USER = "streamflix"
PASSWORD = "pw-Outage-456"
BASELINE = 10
BURST = 50
# A long round trip for this module, so the burst's tail is certainly still on the wire when
# the region fails (a 75 ms link would make the lost count depend on the machine's speed).
RTT_SECONDS = 1.0


@dataclass
class Pair:
    endpoint: str
    primary_id: str
    replica_id: str

    def connect(self, region: str, db_id: str) -> psycopg.Connection[Any]:
        db = aws(self.endpoint, "rds", region).describe_db_instances(DBInstanceIdentifier=db_id)[
            "DBInstances"
        ][0]
        return psycopg.connect(
            host=db["Endpoint"]["Address"],
            port=db["Endpoint"]["Port"],
            user=USER,
            password=PASSWORD,
            dbname="postgres",
            sslmode="verify-full",
            sslrootcert=str(rds_hooks.ca().ca_file),
            connect_timeout=5,
            autocommit=True,
        )


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pair(engines_on: str) -> Iterator[Pair]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rds_hooks, "REPLICATION_RTT_SECONDS", RTT_SECONDS)
        primary_id, replica_id = uid("db"), uid("replica")
        source = aws(engines_on, "rds", PRIMARY).create_db_instance(
            DBInstanceIdentifier=primary_id,
            Engine="postgres",
            EngineVersion="16.9",
            DBInstanceClass="db.r6g.large",
            MasterUsername=USER,
            MasterUserPassword=PASSWORD,
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
        )["DBInstance"]
        aws(engines_on, "rds", DR).create_db_instance_read_replica(
            DBInstanceIdentifier=replica_id,
            SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion=PRIMARY,
        )
    yield Pair(engines_on, primary_id, replica_id)
    engines.restore_region(PRIMARY)


def test_outage_loses_exactly_the_writes_still_on_the_link(pair: Pair) -> None:
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        conn.execute("CREATE TABLE writes (id int PRIMARY KEY)")
        for i in range(1, BASELINE + 1):
            conn.execute("INSERT INTO writes VALUES (%s)", (i,))
    with pair.connect(DR, pair.replica_id) as replica:
        wait_for(
            lambda: (
                replica.execute("SELECT to_regclass('writes') IS NOT NULL").fetchone()[0]
                and replica.execute("SELECT count(*) FROM writes").fetchone()[0] == BASELINE
            ),
            "the baseline rows replicating",
        )

    acknowledged = list(range(1, BASELINE + 1))
    with pair.connect(PRIMARY, pair.primary_id) as conn:
        for i in range(BASELINE + 1, BASELINE + BURST + 1):
            conn.execute("INSERT INTO writes VALUES (%s)", (i,))  # autocommit: returned = acknowledged
            acknowledged.append(i)
        engines.fail_region(PRIMARY)

    primary = rds_hooks.find(PRIMARY, pair.primary_id)
    replica_engine = rds_hooks.find(DR, pair.replica_id)
    assert primary is not None and replica_engine is not None and replica_engine.link is not None
    assert replica_engine.link.is_cut
    assert replica_engine.link.lost_bytes > 0

    # Clients cannot reach the failed region's endpoint any more.
    with pytest.raises(psycopg.OperationalError):
        pair.connect(PRIMARY, pair.primary_id)

    # DR promotes what it has; promotion replays everything that had crossed the link.
    aws(pair.endpoint, "rds", DR).promote_read_replica(DBInstanceIdentifier=pair.replica_id)
    with pair.connect(DR, pair.replica_id) as dr:
        found = [row[0] for row in dr.execute("SELECT id FROM writes ORDER BY id").fetchall()]

    # The old primary (reached on its own socket: it did not crash, it became unreachable) kept all.
    with primary.admin() as conn:
        on_primary = [row[0] for row in conn.execute("SELECT id FROM writes ORDER BY id").fetchall()]
    assert on_primary == acknowledged

    lost = [i for i in acknowledged if i not in found]
    assert found == acknowledged[: len(found)]  # WAL order: survivors are a prefix, no holes
    assert len(found) >= BASELINE  # what had crossed before the outage survived
    assert lost  # the tail of the burst was still on the wire and is gone
    assert lost == acknowledged[len(found) :]
