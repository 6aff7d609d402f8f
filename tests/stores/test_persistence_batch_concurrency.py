"""Batch claim races on PostgreSQL: 8 threads claim up to N claims at a time and complete them in batch
calls (some abandoned, some with a forged lease token among them) from the same sessions for ~8 s while
they keep enqueueing. No batch is ever held by two live claims, every batch is completed exactly once,
a forged completion never lands, and no claim loses its batches while it is held.

Runs on the PostgreSQL pass (SQLite serialises every writer, so it cannot race there)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import pytest
from django.db import connection

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.persistence import OrmRuntimePersistenceFactory
from stores.queue_types import (
    CompletionOutcome,
    MergeKey,
    QueuedWorkBatchDraft,
    QueuedWorkClaimBoundary,
    QueuedWorkPayload,
    SlotPolicy,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
SECONDS = float(os.environ.get("SWARM_RACE_SECONDS", "8"))
SESSIONS = ["batch-race-0", "batch-race-1"]
LONG_TTL_MS = 120_000  # claims end only by abandon or completion, so any loss is a double claim
IDLE = QueuedWorkClaimBoundary.IDLE


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    enqueued: set[str] = field(default_factory=set)
    completed: Counter[str] = field(default_factory=Counter)
    # batch id -> [(acquired after the claim returned, release started)]
    holds: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    lost_claims: list[str] = field(default_factory=list)
    forged_completions: int = 0
    errors: list[BaseException] = field(default_factory=list)
    claims: int = 0
    batch_calls: int = 0


def enqueue(factory: OrmRuntimePersistenceFactory, ledger: Ledger, rng: random.Random, session_id: str) -> None:
    slot = rng.choice([SlotPolicy.JOIN, SlotPolicy.EXCLUSIVE, SlotPolicy.EXCLUSIVE])
    draft = QueuedWorkBatchDraft(session_id, (QueuedWorkPayload.turn_input({"n": rng.random()}),),
                                 slot_policy=slot, merge_key=MergeKey.named("g"))
    batch = factory.open(session_id).enqueue_queued_work(draft)
    with ledger.lock:
        ledger.enqueued.add(batch.batch_id)


def worker(factory: OrmRuntimePersistenceFactory, ledger: Ledger, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    try:
        while time.monotonic() < deadline:
            session_id = rng.choice(SESSIONS)
            store = factory.open(session_id)
            for _ in range(rng.randint(0, 3)):
                enqueue(factory, ledger, rng, session_id)
            claims = store.claim_ready_queued_work_many(
                session_id, f"worker-{seed}", IDLE, LONG_TTL_MS, rng.randint(1, 3), rng.randint(1, 8)
            )
            if not claims:
                continue
            acquired = time.monotonic()
            keep = [c for c in claims if rng.random() > 0.2]
            giving_back = [c for c in claims if c not in keep]
            forged = [replace(c.completion(), lease_token="0" * 64) for c in keep if rng.random() < 0.1]
            started = time.monotonic()
            with ledger.lock:
                ledger.claims += len(claims)
                ledger.batch_calls += 1
                for claim in claims:
                    for batch in claim.batches:
                        ledger.holds[batch.batch_id].append((acquired, started))
            for claim in giving_back:
                store.abandon_queued_work_claim(claim)
            if forged:
                landed = store.complete_queued_work_many(forged)
                with ledger.lock:
                    ledger.forged_completions += sum(r.outcome == CompletionOutcome.COMPLETED for r in landed)
            results = store.complete_queued_work_many([c.completion() for c in keep])
            with ledger.lock:
                for claim, result in zip(keep, results, strict=True):
                    if result.outcome != CompletionOutcome.COMPLETED:
                        ledger.lost_claims.append(claim.claim_id)
                    ledger.completed.update(b.batch_id for b in result.batches)
    except BaseException as exc:  # surfaced by the main thread
        ledger.errors.append(exc)
    finally:
        connection.close()


def drain(factory: OrmRuntimePersistenceFactory, ledger: Ledger) -> None:
    for session_id in SESSIONS:
        store = factory.open(session_id)
        while claims := store.claim_ready_queued_work_many(session_id, "drain", IDLE, LONG_TTL_MS, 16, 50):
            for result in store.complete_queued_work_many([c.completion() for c in claims]):
                ledger.completed.update(b.batch_id for b in result.batches)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="claim races need PostgreSQL (SQLite serialises writers)")
def test_concurrent_batch_claims_never_double_claim_and_complete_every_batch_once() -> None:
    factory = OrmRuntimePersistenceFactory(events=OrmEventLog())
    ledger = Ledger()
    rng = random.Random(11)
    for _ in range(40):
        for session_id in SESSIONS:
            enqueue(factory, ledger, rng, session_id)
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(factory, ledger, seed, deadline)) for seed in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert not any(t.is_alive() for t in threads)
    assert ledger.errors == []
    drain(factory, ledger)

    assert ledger.batch_calls > 50 and ledger.claims > ledger.batch_calls, "the workers barely raced"
    assert ledger.lost_claims == []  # a held claim that lost its batches means someone else took them
    assert ledger.forged_completions == 0
    for batch_id, holds in ledger.holds.items():
        holds.sort()
        for (_, released), (acquired, _) in zip(holds, holds[1:], strict=False):
            assert acquired > released, f"{batch_id} was claimed again before its holder let go"
    assert set(ledger.completed) == ledger.enqueued
    assert [b for b, n in ledger.completed.items() if n != 1] == []
    assert all(factory.open(s).list_queued_work(s) == [] for s in SESSIONS)
