"""RuntimePersistence conformance, graph and commits (semantics 5.8 cases 1-6, 14-16, 18, 19 and the
SQLite extras), run against every backend. Queued work is in test_runtime_persistence_queue.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from stores.contracts import EventSink, RuntimePersistence, RuntimePersistenceFactory
from stores.errors import (
    HeadRevisionConflict,
    QueuedWorkClaimExpired,
    RuntimeTurnCommitConflict,
    SessionBindingMismatch,
    SessionNodeConflict,
    StaleFencingToken,
)
from stores.persistence_types import (
    ActivePath,
    Append,
    AttachmentIntent,
    DurabilityTier,
    FullGraph,
    HydratedSessionCheckpoint,
    ModelConfig,
    ReplaceFull,
    RuntimeCommit,
    SessionGraph,
    SessionMeta,
    SessionNodeRecord,
    SessionRelation,
    TokenLedgerEntry,
    TokenUsage,
    Unchanged,
)
from stores.queue_types import QueuedWorkBatchDraft, QueuedWorkClaimBoundary, QueuedWorkPayload
from stores.types import Fence
from tests.stores.conformance.conftest import LeaseFences

IDLE = QueuedWorkClaimBoundary.IDLE
TTL_MS = 60_000


def node(node_id: str, parent: str | None = None, text: str = "") -> SessionNodeRecord:
    return SessionNodeRecord(node_id, parent, timestamp="2026-01-01T00:00:00Z",
                             payload={"type": "event", "event": {"text": text or node_id}})


def tool_state(generation: int) -> bytes:
    return json.dumps({"generation": generation}).encode()


def a_commit(session_id: str, expected: int | None = None, **changes: object) -> RuntimeCommit:
    base = RuntimeCommit(
        session_id=session_id,
        expected_head_revision=expected,
        config=ModelConfig("anthropic", "model-x"),
        graph=Append((node("root"),), "root"),
        checkpoint=HydratedSessionCheckpoint(turn_state={"turn": 1}, tool_state=tool_state(1)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def queue_one(store: RuntimePersistence, text: str = "hello") -> None:
    store.enqueue_queued_work(QueuedWorkBatchDraft(store.session_id, (QueuedWorkPayload.turn_input({"text": text}),)))


# 1
def test_durability_tier_is_the_declared_tier(
    persistence_factory: RuntimePersistenceFactory, store_backend: str
) -> None:
    expected = DurabilityTier.DURABLE if store_backend == "orm" else DurabilityTier.INLINE
    assert persistence_factory.open("root").durability_tier() == expected


# 2
def test_commit_head_round_trips_agent_frames_and_execution_state(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    frames = ({"id": "frame-1", "reason": "root"},
              {"id": "frame-2", "reason": "custom: delegated to reviewer", "execution_snapshot": "ZnJhbWUtdm0="})
    checkpoint = HydratedSessionCheckpoint(turn_state={"turn": 2}, execution_state=b"frame-vm")
    result = store.commit_runtime_state(
        a_commit("root", agent_frames=frames, current_agent_frame_id="frame-2", checkpoint=checkpoint)
    )
    read = store.load_session(FullGraph())
    assert read is not None
    assert result.head_revision == read.head_revision == 1
    assert [dict(f) for f in read.agent_frames] == [dict(f) for f in frames]
    assert read.current_agent_frame_id == "frame-2"
    assert read.checkpoint is not None and read.checkpoint.execution_state == b"frame-vm"
    assert read.checkpoint_ref == result.checkpoint_ref


# 3
def test_first_commit_binds_the_session_and_another_session_is_rejected(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("alpha")
    store.commit_runtime_state(a_commit("alpha"))
    with pytest.raises(SessionBindingMismatch) as excinfo:
        store.commit_runtime_state(a_commit("beta", graph=Unchanged("root")))
    assert excinfo.value.context == {"bound_session_id": "alpha", "attempted_session_id": "beta"}
    assert store.load_session(FullGraph()).head_revision == 1  # type: ignore[union-attr]


# 4
def test_load_hydrates_tool_state_plugin_revision_and_ledger(persistence_factory: RuntimePersistenceFactory) -> None:
    store = persistence_factory.open("root")
    checkpoint = HydratedSessionCheckpoint(turn_state={"turn": 1}, tool_state=tool_state(9),
                                           plugin_snapshot=b"plugins", plugin_snapshot_revision=12)
    store.commit_runtime_state(a_commit(
        "root", checkpoint=checkpoint, usage_deltas=(TokenLedgerEntry("turn", "model-x", TokenUsage(input_tokens=11)),)
    ))
    read = store.load_session(FullGraph())
    assert read is not None and read.checkpoint is not None
    assert json.loads(read.checkpoint.tool_state or b"")["generation"] == 9
    assert read.checkpoint.plugin_snapshot == b"plugins"
    assert read.checkpoint.plugin_snapshot_revision == 12
    assert [(e.source, e.model, e.usage.input_tokens) for e in read.token_ledger] == [("turn", "model-x", 11)]


def test_ledger_sums_per_source_and_model_in_first_seen_order_and_drops_zero_entries(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    store.commit_runtime_state(a_commit("root", usage_deltas=(
        TokenLedgerEntry("turn", "m1", TokenUsage(1, 2, 3, 4)), TokenLedgerEntry("tool", "m1", TokenUsage()),
    )))
    store.commit_runtime_state(a_commit("root", graph=Unchanged("root"), usage_deltas=(
        TokenLedgerEntry("compact", "m2", TokenUsage(output_tokens=5)),
        TokenLedgerEntry("turn", "m1", TokenUsage(1, 1, 1, 1)),
    )))
    ledger = store.load_session(FullGraph()).token_ledger  # type: ignore[union-attr]
    assert [(e.source, e.model, e.usage) for e in ledger] == [
        ("turn", "m1", TokenUsage(2, 3, 4, 5)), ("compact", "m2", TokenUsage(output_tokens=5)),
    ]


# 5
def test_read_scopes_return_the_full_graph_or_the_active_path(persistence_factory: RuntimePersistenceFactory) -> None:
    store = persistence_factory.open("root")
    nodes = (node("root"), node("left", "root"), node("left-leaf", "left"), node("right-leaf", "root"))
    store.commit_runtime_state(a_commit("root", graph=ReplaceFull(SessionGraph(nodes, "left-leaf"))))

    full = store.load_session(FullGraph())
    assert full is not None and full.graph.node_ids == ["root", "left", "left-leaf", "right-leaf"]
    assert full.graph.leaf_node_id == "left-leaf"
    persisted_leaf = store.load_session(ActivePath())
    assert persisted_leaf is not None and persisted_leaf.graph.node_ids == ["root", "left", "left-leaf"]
    assert persisted_leaf.graph.leaf_node_id == "left-leaf"
    other = store.load_session(ActivePath("right-leaf"))
    assert other is not None and other.graph.node_ids == ["root", "right-leaf"]
    assert other.graph.leaf_node_id == "right-leaf"


def test_load_before_the_first_commit_is_none(persistence_factory: RuntimePersistenceFactory) -> None:
    store = persistence_factory.open("root")
    assert store.load_session(FullGraph()) is None
    assert store.load_node("root") is None


def test_append_of_an_existing_node_id_is_rejected_and_nothing_changes(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    store.commit_runtime_state(a_commit("root"))
    with pytest.raises(SessionNodeConflict):
        store.commit_runtime_state(a_commit("root", graph=Append((node("new"), node("root")), "new")))
    read = store.load_session(FullGraph())
    assert read is not None and read.head_revision == 1 and read.graph.node_ids == ["root"]


# 6
def test_attachment_manifest_tracks_intents_until_committed_or_forgotten(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    for name in ("a", "b", "orphan"):
        store.record_intent(AttachmentIntent(name, "root", f"file:///{name}.png", 100))
    store.record_intent(AttachmentIntent("a", "root", "file:///replaced.png", 150))  # first intent wins
    assert [e.attachment_id for e in store.list_uncommitted(200)] == ["a", "b", "orphan"]
    assert store.list_uncommitted(99) == []
    store.commit_refs("root", ["a", "unknown"])
    store.commit_runtime_state(a_commit("root").with_committed_attachments(["b"]))
    left = store.list_uncommitted(200)
    assert [(e.attachment_id, e.canonical_uri, e.committed_at_epoch_ms) for e in left] == [
        ("orphan", "file:///orphan.png", None)
    ]
    store.forget("orphan")
    store.forget("never-recorded")
    assert store.list_uncommitted(200) == []


# 14
def test_final_commit_with_a_stale_completion_applies_nothing_then_genuine_commit_and_retry_succeed(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    queue_one(store)
    claim = store.claim_ready_queued_work("root", "agent-1", IDLE, TTL_MS, 1)
    assert claim is not None
    stale = replace(claim.completion(), lease_token="0" * 64)
    final = a_commit("root", expected=0).completing_queue_claim(stale).with_turn_commit("turn-1")
    with pytest.raises(QueuedWorkClaimExpired):
        store.commit_runtime_state(final)
    assert store.load_session(FullGraph()) is None
    assert [b.batch_id for b in store.list_queued_work("root")] == claim.batch_ids

    genuine = a_commit("root", expected=0).completing_queue_claim(claim.completion()).with_turn_commit("turn-1")
    result = store.commit_runtime_state(genuine)
    retried = store.commit_runtime_state(genuine)
    assert (retried.head_revision, retried.checkpoint_ref) == (result.head_revision, result.checkpoint_ref) == (
        1, result.checkpoint_ref)
    assert store.list_queued_work("root") == []


def test_commit_with_a_stale_head_revision_is_rejected_and_nothing_changes(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    store.commit_runtime_state(a_commit("root", expected=0))
    with pytest.raises(HeadRevisionConflict) as excinfo:
        store.commit_runtime_state(a_commit("root", expected=0, graph=Append((node("late", "root"),), "late")))
    assert excinfo.value.context == {"expected": 0, "actual": 1}
    assert store.load_node("late") is None
    second = store.commit_runtime_state(a_commit("root", expected=1, graph=Unchanged("root")))
    assert second.head_revision == 2
    assert store.commit_runtime_state(a_commit("root", graph=Unchanged("root"))).head_revision == 3  # blind write


def test_commit_with_a_stale_fencing_token_is_rejected_and_nothing_changes(
    persistence_factory: RuntimePersistenceFactory, persistence_fences: LeaseFences
) -> None:
    store = persistence_factory.open("root")
    old = persistence_fences.grant("planner")
    store.commit_runtime_state(a_commit("root"), fence=Fence("planner", old))
    persistence_fences.grant("planner")
    with pytest.raises(StaleFencingToken):
        store.commit_runtime_state(a_commit("root", graph=Append((node("late", "root"),), "late")),
                                   fence=Fence("planner", old))
    read = store.load_session(FullGraph())
    assert read is not None and read.head_revision == 1 and store.load_node("late") is None


# 15
def test_session_meta_round_trips_every_field(persistence_factory: RuntimePersistenceFactory) -> None:
    store = persistence_factory.open("child")
    assert store.load_session_meta() is None
    meta = SessionMeta("child", "Review PR 42", "2026-03-01T12:00:00Z", "model-x", "/work/repo",
                       SessionRelation(parent_session_id="root", caused_by="node-7"))
    store.save_session_meta(meta)
    assert store.load_session_meta() == meta
    assert store.load_session_meta().parent_session_id == "root"  # type: ignore[union-attr]
    renamed = replace(meta, session_name="Renamed", cwd=None, relation=SessionRelation())
    store.save_session_meta(renamed)
    assert store.load_session_meta() == renamed


def test_initial_meta_is_created_once_and_kept_on_reopen(
    persistence_factory: RuntimePersistenceFactory, reopen_persistence: Callable[..., RuntimePersistence]
) -> None:
    first = SessionMeta("root", "root", "1970-01-01T00:00:00Z", "model-x")
    persistence_factory.open("root", initial_meta=first)
    reopened = reopen_persistence("root", initial_meta=replace(first, session_name="other", model="model-y"))
    assert reopened.load_session_meta() == first


# 16
def test_tombstoned_nodes_are_hidden_vacuumed_once_and_gc_still_succeeds(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    store.commit_runtime_state(a_commit("root", graph=Append((node("node-live"), node("node-delete", "node-live")),
                                                             "node-live")))
    store.tombstone_nodes(["node-delete", "unknown"])
    store.tombstone_nodes([])
    assert store.load_node("node-delete") is None
    assert store.load_node("node-live") is not None
    assert store.load_session(FullGraph()).graph.node_ids == ["node-live"]  # type: ignore[union-attr]
    preview = store.vacuum(dry_run=True)
    assert (preview.removed_node_count, list(preview.node_ids)) == (1, ["node-delete"])
    assert store.vacuum().removed_node_count == 1
    assert store.vacuum().removed_node_count == 0
    report = store.gc_unreachable()
    assert report.aborted is None and report.root_count == 1


def test_gc_keeps_the_rooted_checkpoint_blobs_and_deletes_unreachable_ones(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    store.commit_runtime_state(a_commit("root", checkpoint=HydratedSessionCheckpoint(
        turn_state={"turn": 1}, tool_state=tool_state(1), plugin_snapshot=b"plugins-v1")))
    current = store.commit_runtime_state(a_commit("root", graph=Unchanged("root"), checkpoint=HydratedSessionCheckpoint(
        turn_state={"turn": 2}, tool_state=tool_state(2), plugin_snapshot=b"plugins-v1")))
    preview = store.gc_unreachable(dry_run=True)
    # The first manifest and its tool state are orphans; the shared plugin blob is still rooted.
    assert (preview.root_count, preview.retained_blob_count, preview.deleted_blob_count) == (1, 3, 2)
    assert current.checkpoint_ref not in preview.deleted_refs
    assert store.gc_unreachable().deleted_blob_count == 2
    assert store.gc_unreachable().deleted_blob_count == 0
    read = store.load_session(FullGraph())
    assert read is not None and read.checkpoint is not None
    assert read.checkpoint.tool_state == tool_state(2) and read.checkpoint.plugin_snapshot == b"plugins-v1"


# 18
def test_final_turn_stamp_retry_returns_the_same_result_and_a_different_state_conflicts(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    store = persistence_factory.open("root")
    commit = a_commit("root", expected=0).with_turn_commit("turn-9")
    moved = replace(commit, expected_head_revision=41).with_turn_commit("turn-9")
    assert moved.turn_commit == commit.turn_commit  # the hash ignores the CAS revision
    renamed = replace(commit, graph=Append((replace(node("root"), node_id="other-id", timestamp="later"),), "other-id"))
    assert renamed.with_turn_commit("turn-9").turn_commit == commit.turn_commit  # and volatile ids

    first = store.commit_runtime_state(commit)
    store.commit_runtime_state(a_commit("root", graph=Unchanged("root")))  # the head moves on
    assert store.commit_runtime_state(moved) == first
    different = replace(commit, checkpoint=HydratedSessionCheckpoint(turn_state={"turn": "else"})).with_turn_commit(
        "turn-9")
    with pytest.raises(RuntimeTurnCommitConflict):
        store.commit_runtime_state(different)
    assert store.load_session(FullGraph()).head_revision == 2  # type: ignore[union-attr]


# 19
def test_reopen_keeps_meta_checkpoint_queue_and_attachment_intents(
    persistence_factory: RuntimePersistenceFactory, reopen_persistence: Callable[..., RuntimePersistence]
) -> None:
    store = persistence_factory.open("root")
    meta = SessionMeta("root", "durable", "2026-01-01T00:00:00Z", "model-x")
    store.save_session_meta(meta)
    store.commit_runtime_state(a_commit("root", checkpoint=HydratedSessionCheckpoint(tool_state=tool_state(77))))
    queue_one(store, "survive me")
    store.record_intent(AttachmentIntent("att-1", "root", "file:///a.png", 5))

    again = reopen_persistence("root")
    assert again.load_session_meta() == meta
    read = again.load_session(FullGraph())
    assert read is not None and read.checkpoint is not None
    assert json.loads(read.checkpoint.tool_state or b"")["generation"] == 77
    [batch] = again.list_queued_work("root")
    assert batch.items[0].payload.body == {"text": "survive me"}
    assert [e.attachment_id for e in again.list_uncommitted(10)] == ["att-1"]


def test_commit_emits_a_head_committed_event_with_a_snapshot(
    persistence_factory: RuntimePersistenceFactory, persistence_events: EventSink
) -> None:
    store = persistence_factory.open("root")
    result = store.commit_runtime_state(a_commit("root"))
    [event] = persistence_events.recent(limit=1, subject_type="session", subject_id="root")
    assert event.kind == "session.head_committed"
    assert event.payload["head_revision"] == result.head_revision
    assert event.payload["checkpoint_ref"] == result.checkpoint_ref
    assert event.payload["graph_node_count"] == 1
