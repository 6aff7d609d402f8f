"""Heartbeats per second through the API against an authenticated no-op on the same daphne server.

Target: at least 0.7 of the no-op rate on SQLite. Run: .venv/bin/python bench/heartbeat.py [--pg]"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import fresh_postgres_url, live_server, rate, report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    db = fresh_postgres_url("bench_heartbeat") if args.pg else None
    with live_server(db, scope="agent") as (base, token, _env):
        client = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})
        agents = [uuid.uuid4() for _ in range(50)]
        for agent in agents:
            client.post(f"/agents/{agent}/register").raise_for_status()

        def noop(i: int) -> None:
            client.post("/noop").raise_for_status()

        def heartbeat(i: int) -> None:
            client.post(f"/agents/{agents[i % len(agents)]}/heartbeat").raise_for_status()

        # Interleave the two measurements so drift on a shared machine hits both alike.
        noop_rates, hb_rates = [], []
        for _ in range(2):
            noop_rates.append(rate(noop, seconds=args.seconds / 2))
            hb_rates.append(rate(heartbeat, seconds=args.seconds / 2))
        noop_rate, hb_rate = sum(noop_rates) / 2, sum(hb_rates) / 2
    ratio = hb_rate / noop_rate
    report(
        f"Heartbeats through the API ({'PostgreSQL' if args.pg else 'SQLite'}, one client, keep-alive)",
        [
            ("no-op POST /api/v1/noop (authenticated)", f"{noop_rate:.0f} req/s"),
            ("POST /api/v1/agents/{id}/heartbeat", f"{hb_rate:.0f} req/s"),
            ("ratio heartbeat / no-op (target ≥ 0.7 on SQLite)", f"{ratio:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
