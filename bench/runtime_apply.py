"""Run-boundary commits per second through the API (POST /runtimes/{id}/apply: a ~2 KB session
snapshot, a receipt and two input updates in one transaction) against an authenticated no-op POST
on the same daphne server. Run: .venv/bin/python bench/runtime_apply.py [--pg]"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import fresh_postgres_url, live_server, rate, report  # noqa: E402

NOW = "2026-01-01T00:00:00+00:00"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    db = fresh_postgres_url("bench_runtime_apply") if args.pg else None
    with live_server(db, scope="agent") as (base, token, _env):
        client = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})
        runtimes = [f"rt:bench:{n}" for n in range(20)]
        inputs = {rid: [str(uuid.uuid4()), str(uuid.uuid4())] for rid in runtimes}
        run_id = str(uuid.uuid4())
        messages = [{"role": "user", "text": "x" * 90} for _ in range(20)]

        def body(i: int, rid: str) -> dict[str, Any]:
            return {
                "session_snapshot": {"messages": messages, "turn": i},
                "receipt": {"run_id": run_id, "boundary": "run_checkpoint", "sequence": i, "message_count": 20},
                "input_updates": [
                    {"input_id": input_id, "current_state": "applied", "created_at": NOW, "updated_at": NOW,
                     "last_run_id": run_id, "last_boundary_sequence": i}
                    for input_id in inputs[rid]
                ],
            }

        def noop(i: int) -> None:
            client.post("/noop").raise_for_status()

        def apply(i: int) -> None:
            rid = runtimes[i % len(runtimes)]
            client.post(f"/runtimes/{rid}/apply", json=body(i, rid)).raise_for_status()

        # Sequences must be unique per runtime, so each apply round continues where the last stopped.
        offset = [0]

        def apply_next(i: int) -> None:
            offset[0] += 1
            apply(offset[0])

        noop_rates, apply_rates = [], []
        for _ in range(2):
            noop_rates.append(rate(noop, seconds=args.seconds / 2))
            apply_rates.append(rate(apply_next, seconds=args.seconds / 2))
        noop_rate, apply_rate = sum(noop_rates) / 2, sum(apply_rates) / 2
    report(
        f"Runtime boundary commits through the API ({'PostgreSQL' if args.pg else 'SQLite'}, one client)",
        [
            ("no-op POST /api/v1/noop (authenticated)", f"{noop_rate:.0f} req/s"),
            ("POST /api/v1/runtimes/{id}/apply (2 KB snapshot, receipt, 2 inputs)", f"{apply_rate:.0f} req/s"),
            ("ratio apply / no-op", f"{apply_rate / noop_rate:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
