"""Claim+complete round trips per second through the sessions API with 4 concurrent workers on
PostgreSQL, against the authenticated no-op endpoint measured with the same 4 threads in the same run.
Also counts double claims (a batch handed to two claims), which must be 0.

Run: .venv/bin/python bench/queue.py [--seconds 4] [--sessions 2]"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this module would shadow the
# standard library's `queue` (which psycopg and httpx import). Put the repository there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402

import httpx  # noqa: E402

from bench.common import fresh_postgres_url, live_server, report  # noqa: E402

WORKERS = 4


def concurrent_rate(make_call: Callable[[httpx.Client, int], Callable[[], bool]], base: str, token: str,
                    seconds: float) -> tuple[float, int]:
    """Successful calls per second over WORKERS threads, each with its own keep-alive client."""
    done = [0] * WORKERS
    stop = threading.Event()
    start_line = threading.Barrier(WORKERS + 1)

    def run(i: int) -> None:
        with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as client:
            call = make_call(client, i)
            for _ in range(10):  # warm the connection and the server's code paths
                if not call():
                    break
            start_line.wait()
            while not stop.is_set():
                if not call():
                    return
                done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    start_line.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started), sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sessions", type=int, default=2, help="sessions the workers share")
    parser.add_argument("--prefill", type=int, default=4000, help="batches queued before measuring")
    args = parser.parse_args()
    os.environ["SWARM_AGENT_TTL_S"] = "3600"  # the workers do not heartbeat while they measure
    sessions = [f"bench-{i}" for i in range(args.sessions)]
    claimed: Counter[str] = Counter()
    rejected = Counter[str]()
    lock = threading.Lock()
    with live_server(fresh_postgres_url("bench_queue"), scope="agent") as (base, token, _env):
        agents = [str(uuid.uuid4()) for _ in range(WORKERS)]
        with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as setup:
            for agent in agents:
                setup.post(f"/agents/{agent}/register").raise_for_status()

        def enqueuer(client: httpx.Client, i: int) -> Callable[[], bool]:
            def call() -> bool:
                body = {"payloads": [{"type": "turn_input", "input": {"text": "work"}}]}
                client.post(f"/sessions/{sessions[i % len(sessions)]}/queue", json=body).raise_for_status()
                return True
            return call

        def noop(client: httpx.Client, i: int) -> Callable[[], bool]:
            def call() -> bool:
                client.post("/noop").raise_for_status()
                return True
            return call

        def claim_complete(client: httpx.Client, i: int) -> Callable[[], bool]:
            n = [i]

            def call() -> bool:
                session = sessions[n[0] % len(sessions)]
                n[0] += 1
                got = client.post(f"/sessions/{session}/queue/claim", json={"agent_id": agents[i], "max_batches": 1})
                if got.status_code == 204:
                    return False  # drained: stop measuring rather than time empty claims
                got.raise_for_status()
                claim = got.json()
                with lock:
                    claimed.update(b["batch_id"] for b in claim["batches"])
                ref = {k: claim[k] for k in ("claim_id", "lease_token")} | {"batch_ids": [b["batch_id"] for b in
                                                                                        claim["batches"]]}
                finished = client.post(f"/sessions/{session}/queue/complete", json=ref)
                if finished.status_code != 200:
                    with lock:
                        rejected[finished.json().get("code", str(finished.status_code))] += 1
                return True
            return call

        prefill_rate, _ = concurrent_rate(enqueuer, base, token, args.prefill / 400)
        # Interleave the two measurements so drift on a shared machine hits both alike.
        noop_rates, rt_rates = [], []
        for _ in range(2):
            noop_rates.append(concurrent_rate(noop, base, token, args.seconds / 2)[0])
            rt_rates.append(concurrent_rate(claim_complete, base, token, args.seconds / 2)[0])
    noop_rate, rt_rate = sum(noop_rates) / 2, sum(rt_rates) / 2
    double_claims = sum(n - 1 for n in claimed.values() if n > 1)
    report(
        f"Durable inbox through the API (PostgreSQL, {WORKERS} concurrent workers, {args.sessions} shared sessions)",
        [
            ("no-op POST /api/v1/noop (authenticated, 4 threads)", f"{noop_rate:.0f} req/s"),
            ("enqueue POST /sessions/{id}/queue (prefill, 4 threads)", f"{prefill_rate:.0f} req/s"),
            ("claim + complete round trips (2 requests each)", f"{rt_rate:.0f} round trips/s"),
            ("ratio round trips / no-op requests", f"{rt_rate / noop_rate:.2f}"),
            ("ratio per request (2 × round trips / no-op)", f"{2 * rt_rate / noop_rate:.2f}"),
            ("batches claimed", f"{len(claimed)}"),
            ("double claims (must be 0)", f"{double_claims}"),
            ("rejected completions", f"{sum(rejected.values())} {dict(rejected) or ''}".strip()),
        ],
    )
    if double_claims or rejected:
        sys.exit(1)


if __name__ == "__main__":
    main()
