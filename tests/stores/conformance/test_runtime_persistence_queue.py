"""RuntimePersistence conformance, the durable inbox (semantics 5.8 cases 7-13 and 17, plus claim
release, completion without a commit, fencing and events), run against every backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stores.contracts import EventSink, RuntimePersistence, RuntimePersistenceFactory
from stores.errors import QueuedWorkClaimExpired, SessionBindingMismatch, StaleFencingToken
from stores.persistence_types import HydratedSessionCheckpoint, RuntimeCommit, Unchanged
from stores.queue_types import (
    BatchOutcome,
    DeliveryPolicy,
    MergeKey,
    QueuedWorkBatch,
    QueuedWorkBatchDraft,
    QueuedWorkClaimBoundary,
    QueuedWorkPayload,
    SlotPolicy,
    process_wake_source_key,
)
from stores.types import Fence
from tests.stores.conformance.conftest import LeaseFences

IDLE = QueuedWorkClaimBoundary.IDLE
CHECKPOINT = QueuedWorkClaimBoundary.ACTIVE_TURN_CHECKPOINT
SAFE = DeliveryPolicy.EARLIEST_SAFE_BOUNDARY
AFTER = DeliveryPolicy.AFTER_CURRENT_TURN_COMMIT
TTL_MS = 60_000
YEAR_2100_MS = 4_102_444_800_000


def enqueue(
    store: RuntimePersistence,
    text: str,
    *,
    key: str | None = None,
    delivery: DeliveryPolicy = AFTER,
    slot: SlotPolicy = SlotPolicy.EXCLUSIVE,
    merge: MergeKey | None = None,
    available_at_ms: int = 0,
) -> QueuedWorkBatch:
    return store.enqueue_queued_work(QueuedWorkBatchDraft(
        store.session_id, (QueuedWorkPayload.turn_input({"text": text}),), key, delivery, slot,
        merge or MergeKey.never(), available_at_ms,
    ))


def ids(batches: list[QueuedWorkBatch]) -> list[str]:
    return [b.batch_id for b in batches]


@pytest.fixture
def root(persistence_factory: RuntimePersistenceFactory) -> RuntimePersistence:
    return persistence_factory.open("root")


# 7
def test_enqueue_with_a_known_source_key_returns_the_original_batch(
    root: RuntimePersistence, persistence_factory: RuntimePersistenceFactory
) -> None:
    first = enqueue(root, "original", key="msg-1")
    replay = enqueue(root, "changed payload", key="msg-1")
    assert replay.batch_id == first.batch_id
    assert [i.item_id for i in replay.items] == [i.item_id for i in first.items] == [f"{first.batch_id}:item:0"]
    assert replay.items[0].payload.body == {"text": "original"}
    enqueue(persistence_factory.open("other"), "elsewhere", key="msg-1")
    second = enqueue(root, "second", key="msg-2")
    assert ids(root.list_queued_work("root")) == [first.batch_id, second.batch_id]
    assert first.enqueue_seq < second.enqueue_seq


def test_enqueue_for_another_session_is_rejected(root: RuntimePersistence) -> None:
    with pytest.raises(SessionBindingMismatch):
        root.enqueue_queued_work(QueuedWorkBatchDraft("other", (QueuedWorkPayload.turn_input("x"),)))


def test_replay_of_a_completed_keyed_batch_returns_its_record_and_queues_nothing(root: RuntimePersistence) -> None:
    batch = enqueue(root, "once", key="send:42")
    claim = root.claim_ready_queued_work("root", "agent-1", IDLE, TTL_MS, 1)
    assert claim is not None
    root.complete_queued_work([claim.completion()])
    replay = enqueue(root, "once", key="send:42")
    assert (replay.batch_id, replay.outcome) == (batch.batch_id, BatchOutcome.COMPLETED)
    assert root.list_queued_work("root") == []
    assert root.claim_ready_queued_work("root", "agent-2", IDLE, TTL_MS, 1) is None


# 8
def test_cancel_takes_unclaimed_batches_only_until_the_claim_is_abandoned(root: RuntimePersistence) -> None:
    lone = enqueue(root, "cancel me")
    cancelled = root.cancel_queued_work_batch("root", lone.batch_id)
    assert cancelled is not None and cancelled.items[0].payload.body == {"text": "cancel me"}
    assert root.list_queued_work("root") == []

    held = enqueue(root, "claimed")
    claim = root.claim_ready_queued_work("root", "agent-1", IDLE, TTL_MS, 1)
    assert claim is not None
    assert root.list_pending_queued_work("root") == []
    assert ids(root.list_queued_work("root")) == [held.batch_id]
    assert root.cancel_queued_work_batch("root", held.batch_id) is None
    assert root.cancel_queued_work_batch("root", "qwb:missing") is None
    root.abandon_queued_work_claim(claim)
    assert ids(root.list_pending_queued_work("root")) == [held.batch_id]
    assert root.cancel_queued_work_batch("root", held.batch_id) is not None


# 9
def test_exact_claim_cannot_skip_earlier_work(root: RuntimePersistence) -> None:
    first, second = enqueue(root, "first"), enqueue(root, "second")
    assert root.claim_ready_queued_work_by_batch_ids("root", "agent-1", IDLE, TTL_MS, [second.batch_id]) is None
    assert ids(root.list_pending_queued_work("root")) == [first.batch_id, second.batch_id]
    assert root.claim_ready_queued_work_by_batch_ids("root", "agent-1", IDLE, TTL_MS, []) is None
    claim = root.claim_ready_queued_work_by_batch_ids("root", "agent-1", IDLE, TTL_MS, [first.batch_id])
    assert claim is not None and claim.batch_ids == [first.batch_id]
    assert claim.fencing_token == 2  # the failed attempt still bumped the counter
    assert ids(root.list_pending_queued_work("root")) == [second.batch_id]


# 10
def test_claim_boundaries_gate_on_the_head_and_reclaims_get_higher_fencing(root: RuntimePersistence) -> None:
    head = enqueue(root, "after commit", delivery=AFTER)
    safe = enqueue(root, "safe", delivery=SAFE)
    assert root.claim_ready_queued_work("root", "B", CHECKPOINT, TTL_MS, 8) is None
    a = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8)
    assert a is not None and a.batch_ids == [head.batch_id] and a.owner_id == "A"
    b = root.claim_ready_queued_work("root", "B", CHECKPOINT, TTL_MS, 8)
    assert b is not None and b.batch_ids == [safe.batch_id]
    root.abandon_queued_work_claim(a)
    c = root.claim_ready_queued_work("root", "C", IDLE, TTL_MS, 8)
    assert c is not None and c.batch_ids == [head.batch_id] and c.fencing_token > a.fencing_token
    renewed = root.renew_queued_work_claim(c, TTL_MS * 2)
    assert (renewed.claim_id, renewed.lease_token, renewed.batch_ids) == (c.claim_id, c.lease_token, c.batch_ids)
    assert renewed.expires_at_epoch_ms >= c.expires_at_epoch_ms
    assert renewed.fencing_token == c.fencing_token and renewed.owner_id == "C"


# 11
def test_unready_batches_are_skipped_exclusive_claims_alone_and_sessions_are_isolated(
    root: RuntimePersistence, persistence_factory: RuntimePersistenceFactory
) -> None:
    later = enqueue(root, "later", available_at_ms=YEAR_2100_MS)
    alone = enqueue(root, "alone", slot=SlotPolicy.EXCLUSIVE)
    joined = enqueue(root, "joined", slot=SlotPolicy.JOIN)
    other = persistence_factory.open("other")
    enqueue(other, "not yours")
    first = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8)
    assert first is not None and first.batch_ids == [alone.batch_id]
    second = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8)
    assert second is not None and second.batch_ids == [joined.batch_id]
    assert root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8) is None
    assert later.batch_id in ids(root.list_pending_queued_work("root"))
    assert len(other.list_queued_work("other")) == 1


def test_a_zero_ttl_claim_is_reclaimable_at_once_with_a_higher_fencing_token(root: RuntimePersistence) -> None:
    batch = enqueue(root, "flaky")
    expired = root.claim_ready_queued_work("root", "A", IDLE, 0, 1)
    assert expired is not None
    assert ids(root.list_pending_queued_work("root")) == [batch.batch_id]
    again = root.claim_ready_queued_work("root", "B", IDLE, TTL_MS, 1)
    assert again is not None and again.batch_ids == [batch.batch_id] and again.fencing_token > expired.fencing_token
    with pytest.raises(QueuedWorkClaimExpired):
        root.renew_queued_work_claim(expired, TTL_MS)


def test_max_batches_caps_a_join_group_and_the_rest_is_claimed_next(root: RuntimePersistence) -> None:
    group = [enqueue(root, f"j{i}", slot=SlotPolicy.JOIN, merge=MergeKey.named("A")) for i in range(3)]
    assert root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 0) is None
    first = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 2)
    rest = root.claim_ready_queued_work("root", "B", IDLE, TTL_MS, 2)
    assert first is not None and first.batch_ids == ids(group[:2])
    assert rest is not None and rest.batch_ids == ids(group[2:])


# 12
def test_join_groups_need_the_same_slot_delivery_and_merge_key(root: RuntimePersistence) -> None:
    a = MergeKey.named("A")
    a1 = enqueue(root, "a1", slot=SlotPolicy.JOIN, merge=a, delivery=SAFE)
    a2 = enqueue(root, "a2", slot=SlotPolicy.JOIN, merge=a, delivery=SAFE)
    b = enqueue(root, "b", slot=SlotPolicy.JOIN, merge=MergeKey.named("B"), delivery=SAFE)
    after = enqueue(root, "a-after", slot=SlotPolicy.JOIN, merge=a, delivery=AFTER)
    claims = [root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8) for _ in range(4)]
    assert [c.batch_ids if c else None for c in claims] == [
        [a1.batch_id, a2.batch_id], [b.batch_id], [after.batch_id], None
    ]


def test_a_join_group_spans_over_batches_held_by_other_claims(root: RuntimePersistence) -> None:
    a = MergeKey.named("A")
    first = enqueue(root, "held", slot=SlotPolicy.EXCLUSIVE)
    x, y = enqueue(root, "x", slot=SlotPolicy.JOIN, merge=a), enqueue(root, "y", slot=SlotPolicy.JOIN, merge=a)
    held = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8)
    assert held is not None and held.batch_ids == [first.batch_id]
    z = enqueue(root, "z", slot=SlotPolicy.JOIN, merge=a)
    claim = root.claim_ready_queued_work("root", "B", IDLE, TTL_MS, 8)
    assert claim is not None and claim.batch_ids == [x.batch_id, y.batch_id, z.batch_id]


# 13
def test_completion_with_a_tampered_lease_token_changes_nothing(root: RuntimePersistence) -> None:
    for text in ("one", "two"):
        enqueue(root, text, slot=SlotPolicy.JOIN)
    claim = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 2)
    assert claim is not None and len(claim.batches) == 2
    commit = RuntimeCommit("root", graph=Unchanged(None), checkpoint=HydratedSessionCheckpoint())
    tampered = replace(claim.completion(), lease_token="f" * 64)
    with pytest.raises(QueuedWorkClaimExpired):
        root.commit_runtime_state(commit.completing_queue_claim(tampered))
    with pytest.raises(QueuedWorkClaimExpired):
        root.complete_queued_work([tampered])
    assert len(root.list_queued_work("root")) == 2
    root.commit_runtime_state(commit.completing_queue_claims([claim.completion()]))
    assert root.list_queued_work("root") == []
    with pytest.raises(QueuedWorkClaimExpired):
        root.complete_queued_work([claim.completion()])  # completed work never completes twice


def test_an_expired_claim_nobody_reclaimed_can_still_renew_and_complete(root: RuntimePersistence) -> None:
    enqueue(root, "slow")
    claim = root.claim_ready_queued_work("root", "A", IDLE, 0, 1)
    assert claim is not None
    assert root.renew_queued_work_claim(claim, 0).claim_id == claim.claim_id
    assert [b.batch_id for b in root.complete_queued_work([claim.completion()])] == claim.batch_ids
    assert root.list_queued_work("root") == []


def test_completion_with_a_stale_fencing_token_is_rejected_and_the_batch_stays(
    root: RuntimePersistence, persistence_fences: LeaseFences
) -> None:
    enqueue(root, "fenced")
    claim = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 1)
    assert claim is not None
    old = persistence_fences.grant("planner")
    current = persistence_fences.grant("planner")
    with pytest.raises(StaleFencingToken):
        root.complete_queued_work([claim.completion()], fence=Fence("planner", old))
    assert len(root.list_queued_work("root")) == 1
    root.complete_queued_work([claim.completion()], fence=Fence("planner", current))
    assert root.list_queued_work("root") == []


# 17
def test_a_repeated_wake_queues_once_and_completes_once(root: RuntimePersistence) -> None:
    wake = QueuedWorkBatchDraft("root", (QueuedWorkPayload.process_wake({"reason": "timer"}),),
                                source_key=process_wake_source_key("timer-1"))
    assert root.enqueue_queued_work(wake).batch_id == root.enqueue_queued_work(wake).batch_id
    claim = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 8)
    assert claim is not None and len(claim.batches) == 1
    [item] = claim.batches[0].items
    assert item.payload == QueuedWorkPayload.process_wake({"reason": "timer"})
    root.commit_runtime_state(RuntimeCommit("root").completing_queue_claim(claim.completion()))
    assert root.list_queued_work("root") == []


def test_releasing_an_owner_frees_its_claims_in_every_session(
    root: RuntimePersistence, persistence_factory: RuntimePersistenceFactory
) -> None:
    other = persistence_factory.open("other")
    enqueue(root, "r")
    enqueue(other, "o")
    enqueue(other, "not mine")
    mine = [s.claim_ready_queued_work(s.session_id, "dead-agent", IDLE, TTL_MS, 1) for s in (root, other)]
    theirs = other.claim_ready_queued_work("other", "live-agent", IDLE, TTL_MS, 1)
    assert persistence_factory.release_claims_of_owner("dead-agent") == 2
    assert persistence_factory.release_claims_of_owner("dead-agent") == 0
    assert len(root.list_pending_queued_work("root")) == 1
    assert [b.claim for b in other.list_pending_queued_work("other")] == [None]
    again = root.claim_ready_queued_work("root", "new-agent", IDLE, TTL_MS, 1)
    assert again is not None and mine[0] is not None and again.fencing_token > mine[0].fencing_token
    assert theirs is not None and other.renew_queued_work_claim(theirs, TTL_MS).owner_id == "live-agent"


def test_session_summaries_count_pending_and_claimed_batches(
    root: RuntimePersistence, persistence_factory: RuntimePersistenceFactory
) -> None:
    for text in ("a", "b", "c"):
        enqueue(root, text)
    root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 1)
    summary = persistence_factory.get_summary("root")
    assert (summary.pending_count, summary.claimed_count, summary.head_revision) == (2, 1, None)
    page = persistence_factory.list_sessions()
    assert page.total == 1 and page.items[0].session_id == "root"


def test_every_queue_change_emits_an_event_without_the_lease_token(
    root: RuntimePersistence, persistence_events: EventSink
) -> None:
    batch = enqueue(root, "watched")
    claim = root.claim_ready_queued_work("root", "A", IDLE, TTL_MS, 1)
    assert claim is not None
    root.renew_queued_work_claim(claim, TTL_MS)
    root.abandon_queued_work_claim(claim)
    claim = root.claim_ready_queued_work("root", "B", IDLE, TTL_MS, 1)
    assert claim is not None
    root.complete_queued_work([claim.completion()])
    root.cancel_queued_work_batch("root", enqueue(root, "drop").batch_id)
    events = list(reversed(persistence_events.recent(limit=20, subject_type="session", subject_id="root")))
    assert [e.kind for e in events] == [
        "queue.enqueued", "queue.claimed", "queue.abandoned", "queue.claimed", "queue.completed",
        "queue.enqueued", "queue.cancelled",
    ]  # renewals are live-only, like heartbeats
    assert events[1].payload["batch_ids"] == [batch.batch_id] and events[1].payload["owner_id"] == "A"
    assert events[3].payload["expires_at_ms"] == claim.expires_at_epoch_ms
    assert all(claim.lease_token not in str(e.payload) for e in events)
