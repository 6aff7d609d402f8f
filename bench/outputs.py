"""OutputStore throughput against raw SQL doing the same work, and latest-by-name at scale.

Measured at the store level (OrmOutputStore, no HTTP) in one process on a fresh database:
- append (one parent: parent lookup, output row, lineage row, event row, one transaction) against the
  same statements through connection.cursor();
- get_latest_by_name against the same SELECT through connection.cursor();
- median get_latest_by_name latency with 100,000 outputs against 1,000 (target ratio <= 1.5: the
  lookup is an index range scan on (producer_agent, id), so it must not grow with the table).

Run: .venv/bin/python bench/outputs.py [--pg]   (PostgreSQL server from BENCH_PG_URL)"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_env, fresh_postgres_url, latencies, median, rate, report  # noqa: E402

PRODUCERS = 100


def setup_django(database_url: str | None) -> None:
    os.environ.update(bench_env(database_url))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def fill(upto: int) -> None:
    """Bulk-insert outputs (raw, fast) until the table holds `upto` rows, spread over PRODUCERS."""
    from django.db import connection, transaction
    from django.utils import timezone

    from stores.models import Output
    from stores.outputs import new_ref

    have = Output.objects.count()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    event = json.dumps({"type": "progress", "stage": "filler", "note": None})
    sql = ("INSERT INTO stores_output (ref, task_id, attempt, producer_agent, kind, event, parent_refs, created_at) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    batch = 5000
    for start in range(have, upto, batch):
        rows = [(new_ref(), f"task-{i % 997}", i % 3, f"producer-{i % PRODUCERS}", "progress", event, "[]", now)
                for i in range(start, min(upto, start + batch))]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE stores_output" if connection.vendor == "postgresql" else "ANALYZE")


def latest_latency(store: Any, n: int = 2000) -> tuple[float, float]:
    """Median seconds of get_latest_by_name (store) and of the same SELECT (raw), interleaved."""
    from django.db import connection

    rng = random.Random(7)
    names = [f"producer-{rng.randrange(PRODUCERS)}" for _ in range(n)]

    half = n // 2

    def raw(i: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_LATEST, [names[i]])
            cursor.fetchone()

    # Two rounds, alternating, each over its own half of the names.
    store_times, raw_times = [], []
    for offset in (0, half):
        store_times += latencies(functools.partial(lambda o, i: store.get_latest_by_name(names[o + i]), offset), half)
        raw_times += latencies(functools.partial(lambda o, i: raw(o + i), offset), half)
    return median(store_times), median(raw_times)


RAW_LATEST = ("SELECT id, ref, task_id, attempt, producer_agent, kind, event, parent_refs, identity, fencing_token, "
              "created_at FROM stores_output WHERE producer_agent = %s ORDER BY id DESC LIMIT 1")


def raw_append_fn() -> Any:
    """The statements OrmOutputStore.append runs for an output with one parent, through the cursor."""
    from django.db import connection, transaction
    from django.utils import timezone

    from stores.outputs import new_ref

    def append(i: int, parent: str) -> None:
        now = timezone.now()
        ref = new_ref()
        event = {"type": "final", "ok": True, "content": {"kind": "inline", "value": f"result {i}"}}
        payload = {"ref": ref, "task_id": "bench", "attempt": 1, "producer": "raw-writer", "kind": "final",
                   "preview": f"ok: result {i}", "parents": [parent], "created_at": now.isoformat()}
        at = connection.ops.adapt_datetimefield_value(now)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT ref, id FROM stores_output WHERE ref IN (%s)", [parent])
            parent_id = cursor.fetchone()[1]
            cursor.execute(
                "INSERT INTO stores_output (ref, task_id, attempt, producer_agent, kind, event, parent_refs, "
                "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                [ref, "bench", 1, "raw-writer", "final", json.dumps(event), json.dumps([parent]), at],
            )
            child_id = cursor.fetchone()[0]
            cursor.execute("INSERT INTO stores_outputlink (child_id, parent_id, position) VALUES (%s, %s, %s)",
                           [child_id, parent_id, 0])
            cursor.execute(
                "INSERT INTO stores_eventrecord (kind, subject_type, subject_id, payload, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                ["output.appended", "output", ref, json.dumps(payload), at],
            )

    return append


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    setup_django(fresh_postgres_url("bench_outputs") if args.pg else None)

    from stores.backends.orm.events import OrmEventLog
    from stores.backends.orm.outputs import OrmOutputStore
    from stores.models import Output
    from stores.output_types import Final, InlineContent

    store = OrmOutputStore(events=OrmEventLog())  # no publisher: the database work only
    fill(args.small)
    small_store, small_raw = latest_latency(store)
    fill(args.big)
    big_store, big_raw = latest_latency(store)
    plan = Output.objects.filter(producer_agent="producer-1").order_by("-id")[:1].explain()

    parent = store.append("bench", 1, "planner", Final(content=InlineContent("plan"), ok=True)).ref
    raw_append = raw_append_fn()

    def store_append(i: int) -> None:
        store.append("bench", 1, "store-writer", Final(content=InlineContent(f"result {i}"), ok=True), [parent])

    # Interleave each pair so drift on a shared machine hits both alike.
    append_rates: dict[str, list[float]] = {"store": [], "raw": []}
    latest_rates: dict[str, list[float]] = {"store": [], "raw": []}
    names = [f"producer-{i % PRODUCERS}" for i in range(PRODUCERS)]

    def raw_latest(i: int) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(RAW_LATEST, [names[i % PRODUCERS]])
            cursor.fetchone()

    for _ in range(2):
        append_rates["store"].append(rate(store_append, seconds=args.seconds / 4))
        append_rates["raw"].append(rate(lambda i: raw_append(i, parent), seconds=args.seconds / 4))
        latest_rates["store"].append(rate(lambda i: store.get_latest_by_name(names[i % PRODUCERS]),
                                          seconds=args.seconds / 4))
        latest_rates["raw"].append(rate(raw_latest, seconds=args.seconds / 4))

    def avg(values: list[float]) -> float:
        return sum(values) / len(values)

    a_store, a_raw = avg(append_rates["store"]), avg(append_rates["raw"])
    l_store, l_raw = avg(latest_rates["store"]), avg(latest_rates["raw"])
    index_used = "output_producer_seq_idx" in plan
    report(
        f"OutputStore (ORM backend, {'PostgreSQL' if args.pg else 'SQLite'}, one process, no HTTP)",
        [
            ("append with one parent: OrmOutputStore.append", f"{a_store:.0f} /s"),
            ("append with one parent: raw SQL, same statements", f"{a_raw:.0f} /s"),
            ("ratio store / raw (append)", f"{a_store / a_raw:.2f}"),
            ("get_latest_by_name: OrmOutputStore", f"{l_store:.0f} /s"),
            ("get_latest_by_name: raw SQL, same SELECT", f"{l_raw:.0f} /s"),
            ("ratio store / raw (latest)", f"{l_store / l_raw:.2f}"),
            (f"get_latest_by_name median latency at {args.small:,} outputs", f"{small_store * 1e6:.0f} µs"),
            (f"get_latest_by_name median latency at {args.big:,} outputs", f"{big_store * 1e6:.0f} µs"),
            (f"ratio {args.big:,} / {args.small:,} (target ≤ 1.5)", f"{big_store / small_store:.2f}"),
            (f"raw SELECT median latency {args.small:,} → {args.big:,}",
             f"{small_raw * 1e6:.0f} → {big_raw * 1e6:.0f} µs ({big_raw / small_raw:.2f})"),
            ("latest-by-name plan uses output_producer_seq_idx", "yes" if index_used else f"NO: {plan}"),
        ],
    )


if __name__ == "__main__":
    main()
