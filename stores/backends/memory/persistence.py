"""InMemoryRuntimePersistence: ephemeral per-session persistence for tests and embedding.

Every operation runs under one lock and checks everything before it changes anything, so a rejected
commit leaves no trace (stricter than the original in-memory store, which deleted completed batches
before later checks). Blobs are content-addressed and GC really sweeps, as in the durable backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stores.backends.memory.persistence_queue import InMemoryQueueMixin
from stores.backends.memory.persistence_state import HeadState, InMemoryPersistenceState, SessionState
from stores.backends.memory.persistence_upkeep import InMemoryUpkeepMixin
from stores.backends.memory.pruning import first_prunable, retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import (
    HeadRevisionConflict,
    NotFound,
    RuntimeTurnCommitConflict,
    SessionNodeConflict,
    UnsupportedReadScope,
)
from stores.events import InMemoryEventLog
from stores.persistence import (
    SessionBound,
    active_path,
    blob_ref,
    checkpoint_blobs,
    decode_manifest,
    duplicate_ids,
    encode_manifest,
    epoch_ms,
    head_payload,
    hydrate,
    merge_ledger,
    node_ids_of,
    visible_ledger,
)
from stores.persistence_types import (
    FULL_GRAPH,
    ActivePath,
    Append,
    DurabilityTier,
    FullGraph,
    PersistedSessionRead,
    ReplaceFull,
    RuntimeCommit,
    RuntimeCommitResult,
    SessionGraph,
    SessionMeta,
    SessionNodeRecord,
    SessionReadScope,
    SessionSummary,
)
from stores.queue_types import QueuedWorkBatch
from stores.retention_types import TableRetention, from_epoch_ms
from stores.types import Fence, Page


class InMemoryRuntimePersistence(SessionBound, InMemoryQueueMixin, InMemoryUpkeepMixin):
    def __init__(
        self,
        state: InMemoryPersistenceState,
        session_id: str,
        *,
        events: EventSink,
        clock: Clock = system_clock,
        fence_guard: FenceGuard | None = None,
    ) -> None:
        self._state = state
        self._session_id = session_id
        self.events = events
        self._clock = clock
        self._fence_guard = fence_guard

    def durability_tier(self) -> DurabilityTier:
        return DurabilityTier.INLINE

    # --- reads ---------------------------------------------------------------------------------

    def load_session(self, scope: SessionReadScope = FULL_GRAPH) -> PersistedSessionRead | None:
        if not isinstance(scope, FullGraph | ActivePath):
            raise UnsupportedReadScope(f"unsupported read scope {scope!r}")
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is None or sess.head is None:
                return None
            head = sess.head
            live = sess.live_nodes()
            live_ids = {n.node_id for n in live}
            leaf = head.leaf_node_id if head.leaf_node_id in live_ids else None
            if isinstance(scope, ActivePath):
                target = scope.leaf_node_id if scope.leaf_node_id is not None else leaf
                target = target if target in live_ids else None
                graph = SessionGraph(tuple(active_path(live, target)), target)
            else:
                graph = SessionGraph(tuple(live), leaf)
            checkpoint = hydrate(decode_manifest(sess.blobs[head.checkpoint_ref]), sess.blobs)
            return PersistedSessionRead(
                session_id=self._session_id,
                head_revision=head.revision,
                config=head.config,
                agent_frames=tuple(head.agent_frames),
                current_agent_frame_id=head.current_agent_frame_id,
                graph=graph,
                checkpoint_ref=head.checkpoint_ref,
                checkpoint=checkpoint,
                token_ledger=tuple(visible_ledger(head.ledger)),
            )

    def load_node(self, node_id: str) -> SessionNodeRecord | None:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is None or node_id in sess.tombstoned:
                return None
            return next((n for n in sess.nodes if n.node_id == node_id), None)

    # --- the commit ----------------------------------------------------------------------------

    def commit_runtime_state(self, commit: RuntimeCommit, *, fence: Fence | None = None) -> RuntimeCommitResult:
        now = self._clock.now()
        with self._state.lock:
            self._check_binding(commit.session_id)
            existing = self._state.sessions.get(self._session_id)
            stamp = commit.turn_commit
            if stamp is not None:
                if stamp.session_id != commit.session_id:
                    raise RuntimeTurnCommitConflict(
                        f"turn {stamp.turn_id!r} is stamped for session {stamp.session_id!r}",
                        session_id=stamp.session_id, turn_id=stamp.turn_id,
                    )
                prior = existing.turns.get(stamp.turn_id) if existing else None
                if prior is not None:
                    if prior[0] == stamp.turn_commit_hash:
                        return prior[1]
                    raise RuntimeTurnCommitConflict(
                        f"turn {stamp.turn_id!r} was already committed with different state",
                        session_id=stamp.session_id, turn_id=stamp.turn_id,
                    )
            actual = existing.head.revision if existing and existing.head else 0
            if commit.expected_head_revision is not None and commit.expected_head_revision != actual:
                raise HeadRevisionConflict(
                    f"expected head revision {commit.expected_head_revision}, but it is {actual}",
                    expected=commit.expected_head_revision, actual=actual,
                )
            self._check_fence(fence, "session.commit")
            completed = self._verify_completions(commit.completed_queue_claims, commit.session_id)
            nodes, tombstoned, leaf = self._next_graph(existing, commit)
            manifest, blobs = checkpoint_blobs(commit.checkpoint)
            manifest_bytes = encode_manifest(manifest)
            result = RuntimeCommitResult(actual + 1, blob_ref(manifest_bytes), manifest)

            # Every check passed: apply.
            self._delete_batches(completed, now, "completed")
            sess = self._state.session(self._session_id, now)
            sess.blobs.update(blobs)
            sess.blobs[result.checkpoint_ref] = manifest_bytes
            sess.nodes, sess.tombstoned = nodes, tombstoned
            sess.head = HeadState(
                revision=result.head_revision,
                config=commit.config,
                agent_frames=tuple(commit.agent_frames),
                current_agent_frame_id=commit.current_agent_frame_id,
                checkpoint_ref=result.checkpoint_ref,
                leaf_node_id=leaf,
                ledger=merge_ledger(sess.head.ledger if sess.head else [], commit.usage_deltas),
            )
            sess.updated_at = now
            self._stamp_attachments(sess, commit.committed_attachment_ids, epoch_ms(now))
            if stamp is not None:
                sess.turns[stamp.turn_id] = (stamp.turn_commit_hash, result)
            node_count = len(sess.live_nodes())
            self.events.emit(
                "session.head_committed", "session", self._session_id,
                head_payload(self._session_id, result, leaf, node_count, [b.batch_id for b in completed]), now,
            )
            return result

    def _next_graph(
        self, sess: SessionState | None, commit: RuntimeCommit
    ) -> tuple[list[SessionNodeRecord], set[str], str | None]:
        nodes = list(sess.nodes) if sess else []
        tombstoned = set(sess.tombstoned) if sess else set()
        delta = commit.graph
        if isinstance(delta, ReplaceFull):
            self._reject_duplicates(node_ids_of(delta), set())
            return list(delta.graph.nodes), set(), delta.graph.leaf_node_id
        if isinstance(delta, Append):
            self._reject_duplicates(node_ids_of(delta), {n.node_id for n in nodes})
            return nodes + list(delta.nodes), tombstoned, delta.leaf_node_id
        return nodes, tombstoned, delta.leaf_node_id

    @staticmethod
    def _reject_duplicates(new_ids: Sequence[str], existing: set[str]) -> None:
        clashes = sorted(set(duplicate_ids(new_ids)) | (set(new_ids) & existing))
        if clashes:
            raise SessionNodeConflict(f"graph node ids already exist: {', '.join(clashes[:10])}", node_ids=clashes)

    # --- metadata ------------------------------------------------------------------------------

    def save_session_meta(self, meta: SessionMeta) -> None:
        self._check_binding(meta.session_id)
        now = self._clock.now()
        with self._state.lock:
            sess = self._state.session(self._session_id, now)
            sess.meta, sess.updated_at = meta, now

    def load_session_meta(self) -> SessionMeta | None:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            return sess.meta if sess else None

class InMemoryRuntimePersistenceFactory:
    def __init__(
        self,
        *,
        events: EventSink | None = None,
        clock: Clock = system_clock,
        fence_guard: FenceGuard | None = None,
        **_ignored: Any,
    ) -> None:
        self.events: EventSink = events or InMemoryEventLog()
        self._clock = clock
        self._fence_guard = fence_guard
        self._state = InMemoryPersistenceState()

    def open(self, session_id: str, *, initial_meta: SessionMeta | None = None) -> InMemoryRuntimePersistence:
        store = InMemoryRuntimePersistence(
            self._state, session_id, events=self.events, clock=self._clock, fence_guard=self._fence_guard
        )
        if initial_meta is not None:
            with self._state.lock:
                if store.load_session_meta() is None:
                    store.save_session_meta(initial_meta)
        return store

    def _summary(self, session_id: str, sess: SessionState, now_ms: int) -> SessionSummary:
        batches = [b for b in self._state.batches.values() if b.session_id == session_id and b.outcome is None]
        claimed = sum(1 for b in batches if b.is_held(now_ms))
        return SessionSummary(
            session_id=session_id,
            session_name=sess.meta.session_name if sess.meta else None,
            head_revision=sess.head.revision if sess.head else None,
            graph_node_count=len(sess.live_nodes()),
            pending_count=len(batches) - claimed,
            claimed_count=claimed,
            created_at=sess.created_at,
            updated_at=sess.updated_at,
        )

    def list_sessions(self, *, offset: int = 0, limit: int = 50) -> Page[SessionSummary]:
        now_ms = epoch_ms(self._clock.now())
        with self._state.lock:
            ordered = sorted(self._state.sessions.items(), key=lambda kv: (kv[1].updated_at, kv[0]), reverse=True)
            items = [self._summary(sid, sess, now_ms) for sid, sess in ordered[offset : offset + limit]]
            return Page(items=items, total=len(ordered), offset=offset, limit=limit)

    def get_summary(self, session_id: str) -> SessionSummary:
        now_ms = epoch_ms(self._clock.now())
        with self._state.lock:
            sess = self._state.sessions.get(session_id)
            if sess is None:
                raise NotFound(f"session {session_id!r} is not known", session_id=session_id)
            return self._summary(session_id, sess, now_ms)

    def release_claims_of_owner(self, owner_id: str) -> int:
        with self._state.lock:
            held = [b for b in self._state.batches.values() if b.claim is not None and b.claim.owner_id == owner_id]
            by_session: dict[str, list[QueuedWorkBatch]] = {}
            for batch in held:
                by_session.setdefault(batch.session_id, []).append(batch)
            for session_id, batches in by_session.items():
                self.open(session_id)._release(batches, self._clock.now(), "owner expired")
            return len(held)

    def prune_finished_work(self, before: datetime, *, limit: int) -> int:
        cutoff = epoch_ms(before)
        with self._state.lock:
            rows = self._state.batches.values()
            doomed = first_prunable(rows, lambda b: b.outcome is not None and b.enqueued_at_ms < cutoff, limit)
            for batch in doomed:
                del self._state.batches[batch.batch_id]
                if batch.source_key is not None:
                    self._state.source_keys.pop((batch.session_id, batch.source_key), None)
            return len(doomed)

    def finished_work_retention(self, before: datetime) -> TableRetention:
        cutoff = epoch_ms(before)
        with self._state.lock:
            return retention(
                "queued work", list(self._state.batches.values()), lambda b: from_epoch_ms(b.enqueued_at_ms),
                lambda b: b.outcome is not None and b.enqueued_at_ms < cutoff,
            )
