"""Identity runtime throughput through the API, each against a baseline measured in the same run:

- checkpoint saves per second with 64 KB snapshots (POST /identities/{id}/checkpoints: fence check on
  the locked lease row, continuity CAS, snapshot row, pruning, event) against the raw SQL insert of
  the same 64 KB in its own transaction, on the same database;
- lease acquire + renew round trips (two POSTs: a fresh token, then an extension) against two
  authenticated no-op POSTs on the same server.

One keep-alive client, interleaved runs. Run: .venv/bin/python bench/identities.py [--pg]"""

from __future__ import annotations

import argparse
import base64
import os
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

# Running this file puts bench/ first on sys.path, where bench/queue.py would shadow the standard
# library's queue (psycopg needs it): import from the repository root instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
from bench.common import fresh_postgres_url, live_server, rate, report  # noqa: E402

SNAPSHOT_BYTES = 64 * 1024


class RawInsert:
    """INSERT of the same bytes, one transaction per row, straight to the server's database."""

    def __init__(self, database_url: str) -> None:
        self.pg = database_url.startswith("postgres")
        if self.pg:
            import psycopg

            self.conn: Any = psycopg.connect(database_url, autocommit=True)
            self.conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, data bytea NOT NULL)")
        else:
            path = database_url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=20)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # the server's setting
            self.conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id integer PRIMARY KEY, data blob NOT NULL)")

    def insert(self, data: bytes) -> None:
        if self.pg:
            self.conn.execute("INSERT INTO bench_raw (data) VALUES (%s)", [data])
        else:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT INTO bench_raw (data) VALUES (?)", [data])
            self.conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    db = fresh_postgres_url("bench_identities") if args.pg else None
    snapshot = os.urandom(SNAPSHOT_BYTES)
    encoded = base64.b64encode(snapshot).decode()
    with live_server(db, scope="admin") as (base, token, env):
        client = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        agent = str(uuid.uuid4())
        client.post(f"/agents/{agent}/register", json={}).raise_for_status()
        for name in ("bench-checkpoints", "bench-leases"):
            client.post("/identities", json={"identity": name, "profile": "bench"}).raise_for_status()
        fence = client.post("/identities/bench-checkpoints/lease", json={"agent_id": agent, "ttl_s": 3600}).json()
        raw = RawInsert(env["DATABASE_URL"])

        def checkpoint(i: int) -> None:
            body = {"agent_id": agent, "fencing_token": fence["fencing_token"], "data": encoded}
            client.post("/identities/bench-checkpoints/checkpoints", json=body).raise_for_status()

        def raw_insert(i: int) -> None:
            raw.insert(snapshot)

        def acquire_renew(i: int) -> None:
            grant = client.post("/identities/bench-leases/lease", json={"agent_id": agent}).json()
            client.post("/identities/bench-leases/lease/renew",
                        json={"agent_id": agent, "fencing_token": grant["fencing_token"]}).raise_for_status()

        def noop_pair(i: int) -> None:
            client.post("/noop").raise_for_status()
            client.post("/noop").raise_for_status()

        # Interleave each pair of measurements so drift on a shared machine hits both alike.
        half = args.seconds / 2
        cp, rw, lr, nop = [], [], [], []
        for _ in range(2):
            cp.append(rate(checkpoint, seconds=half, warmup=5))
            rw.append(rate(raw_insert, seconds=half, warmup=5))
            lr.append(rate(acquire_renew, seconds=half, warmup=5))
            nop.append(rate(noop_pair, seconds=half, warmup=5))
        cp_rate, raw_rate, lease_rate, noop_rate = (sum(x) / 2 for x in (cp, rw, lr, nop))
    engine = "PostgreSQL" if args.pg else "SQLite"
    report(
        f"Identity runtime through the API ({engine}, one client, keep-alive)",
        [
            ("checkpoint saves, 64 KB snapshot (POST /identities/{id}/checkpoints)", f"{cp_rate:.0f} /s"),
            ("raw SQL insert of the same 64 KB, one transaction each", f"{raw_rate:.0f} /s"),
            ("ratio checkpoint / raw insert", f"{cp_rate / raw_rate:.3f}"),
            ("lease acquire + renew round trips (2 POSTs)", f"{lease_rate:.0f} /s"),
            ("two no-op POSTs (authenticated)", f"{noop_rate:.0f} /s"),
            ("ratio acquire+renew / no-op pair", f"{lease_rate / noop_rate:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
