"""OrmRuntimePersistence: durable per-session persistence on SQLite or PostgreSQL.

A commit locks its session row first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE
transactions serialise writers), so the checks of semantics 5.4 and the writes are one atomic step.
The head itself advances by a conditional UPDATE with a row count, a second guard that holds on
either database. The inbox lives in stores/backends/orm/persistence_queue.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from stores.backends.orm.base import step, translate_db_errors
from stores.backends.orm.persistence_queue import OrmQueueMixin
from stores.backends.orm.persistence_queue_batch import OrmQueueBatchMixin
from stores.backends.orm.persistence_rows import held, meta_from_json, meta_json, node_row, to_node
from stores.backends.orm.persistence_upkeep import OrmUpkeepMixin
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import (
    Backend,
    HeadRevisionConflict,
    NotFound,
    RuntimeTurnCommitConflict,
    SessionNodeConflict,
    UnsupportedReadScope,
)
from stores.models.persistence import (
    PersistedSession,
    QueuedWorkBatchRecord,
    SessionBlob,
    SessionNode,
    SessionTurnCommit,
)
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
    ledger_from_json,
    merge_ledger,
    node_ids_of,
    result_from_json,
    result_json,
    visible_ledger,
)
from stores.persistence_types import (
    FULL_GRAPH,
    ActivePath,
    Append,
    DurabilityTier,
    FullGraph,
    ModelConfig,
    PersistedSessionRead,
    ReplaceFull,
    RuntimeCommit,
    RuntimeCommitResult,
    SessionGraph,
    SessionMeta,
    SessionNodeRecord,
    SessionReadScope,
    SessionSummary,
    ledger_json,
)
from stores.retention_types import TableRetention, from_epoch_ms
from stores.types import Fence, Page

log = logging.getLogger(__name__)


class OrmRuntimePersistence(SessionBound, OrmQueueMixin, OrmQueueBatchMixin, OrmUpkeepMixin):
    def __init__(
        self,
        session_id: str,
        *,
        events: EventSink,
        clock: Clock = system_clock,
        fence_guard: FenceGuard | None = None,
        gc_every_commits: int | None = None,
    ) -> None:
        self._session_id = session_id
        self.events = events
        self._clock = clock
        self._fence_guard = fence_guard
        self._gc_every = gc_every_commits

    def durability_tier(self) -> DurabilityTier:
        return DurabilityTier.DURABLE

    def _session_row(self, now: datetime, *, lock: bool) -> PersistedSession:
        PersistedSession.objects.get_or_create(
            session_id=self._session_id, defaults={"created_at": now, "updated_at": now}
        )
        rows = PersistedSession.objects.filter(pk=self._session_id)
        return (rows.select_for_update() if lock else rows).get()

    # --- reads ---------------------------------------------------------------------------------

    @translate_db_errors
    def load_session(self, scope: SessionReadScope = FULL_GRAPH) -> PersistedSessionRead | None:
        if not isinstance(scope, FullGraph | ActivePath):
            raise UnsupportedReadScope(f"unsupported read scope {scope!r}")
        # Reads take no lock; a commit landing between the head and the graph reads is caught by
        # re-reading the head revision, and the read is retried.
        for _ in range(5):
            session = PersistedSession.objects.filter(pk=self._session_id).first()
            if session is None or session.head_revision is None:
                return None
            read = self._read(session, scope)
            if PersistedSession.objects.filter(pk=self._session_id, head_revision=session.head_revision).exists():
                return read
        raise Backend("the session kept changing while it was read; try again", session_id=self._session_id)

    def _read(self, session: PersistedSession, scope: SessionReadScope) -> PersistedSessionRead:
        live = [to_node(r) for r in SessionNode.objects.filter(session=session, tombstoned=False).order_by("id")]
        live_ids = {n.node_id for n in live}
        leaf = session.leaf_node_id if session.leaf_node_id in live_ids else None
        if isinstance(scope, ActivePath):
            target = scope.leaf_node_id if scope.leaf_node_id is not None else leaf
            target = target if target in live_ids else None
            graph = SessionGraph(tuple(active_path(live, target)), target)
        else:
            graph = SessionGraph(tuple(live), leaf)
        assert session.checkpoint_ref is not None
        manifest_row = SessionBlob.objects.filter(session=session, ref=session.checkpoint_ref).first()
        if manifest_row is None:
            raise Backend(f"checkpoint manifest {session.checkpoint_ref} is missing", session_id=self._session_id)
        manifest = decode_manifest(bytes(manifest_row.data))
        blobs = {r.ref: bytes(r.data) for r in SessionBlob.objects.filter(session=session, ref__in=manifest.blob_refs)}
        return PersistedSessionRead(
            session_id=self._session_id,
            head_revision=session.head_revision or 0,
            config=ModelConfig(session.provider_id, session.model),
            agent_frames=tuple(session.agent_frames),
            current_agent_frame_id=session.current_agent_frame_id,
            graph=graph,
            checkpoint_ref=session.checkpoint_ref,
            checkpoint=hydrate(manifest, blobs),
            token_ledger=tuple(visible_ledger(ledger_from_json(session.token_ledger))),
        )

    @translate_db_errors
    def load_node(self, node_id: str) -> SessionNodeRecord | None:
        row = SessionNode.objects.filter(session_id=self._session_id, node_id=node_id, tombstoned=False).first()
        return to_node(row) if row else None

    # --- the commit ----------------------------------------------------------------------------

    @translate_db_errors
    def commit_runtime_state(self, commit: RuntimeCommit, *, fence: Fence | None = None) -> RuntimeCommitResult:
        now = self._clock.now()
        self._check_binding(commit.session_id)
        stamp = commit.turn_commit
        if stamp is not None and stamp.session_id != commit.session_id:
            raise RuntimeTurnCommitConflict(
                f"turn {stamp.turn_id!r} is stamped for session {stamp.session_id!r}",
                session_id=stamp.session_id, turn_id=stamp.turn_id,
            )
        with step():
            session = self._session_row(now, lock=True)
            if stamp is not None:
                prior = SessionTurnCommit.objects.filter(session=session, turn_id=stamp.turn_id).first()
                if prior is not None:
                    if prior.turn_commit_hash == stamp.turn_commit_hash:
                        return result_from_json(prior.result)
                    raise RuntimeTurnCommitConflict(
                        f"turn {stamp.turn_id!r} was already committed with different state",
                        session_id=stamp.session_id, turn_id=stamp.turn_id,
                    )
            actual = session.head_revision or 0
            if commit.expected_head_revision is not None and commit.expected_head_revision != actual:
                raise HeadRevisionConflict(
                    f"expected head revision {commit.expected_head_revision}, but it is {actual}",
                    expected=commit.expected_head_revision, actual=actual,
                )
            self._check_fence(fence, "session.commit")
            completed = self._take_completions(commit.completed_queue_claims, commit.session_id, now)
            leaf = self._apply_graph(commit)
            result = self._store_checkpoint(commit, actual, now)
            node_count = SessionNode.objects.filter(session=session, tombstoned=False).count()
            ledger = merge_ledger(ledger_from_json(session.token_ledger), commit.usage_deltas)
            moved = PersistedSession.objects.filter(pk=self._session_id, head_revision=session.head_revision).update(
                head_revision=result.head_revision,
                provider_id=commit.config.provider_id,
                model=commit.config.model,
                agent_frames=[dict(f) for f in commit.agent_frames],
                current_agent_frame_id=commit.current_agent_frame_id,
                checkpoint_ref=result.checkpoint_ref,
                leaf_node_id=leaf,
                graph_node_count=node_count,
                token_ledger=[ledger_json(e) for e in ledger],
                updated_at=now,
            )
            if moved != 1:
                raise HeadRevisionConflict("the head moved during the commit", expected=actual, actual=None)
            self._stamp_attachments(commit.committed_attachment_ids, epoch_ms(now))
            if stamp is not None:
                SessionTurnCommit.objects.create(
                    session=session, turn_id=stamp.turn_id, turn_commit_hash=stamp.turn_commit_hash,
                    result=result_json(result), committed_at=now,
                )
            self.events.emit(
                "session.head_committed", "session", self._session_id,
                head_payload(self._session_id, result, leaf, node_count, [b.batch_id for b in completed]), now,
            )
        if self._gc_every and result.head_revision % self._gc_every == 0:
            self.gc_unreachable()
        return result

    def _apply_graph(self, commit: RuntimeCommit) -> str | None:
        delta = commit.graph
        if isinstance(delta, ReplaceFull):
            self._reject_duplicates(node_ids_of(delta), check_stored=False)
            SessionNode.objects.filter(session_id=self._session_id).delete()
            SessionNode.objects.bulk_create([node_row(self._session_id, n) for n in delta.graph.nodes])
            return delta.graph.leaf_node_id
        if isinstance(delta, Append):
            self._reject_duplicates(node_ids_of(delta), check_stored=True)
            SessionNode.objects.bulk_create([node_row(self._session_id, n) for n in delta.nodes])
        return delta.leaf_node_id

    def _reject_duplicates(self, new_ids: Sequence[str], *, check_stored: bool) -> None:
        clashes = set(duplicate_ids(new_ids))
        if check_stored and new_ids:
            stored = SessionNode.objects.filter(session_id=self._session_id, node_id__in=set(new_ids))
            clashes |= set(stored.values_list("node_id", flat=True))
        if clashes:
            ordered = sorted(clashes)
            raise SessionNodeConflict(f"graph node ids already exist: {', '.join(ordered[:10])}", node_ids=ordered)

    def _store_checkpoint(self, commit: RuntimeCommit, actual: int, now: datetime) -> RuntimeCommitResult:
        manifest, blobs = checkpoint_blobs(commit.checkpoint)
        manifest_bytes = encode_manifest(manifest)
        ref = blob_ref(manifest_bytes)
        blobs[ref] = manifest_bytes
        # Content-addressed: an identical blob is already stored, so conflicts are simply skipped.
        SessionBlob.objects.bulk_create(
            [SessionBlob(session_id=self._session_id, ref=r, data=data, created_at=now) for r, data in blobs.items()],
            ignore_conflicts=True,
        )
        return RuntimeCommitResult(actual + 1, ref, manifest)

    # --- metadata ------------------------------------------------------------------------------

    @translate_db_errors
    def save_session_meta(self, meta: SessionMeta) -> None:
        self._check_binding(meta.session_id)
        now = self._clock.now()
        with transaction.atomic():
            self._session_row(now, lock=False)
            PersistedSession.objects.filter(pk=self._session_id).update(meta=meta_json(meta), updated_at=now)

    @translate_db_errors
    def load_session_meta(self) -> SessionMeta | None:
        raw = PersistedSession.objects.filter(pk=self._session_id).values_list("meta", flat=True).first()
        return meta_from_json(raw) if raw else None

    def _save_meta_if_absent(self, meta: SessionMeta) -> None:
        self._check_binding(meta.session_id)
        now = self._clock.now()
        with transaction.atomic():
            self._session_row(now, lock=False)
            PersistedSession.objects.filter(pk=self._session_id, meta__isnull=True).update(meta=meta_json(meta))


class OrmRuntimePersistenceFactory:
    def __init__(
        self,
        *,
        events: EventSink,
        clock: Clock = system_clock,
        fence_guard: FenceGuard | None = None,
        gc_every_commits: int | None = None,
        **_ignored: Any,
    ) -> None:
        self.events = events
        self._clock = clock
        self._fence_guard = fence_guard
        self._gc_every = gc_every_commits

    def open(self, session_id: str, *, initial_meta: SessionMeta | None = None) -> OrmRuntimePersistence:
        store = OrmRuntimePersistence(
            session_id, events=self.events, clock=self._clock, fence_guard=self._fence_guard,
            gc_every_commits=self._gc_every,
        )
        if initial_meta is not None:
            translate_db_errors(store._save_meta_if_absent)(initial_meta)
        return store

    def _summaries(self, now_ms: int) -> Any:
        open_batches = Q(queued_batches__outcome__isnull=True)
        return PersistedSession.objects.annotate(
            open_count=Count("queued_batches", filter=open_batches),
            claimed_count=Count("queued_batches", filter=open_batches & held(now_ms, "queued_batches__")),
        )

    @staticmethod
    def _summary(row: Any) -> SessionSummary:
        return SessionSummary(
            session_id=row.session_id,
            session_name=(row.meta or {}).get("session_name"),
            head_revision=row.head_revision,
            graph_node_count=row.graph_node_count,
            pending_count=row.open_count - row.claimed_count,
            claimed_count=row.claimed_count,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @translate_db_errors
    def list_sessions(self, *, offset: int = 0, limit: int = 50) -> Page[SessionSummary]:
        now_ms = epoch_ms(self._clock.now())
        total = PersistedSession.objects.count()
        rows = self._summaries(now_ms).order_by("-updated_at", "session_id")[offset : offset + limit]
        return Page(items=[self._summary(r) for r in rows], total=total, offset=offset, limit=limit)

    @translate_db_errors
    def get_summary(self, session_id: str) -> SessionSummary:
        row = self._summaries(epoch_ms(self._clock.now())).filter(pk=session_id).first()
        if row is None:
            raise NotFound(f"session {session_id!r} is not known", session_id=session_id)
        return self._summary(row)

    @translate_db_errors
    def release_claims_of_owner(self, owner_id: str) -> int:
        from stores.backends.orm.persistence_queue import release_owner_claims

        return release_owner_claims(owner_id, self.events, self._clock.now())

    @staticmethod
    def _finished(before: datetime) -> Any:
        return QueuedWorkBatchRecord.objects.filter(outcome__isnull=False, enqueued_at_ms__lt=epoch_ms(before))

    @translate_db_errors
    def prune_finished_work(self, before: datetime, *, limit: int) -> int:
        return delete_batch(self._finished(before), limit)

    @translate_db_errors
    def finished_work_retention(self, before: datetime) -> TableRetention:
        return table_retention(
            "queued work", QueuedWorkBatchRecord, "enqueued_at_ms", self._finished(before), as_datetime=from_epoch_ms
        )
