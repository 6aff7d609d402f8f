"""Batch heartbeats racing on PostgreSQL: several threads (as several agent hosts, or one host's retries)
heartbeat overlapping sets of the same agents in one call each, in different orders, while single
heartbeats hit the same rows. Every call must answer `ok` for every agent: two batches naming the same
agents queue behind each other's row locks, never deadlock (a deadlock reaches the caller as a 503).

Runs on the PostgreSQL pass (SQLite serialises every writer, so it cannot race there)."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from django.db import connection, connections

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.lifecycle import OrmLifecycleStore
from stores.types import HeartbeatOutcome

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row-lock races need PostgreSQL"),
]

THREADS = 6
ROUNDS = 40
AGENTS = 40


def test_overlapping_batch_heartbeats_never_deadlock() -> None:
    store = OrmLifecycleStore(events=OrmEventLog(), ttl_s=600, heartbeat_log_interval_s=0)  # every beat logged
    agents = [uuid.uuid4() for _ in range(AGENTS)]
    for agent in agents:
        store.register(agent, name=f"racer-{agent.hex[:4]}")
    failures: list[BaseException] = []
    answers: list[set[HeartbeatOutcome]] = []
    start = threading.Barrier(THREADS)

    def host(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for n in range(ROUNDS):
                if n % 5 == 4:
                    store.heartbeat(rng.choice(agents))
                    continue
                named = rng.sample(agents, rng.randint(AGENTS // 2, AGENTS))  # overlapping, shuffled
                answers.append({r.outcome for r in store.heartbeat_many(named)})
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=host, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert answers and all(outcomes == {HeartbeatOutcome.OK} for outcomes in answers)
