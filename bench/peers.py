"""Queue work against the peer, on one PostgreSQL server in one run: Procrastinate (defer J jobs, then
its worker with concurrency 4 runs them, in process) against Swarmsite (J batches queued in one session,
then 4 swarmclient QueueWorkers on threads claim and complete them over HTTP through daphne, many
claims per round trip). Both on a fresh database, both with a trivial job body. Counts double claims
(a batch handed to two claims: must be 0) and checks every job ran once on both sides.

The last line printed is the ratio Swarmsite jobs/s / Procrastinate jobs/s (target >= 1.0).

Run: .venv/bin/python -m bench.peers [--jobs 3000] [--claims 50] [--rounds 1]"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench.common import fresh_postgres_url, live_server, manage, report

WORKERS = 4
SESSION = "peers"

# Queued in one transaction, by the store the API uses (not timed in the ratio).
PREFILL = """
from django.db import transaction
from stores.queue_types import QueuedWorkBatchDraft, QueuedWorkPayload
from swarmsite.composition import runtime_persistence
store = runtime_persistence().open({session!r})
with transaction.atomic():
    for n in range({jobs}):
        store.enqueue_queued_work(QueuedWorkBatchDraft({session!r}, (QueuedWorkPayload.turn_input({{"n": n}}),)))
"""


def procrastinate_run(jobs: int) -> tuple[float, float]:
    """(defer rate, jobs/s of the worker) for `jobs` trivial jobs on a fresh database."""
    import psycopg
    from procrastinate import App, PsycopgConnector

    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # its note about apps defined in __main__
    url = fresh_postgres_url("bench_peers_procrastinate")
    app = App(connector=PsycopgConnector(conninfo=url))

    @app.task(name="bench_noop", queue="bench")
    async def noop(n: int) -> None:
        return None

    async def run() -> tuple[float, float]:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            started = time.perf_counter()
            await noop.batch_defer_async(*({"n": n} for n in range(jobs)))
            defer_rate = jobs / (time.perf_counter() - started)
            started = time.perf_counter()
            # wait=False: the worker returns once the queue is empty.
            await app.run_worker_async(queues=["bench"], concurrency=WORKERS, wait=False,
                                       install_signal_handlers=False)
            return defer_rate, jobs / (time.perf_counter() - started)

    defer_rate, rate = asyncio.run(run())
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status").fetchall()
    done: dict[str, int] = dict(rows)
    if done != {"succeeded": jobs}:
        sys.exit(f"procrastinate did not run every job once: {done}")
    return defer_rate, rate


def swarmsite_run(jobs: int, claims_per_round: int) -> tuple[float, float, int, int]:
    """(enqueue rate, jobs/s, double claims, completions refused) for `jobs` batches over HTTP."""
    from swarmclient import QueueWorker, SwarmClient

    os.environ["SWARM_AGENT_TTL_S"] = "3600"  # the workers do not heartbeat while they measure
    with live_server(fresh_postgres_url("bench_peers_swarmsite"), scope="agent") as (base, token, env):
        started = time.perf_counter()
        manage(env, "shell", "-c", PREFILL.format(session=SESSION, jobs=jobs))
        enqueue_rate = jobs / (time.perf_counter() - started)
        handed: Counter[str] = Counter()
        refused: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        start_line = threading.Barrier(WORKERS + 1)

        def work() -> None:
            try:
                with SwarmClient(base, token) as swarm:
                    swarm.register(name="bench-worker")

                    def handle(claim: dict[str, Any]) -> None:  # the trivial job body
                        with lock:
                            handed.update(b["batch_id"] for b in claim["batches"])

                    worker = QueueWorker(swarm, SESSION, handle, max_claims=claims_per_round)
                    swarm.list_queue(SESSION, limit=1)  # warm the connection
                    start_line.wait()
                    expired = 0
                    while (done := worker.run_once()).claimed:
                        expired += done.expired
                    with lock:
                        refused.append(expired)
            except BaseException as exc:
                errors.append(exc)
                start_line.abort()

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for t in threads:
            t.start()
        start_line.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        import httpx

        left = httpx.get(f"{base}/api/v1/sessions/{SESSION}/queue", headers={"Authorization": f"Bearer {token}"})
        if left.json()["total"] != 0 or len(handed) != jobs:
            sys.exit(f"swarmsite left {left.json()['total']} batches, handled {len(handed)} of {jobs}")
    return enqueue_rate, jobs / elapsed, sum(n - 1 for n in handed.values() if n > 1), sum(refused)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--claims", type=int, default=50, help="claims per round trip (max_claims, ≤ 100)")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two this many times; medians")
    args = parser.parse_args()
    peer, ours, doubles, refusals, defers, enqueues = [], [], 0, 0, [], []
    for _ in range(args.rounds):
        defer_rate, rate = procrastinate_run(args.jobs)
        peer.append(rate)
        defers.append(defer_rate)
        enqueue_rate, rate, double, refused = swarmsite_run(args.jobs, args.claims)
        ours.append(rate)
        enqueues.append(enqueue_rate)
        doubles += double
        refusals += refused
    peer_rate, our_rate = statistics.median(peer), statistics.median(ours)
    ratio = our_rate / peer_rate
    report(
        f"Queue work against Procrastinate (PostgreSQL, {args.jobs} jobs, {WORKERS} workers, "
        f"median of {args.rounds})",
        [
            ("Procrastinate 3.10: batch_defer (not timed in the ratio)", f"{statistics.median(defers):.0f} jobs/s"),
            (f"Procrastinate 3.10: worker, concurrency {WORKERS}, in process", f"{peer_rate:.0f} jobs/s"),
            ("Swarmsite: enqueue through the store, one transaction, with manage.py's start-up (not timed in "
             "the ratio)", f"{statistics.median(enqueues):.0f} /s"),
            (f"Swarmsite: {WORKERS} QueueWorkers over HTTP, {args.claims} claims per round trip",
             f"{our_rate:.0f} jobs/s"),
            ("double claims (must be 0)", f"{doubles}"),
            ("completions refused as expired", f"{refusals}"),
            ("ratio Swarmsite / Procrastinate (target ≥ 1.0)", f"{ratio:.2f}"),
        ],
    )
    print(f"\nratio swarmsite/procrastinate: {ratio:.2f}")
    if doubles or refusals:
        sys.exit(1)


if __name__ == "__main__":
    main()
