"""Retention benchmarks at 1,000,000 event rows, in-process on a fresh database:

- the overview page's render time at 1,000,000 event rows against the same page at 1,000 (target: ratio
  at most 1.5; its reads are indexed or bounded, so the log's size must not show);
- the pruning rate (rows/s) of the event log's batched prune, removing the half older than the window,
  while a writer appends events through the event log at a steady pace; the writer's p50/p95 latency
  during pruning against the same writer without pruning, measured in the same run;
- (for information) the Storage page's render time at 1,000,000 rows.

Run: .venv/bin/python -m bench.retention [--pg] [--rows 1000000] [--write-rate 50]"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_postgres_url, pct, report  # noqa: E402
from bench.dashboard import render_times, setup_django  # noqa: E402

SMALL = 1_000
FILL_BATCH = 20_000
WINDOW_DAYS = 7


def fill_events(start: int, stop: int, now: Any) -> None:
    """Event rows spread evenly over the last 14 days (half of them older than the 7-day window),
    written with bulk inserts: setup speed, not what is measured."""
    from django.db import transaction

    from stores.models import EventRecord

    span = timedelta(days=2 * WINDOW_DAYS).total_seconds()
    for batch in range(start, stop, FILL_BATCH):
        end = min(batch + FILL_BATCH, stop)
        rows = [
            EventRecord(
                kind="agent.heartbeat", subject_type="agent", subject_id=f"a-{i % 500}",
                payload={"i": i, "state": "online"}, created_at=now - timedelta(seconds=span * (1 - i / stop)),
            )
            for i in range(batch, end)
        ]
        with transaction.atomic():
            EventRecord.objects.bulk_create(rows, batch_size=2_000)


class PacedWriter(threading.Thread):
    """Appends events through the event log (one transaction each, as every write does) at `per_s`."""

    def __init__(self, per_s: float) -> None:
        super().__init__(daemon=True)
        self.interval = 1 / per_s
        self.samples: list[tuple[float, float]] = []  # (start, seconds)
        self.stop = threading.Event()

    def run(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from swarmsite.composition import event_log

        log = event_log()
        next_at = time.perf_counter()
        while not self.stop.is_set():
            started = time.perf_counter()
            with transaction.atomic():
                log.emit("agent.online", "agent", "writer", {"bench": True}, timezone.now())
            self.samples.append((started, time.perf_counter() - started))
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        connection.close()

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.samples if start <= t < end]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (BENCH_PG_URL) instead of SQLite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write-rate", type=float, default=50.0, help="concurrent event writes per second")
    parser.add_argument("--baseline-s", type=float, default=8.0)
    args = parser.parse_args()
    setup_django(fresh_postgres_url("swarmbench_retention") if args.pg else None)

    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from swarmsite.composition import event_log

    settings.SWARM_RETENTION_BATCH = 1000
    user = User.objects.create_superuser("bench-admin", password="bench-password-1")
    user.groups.add(Group.objects.get_or_create(name="admin")[0])
    client = Client()
    client.force_login(user)
    now = timezone.now()

    fill_events(0, SMALL, now)
    small = render_times(client, "/")
    started = time.perf_counter()
    fill_events(SMALL, args.rows, now)
    print(f"filled {args.rows} event rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    big = render_times(client, "/")
    storage_page = render_times(client, "/storage/")

    log = event_log()
    cutoff = timezone.now() - timedelta(days=WINDOW_DAYS)
    due = log.events_retention(cutoff).prunable
    writer = PacedWriter(args.write_rate)
    writer.start()
    time.sleep(1.0)  # warm-up
    base_start = time.perf_counter()
    time.sleep(args.baseline_s)
    prune_start = time.perf_counter()
    removed = 0
    while (n := log.prune_events(cutoff, limit=settings.SWARM_RETENTION_BATCH)) > 0:
        removed += n
    prune_end = time.perf_counter()
    writer.stop.set()
    writer.join()
    without, during = writer.between(base_start, prune_start), writer.between(prune_start, prune_end)
    seconds = prune_end - prune_start

    rows = [
        (f"overview page: {SMALL:,} → {args.rows:,} event rows (target ratio ≤ 1.5)",
         f"{ms(small)} → {ms(big)} (ratio **{big / small:.2f}**)"),
        (f"pruning {removed:,} of {due:,} due rows, batches of {settings.SWARM_RETENTION_BATCH}",
         f"{seconds:.1f} s = **{removed / seconds:,.0f} rows/s**"),
        (f"writer at {args.write_rate:g}/s, p50 / p95 without pruning ({len(without)} writes)",
         f"{ms(pct(without, 0.5))} / {ms(pct(without, 0.95))}"),
        (f"writer p50 / p95 during pruning ({len(during)} writes)",
         f"{ms(pct(during, 0.5))} / {ms(pct(during, 0.95))} "
         f"(p95 ratio **{pct(during, 0.95) / pct(without, 0.95):.2f}**, max {ms(max(during, default=0))})"),
        (f"storage page at {args.rows:,} event rows (counts every table)", ms(storage_page)),
        ("pruned watermark after the run", f"#{log.pruned_through():,}"),
    ]
    report(f"Retention ({'PostgreSQL' if args.pg else 'SQLite'})", rows)


if __name__ == "__main__":
    main()
