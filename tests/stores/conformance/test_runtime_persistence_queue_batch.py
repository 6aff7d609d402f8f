"""RuntimePersistence conformance, the inbox's batch calls: many claims and many completions in one
call behave as the single calls in a row would, run against every backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stores.contracts import EventSink, RuntimePersistence, RuntimePersistenceFactory
from stores.errors import InvalidInput, SessionBindingMismatch, StaleFencingToken
from stores.queue_types import (
    BatchOutcome,
    CompletionOutcome,
    DeliveryPolicy,
    MergeKey,
    QueuedWorkBatchDraft,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkPayload,
    SlotPolicy,
)
from stores.types import Fence
from tests.stores.conformance.conftest import LeaseFences

IDLE = QueuedWorkClaimBoundary.IDLE
CHECKPOINT = QueuedWorkClaimBoundary.ACTIVE_TURN_CHECKPOINT
TTL_MS = 60_000


def enqueue(store: RuntimePersistence, text: str, *, join: str | None = None, key: str | None = None,
            safe: bool = False) -> str:
    draft = QueuedWorkBatchDraft(
        store.session_id, (QueuedWorkPayload.turn_input({"text": text}),), key,
        DeliveryPolicy.EARLIEST_SAFE_BOUNDARY if safe else DeliveryPolicy.AFTER_CURRENT_TURN_COMMIT,
        SlotPolicy.JOIN if join else SlotPolicy.EXCLUSIVE, MergeKey.named(join) if join else MergeKey.never(),
    )
    return store.enqueue_queued_work(draft).batch_id


def texts(claims: list[QueuedWorkClaim | None]) -> list[list[str]]:
    return [[b.items[0].payload.body["text"] for b in c.batches] for c in claims if c is not None]


# A queue with join groups, exclusive batches and a merge key change in the middle.
SHAPE = [("a1", "A"), ("a2", "A"), ("a3", "A"), ("x", None), ("b1", "B"), ("y", None), ("z", None)]


@pytest.fixture
def root(persistence_factory: RuntimePersistenceFactory) -> RuntimePersistence:
    return persistence_factory.open("root")


def test_claiming_many_takes_what_as_many_single_claims_in_a_row_would(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    many, single = persistence_factory.open("many"), persistence_factory.open("single")
    for store in (many, single):
        for text, join in SHAPE:
            enqueue(store, text, join=join)
    claims = many.claim_ready_queued_work_many("many", "A", IDLE, TTL_MS, 2, 4)
    one_by_one = [single.claim_ready_queued_work("single", "A", IDLE, TTL_MS, 2) for _ in range(4)]
    assert texts(list(claims)) == texts(one_by_one) == [["a1", "a2"], ["a3"], ["x"], ["b1"]]
    assert len({c.claim_id for c in claims}) == len({c.lease_token for c in claims}) == 4
    assert all(c.owner_id == "A" and c.expires_at_epoch_ms == c.claimed_at_epoch_ms + TTL_MS for c in claims)
    rest = many.claim_ready_queued_work_many("many", "B", IDLE, TTL_MS, 16, 100)
    assert texts(list(rest)) == [["y"], ["z"]]
    assert many.claim_ready_queued_work_many("many", "B", IDLE, TTL_MS, 16, 100) == []
    assert [b.claim is not None for b in many.list_queued_work("many")] == [True] * len(SHAPE)


def test_claiming_many_with_nothing_ready_or_no_room_claims_nothing(root: RuntimePersistence) -> None:
    assert root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 1, 10) == []
    enqueue(root, "one")
    assert root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 1, 0) == []
    assert root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 0, 5) == []
    assert root.claim_ready_queued_work_many("root", "A", CHECKPOINT, TTL_MS, 1, 5) == []  # the head gates
    assert len(root.list_pending_queued_work("root")) == 1
    with pytest.raises(SessionBindingMismatch):
        root.claim_ready_queued_work_many("other", "A", IDLE, TTL_MS, 1, 5)


def test_a_checkpoint_boundary_stops_the_claims_at_the_first_head_it_may_not_take(root: RuntimePersistence) -> None:
    enqueue(root, "s1", safe=True)
    enqueue(root, "s2", safe=True)
    enqueue(root, "later")
    enqueue(root, "s3", safe=True)
    claims = root.claim_ready_queued_work_many("root", "A", CHECKPOINT, TTL_MS, 1, 10)
    assert texts(list(claims)) == [["s1"], ["s2"]]


def test_each_claim_of_a_batch_claim_is_a_claim_of_its_own(root: RuntimePersistence) -> None:
    for text in ("one", "two", "three"):
        enqueue(root, text)
    first, second, third = root.claim_ready_queued_work_many("root", "A", IDLE, 0, 1, 3)
    root.abandon_queued_work_claim(first)
    assert root.renew_queued_work_claim(second, TTL_MS).claim_id == second.claim_id
    assert [b.batch_id for b in root.complete_queued_work([third.completion()])] == third.batch_ids
    again = root.claim_ready_queued_work_many("root", "B", IDLE, TTL_MS, 1, 3)
    assert [c.batch_ids for c in again] == [first.batch_ids]  # the abandoned one; `second` is held
    assert again[0].fencing_token > first.fencing_token


def test_completing_many_finishes_the_claims_still_held_and_answers_the_others_expired(
    root: RuntimePersistence,
) -> None:
    keyed = enqueue(root, "keyed", key="src-1")
    for text in ("b", "c", "d"):
        enqueue(root, text)
    a, b, c, d = root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 1, 4)
    assert a.batch_ids == [keyed]
    root.complete_queued_work([c.completion()])  # already finished by the single call
    forged = replace(d.completion(), lease_token="f" * 64)
    results = root.complete_queued_work_many([a.completion(), b.completion(), c.completion(), forged])
    assert [(r.claim_id, r.outcome) for r in results] == [
        (a.claim_id, CompletionOutcome.COMPLETED), (b.claim_id, CompletionOutcome.COMPLETED),
        (c.claim_id, CompletionOutcome.CLAIM_EXPIRED), (d.claim_id, CompletionOutcome.CLAIM_EXPIRED),
    ]
    assert [[x.batch_id for x in r.batches] for r in results] == [a.batch_ids, b.batch_ids, [], []]
    assert [x.batch_id for x in root.list_queued_work("root")] == d.batch_ids  # the forged one stays held
    replay = root.enqueue_queued_work(QueuedWorkBatchDraft("root", (QueuedWorkPayload.turn_input({}),), "src-1"))
    assert replay.batch_id == keyed and replay.outcome == BatchOutcome.COMPLETED  # nothing runs twice
    assert root.complete_queued_work_many([d.completion()])[0].outcome == CompletionOutcome.COMPLETED
    assert root.list_queued_work("root") == []


def test_completing_many_under_a_stale_fence_completes_nothing(
    root: RuntimePersistence, persistence_fences: LeaseFences
) -> None:
    for text in ("one", "two"):
        enqueue(root, text)
    claims = root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 1, 2)
    old = persistence_fences.grant("planner")
    current = persistence_fences.grant("planner")
    with pytest.raises(StaleFencingToken):
        root.complete_queued_work_many([c.completion() for c in claims], fence=Fence("planner", old))
    assert len(root.list_queued_work("root")) == 2
    done = root.complete_queued_work_many([c.completion() for c in claims], fence=Fence("planner", current))
    assert {r.outcome for r in done} == {CompletionOutcome.COMPLETED}
    assert root.list_queued_work("root") == []


def test_completing_many_refuses_a_claim_named_twice_or_another_session(root: RuntimePersistence) -> None:
    enqueue(root, "one")
    [claim] = root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 1, 1)
    with pytest.raises(InvalidInput):
        root.complete_queued_work_many([claim.completion(), claim.completion()])
    with pytest.raises(SessionBindingMismatch):
        root.complete_queued_work_many([replace(claim.completion(), session_id="other")])
    assert len(root.list_queued_work("root")) == 1
    assert root.complete_queued_work_many([]) == []


def test_batch_calls_emit_one_event_per_claim_without_lease_tokens(
    root: RuntimePersistence, persistence_events: EventSink
) -> None:
    for text, join in SHAPE[:4]:
        enqueue(root, text, join=join)
    claims = root.claim_ready_queued_work_many("root", "A", IDLE, TTL_MS, 8, 8)
    root.complete_queued_work_many([c.completion() for c in claims])
    events = list(reversed(persistence_events.recent(limit=20, subject_type="session", subject_id="root")))
    kinds = [e.kind for e in events if e.kind != "queue.enqueued"]
    assert kinds == ["queue.claimed", "queue.claimed", "queue.completed", "queue.completed"]
    claimed = [e.payload for e in events if e.kind == "queue.claimed"]
    assert [p["batch_ids"] for p in claimed] == [c.batch_ids for c in claims]
    completed = [e.payload for e in events if e.kind == "queue.completed"]
    assert [(p["claim_id"], p["batch_ids"], p["owner_id"]) for p in completed] == [
        (c.claim_id, c.batch_ids, "A") for c in claims
    ]
    assert all(c.lease_token not in str(e.payload) for c in claims for e in events)
