"""Claim races on PostgreSQL: 8 threads claim, renew, abandon and complete from the same sessions for
~10 s while others keep enqueueing. No batch is ever held by two live claims, every batch is completed
exactly once, and a forged completion never lands.

CI runs the suite on SQLite and again on PostgreSQL; this test runs on the PostgreSQL pass (SQLite
serialises every writer, so it cannot race there)."""

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
from stores.errors import QueuedWorkClaimExpired
from stores.persistence_types import RuntimeCommit
from stores.queue_types import (
    MergeKey,
    QueuedWorkBatchDraft,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkPayload,
    SlotPolicy,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
SECONDS = float(os.environ.get("SWARM_RACE_SECONDS", "10"))
SESSIONS = ["race-0", "race-1", "race-2"]
LONG_TTL_MS = 120_000  # claims end only by abandon or completion, so any loss is a double claim
IDLE = QueuedWorkClaimBoundary.IDLE


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    enqueued: set[str] = field(default_factory=set)
    completed: Counter[str] = field(default_factory=Counter)
    # batch id -> [(acquired after the claim returned, release started, fencing counter of the batch)]
    holds: dict[str, list[tuple[float, float, int]]] = field(default_factory=lambda: defaultdict(list))
    lost_claims: list[str] = field(default_factory=list)
    forged_completions: int = 0
    errors: list[BaseException] = field(default_factory=list)
    claims: int = 0


def enqueue(factory: OrmRuntimePersistenceFactory, ledger: Ledger, rng: random.Random, session_id: str) -> None:
    slot = rng.choice([SlotPolicy.JOIN, SlotPolicy.EXCLUSIVE])
    draft = QueuedWorkBatchDraft(session_id, (QueuedWorkPayload.turn_input({"n": rng.random()}),),
                                 slot_policy=slot, merge_key=MergeKey.named("g"))
    batch = factory.open(session_id).enqueue_queued_work(draft)
    with ledger.lock:
        ledger.enqueued.add(batch.batch_id)


def release(
    factory: OrmRuntimePersistenceFactory, ledger: Ledger, rng: random.Random, claim: QueuedWorkClaim, acquired: float
) -> None:
    store = factory.open(claim.session_id)
    if rng.random() < 0.3:
        try:
            claim = store.renew_queued_work_claim(claim, LONG_TTL_MS)
        except QueuedWorkClaimExpired:
            with ledger.lock:
                ledger.lost_claims.append(f"renew {claim.claim_id}")
            return
    if rng.random() < 0.1:
        forged = replace(claim.completion(), lease_token="0" * 64)
        try:
            store.complete_queued_work([forged])
            with ledger.lock:
                ledger.forged_completions += 1
        except QueuedWorkClaimExpired:
            pass
    started = time.monotonic()
    with ledger.lock:
        for batch in claim.batches:
            ledger.holds[batch.batch_id].append((acquired, started, batch.claim_fencing_token))
    roll = rng.random()
    if roll < 0.25:
        store.abandon_queued_work_claim(claim)
        return
    try:
        if roll < 0.6:
            done = [b.batch_id for b in store.complete_queued_work([claim.completion()])]
        else:
            store.commit_runtime_state(RuntimeCommit(claim.session_id).completing_queue_claim(claim.completion()))
            done = claim.batch_ids
    except QueuedWorkClaimExpired:
        with ledger.lock:
            ledger.lost_claims.append(f"complete {claim.claim_id}")
        return
    with ledger.lock:
        ledger.completed.update(done)


def worker(factory: OrmRuntimePersistenceFactory, ledger: Ledger, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    try:
        while time.monotonic() < deadline:
            session_id = rng.choice(SESSIONS)
            if rng.random() < 0.3:
                enqueue(factory, ledger, rng, session_id)
            claim = factory.open(session_id).claim_ready_queued_work(
                session_id, f"worker-{seed}", IDLE, LONG_TTL_MS, rng.randint(1, 3)
            )
            if claim is None:
                continue
            acquired = time.monotonic()
            with ledger.lock:
                ledger.claims += 1
            release(factory, ledger, rng, claim, acquired)
    except BaseException as exc:  # surfaced by the main thread
        ledger.errors.append(exc)
    finally:
        connection.close()


def drain(factory: OrmRuntimePersistenceFactory, ledger: Ledger) -> None:
    for session_id in SESSIONS:
        store = factory.open(session_id)
        while (claim := store.claim_ready_queued_work(session_id, "drain", IDLE, LONG_TTL_MS, 16)) is not None:
            ledger.completed.update(b.batch_id for b in store.complete_queued_work([claim.completion()]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="claim races need PostgreSQL (SQLite serialises writers)")
def test_concurrent_claims_never_double_claim_and_complete_every_batch_once() -> None:
    factory = OrmRuntimePersistenceFactory(events=OrmEventLog())
    ledger = Ledger()
    rng = random.Random(7)
    for _ in range(20):
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

    assert ledger.claims > 100, "the workers barely raced"
    assert ledger.lost_claims == []  # a claim that lost its batches while held means someone else took them
    assert ledger.forged_completions == 0
    for batch_id, holds in ledger.holds.items():
        holds.sort()
        fencing = [f for _, _, f in holds]
        assert fencing == sorted(set(fencing)), f"{batch_id}: two claims saw the same fencing counter"
        for (_, released, _), (acquired, _, _) in zip(holds, holds[1:], strict=False):
            assert acquired > released, f"{batch_id} was claimed again before its holder let go"
    assert set(ledger.completed) == ledger.enqueued
    assert [b for b, n in ledger.completed.items() if n != 1] == []
    assert all(factory.open(s).list_queued_work(s) == [] for s in SESSIONS)
