"""InMemoryThreadStore: checkpoint threads in process memory (tests, embedding)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.thread_types import (
    CheckpointPut,
    CheckpointQuery,
    CheckpointRecord,
    PendingWrite,
    PruneStrategy,
    ThreadSummary,
    metadata_matches,
)
from stores.threads import check_query, guard_thread, run_id_of, source_of, step_of
from stores.types import Fence, Page

CheckpointKey = tuple[str, str]  # (namespace, checkpoint id)


@dataclass
class _Thread:
    owner: str | None
    updated_at: datetime
    checkpoints: dict[CheckpointKey, CheckpointRecord] = field(default_factory=dict)
    writes: dict[CheckpointKey, dict[tuple[str, int], PendingWrite]] = field(default_factory=dict)


class InMemoryThreadStore:
    def __init__(
        self, *, events: EventSink, fence_guard: FenceGuard | None = None, clock: Clock = system_clock
    ) -> None:
        self.events = events
        self._fence_guard = fence_guard
        self._clock = clock
        self._threads: dict[str, _Thread] = {}
        self._lock = threading.RLock()

    def _owned(self, thread_id: str, fence: Fence | None, operation: str, now: datetime) -> _Thread:
        thread = self._threads.get(thread_id)
        guard_thread(self._fence_guard, thread.owner if thread else None, fence, operation)
        if thread is None:
            thread = self._threads[thread_id] = _Thread(owner=fence.identity if fence else None, updated_at=now)
        elif thread.owner is None and fence is not None:
            thread.owner = fence.identity
        thread.updated_at = now
        return thread

    def put_checkpoint(self, put: CheckpointPut, *, fence: Fence | None = None) -> CheckpointRecord:
        now = self._clock.now()
        with self._lock:
            thread = self._owned(put.thread_id, fence, "thread.put_checkpoint", now)
            record = CheckpointRecord(
                thread_id=put.thread_id, checkpoint_ns=put.checkpoint_ns, checkpoint_id=put.checkpoint_id,
                parent_checkpoint_id=put.parent_checkpoint_id, checkpoint=put.checkpoint, metadata=dict(put.metadata),
                created_at=now, identity=fence.identity if fence else None,
                fencing_token=fence.token if fence else None,
            )
            thread.checkpoints[(put.checkpoint_ns, put.checkpoint_id)] = record
            self.events.emit("thread.checkpoint_saved", "thread", put.thread_id, _payload(record, thread.owner), now)
            return record

    def put_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[PendingWrite],
        *, fence: Fence | None = None,
    ) -> None:
        now = self._clock.now()
        with self._lock:
            thread = self._owned(thread_id, fence, "thread.put_writes", now)
            stored = thread.writes.setdefault((checkpoint_ns, checkpoint_id), {})
            for write in writes:
                if write.idx < 0 or (write.task_id, write.idx) not in stored:
                    stored[(write.task_id, write.idx)] = write

    def get_checkpoint(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                return None
            if checkpoint_id is None:
                ids = [cid for ns, cid in thread.checkpoints if ns == checkpoint_ns]
                if not ids:
                    return None
                checkpoint_id = max(ids)
            record = thread.checkpoints.get((checkpoint_ns, checkpoint_id))
            return self._with_writes(thread, record) if record else None

    def list_checkpoints(self, query: CheckpointQuery) -> list[CheckpointRecord]:
        check_query(query)
        with self._lock:
            threads = [query.thread_id] if query.thread_id is not None else list(self._threads)
            found = [
                self._with_writes(self._threads[tid], record)
                for tid in threads if tid in self._threads
                for (ns, cid), record in self._threads[tid].checkpoints.items()
                if (query.checkpoint_ns is None or ns == query.checkpoint_ns)
                and (query.checkpoint_id is None or cid == query.checkpoint_id)
                and (query.before is None or cid < query.before)
                and metadata_matches(record.metadata, query.metadata)
            ]
        found.sort(key=lambda r: r.checkpoint_id, reverse=True)
        return found[: query.limit] if query.limit is not None else found

    def delete_thread(self, thread_id: str, *, fence: Fence | None = None) -> None:
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                return
            guard_thread(self._fence_guard, thread.owner, fence, "thread.delete")
            del self._threads[thread_id]

    def delete_for_runs(self, run_ids: Sequence[str], *, fence: Fence | None = None) -> None:
        wanted = set(run_ids)
        now = self._clock.now()
        with self._lock:
            doomed = {
                tid: [key for key, r in t.checkpoints.items() if run_id_of(r.metadata) in wanted]
                for tid, t in self._threads.items()
            }
            doomed = {tid: keys for tid, keys in doomed.items() if keys}
            for tid in doomed:  # every owner's fence first, so a refusal deletes nothing anywhere
                guard_thread(self._fence_guard, self._threads[tid].owner, fence, "thread.delete_for_runs")
            for tid, keys in doomed.items():
                thread = self._threads[tid]
                thread.updated_at = now
                for key in keys:
                    thread.checkpoints.pop(key, None)
                    thread.writes.pop(key, None)

    def copy_thread(self, source_thread_id: str, target_thread_id: str, *, fence: Fence | None = None) -> None:
        now = self._clock.now()
        with self._lock:
            source = self._threads.get(source_thread_id)
            if source is None:
                return
            target = self._owned(target_thread_id, fence, "thread.copy", now)
            for key, record in source.checkpoints.items():
                target.checkpoints[key] = replace(record, thread_id=target_thread_id, created_at=now)
            for key, writes in source.writes.items():
                target.writes.setdefault(key, {}).update(writes)

    def prune(self, thread_ids: Sequence[str], strategy: PruneStrategy, *, fence: Fence | None = None) -> None:
        now = self._clock.now()
        with self._lock:
            present = [tid for tid in thread_ids if tid in self._threads]
            for tid in present:
                guard_thread(self._fence_guard, self._threads[tid].owner, fence, "thread.prune")
            for tid in present:
                thread = self._threads[tid]
                if strategy is PruneStrategy.DELETE:
                    del self._threads[tid]
                    continue
                newest: dict[str, str] = {}
                for ns, cid in thread.checkpoints:
                    newest[ns] = max(cid, newest.get(ns, cid))
                keep = {(ns, cid) for ns, cid in newest.items()}
                thread.checkpoints = {k: v for k, v in thread.checkpoints.items() if k in keep}
                thread.writes = {k: v for k, v in thread.writes.items() if k in keep}
                thread.updated_at = now

    def list_threads(self, *, identity: str | None = None, offset: int = 0, limit: int = 50) -> Page[ThreadSummary]:
        with self._lock:
            rows = [
                _summary(tid, t) for tid, t in self._threads.items() if identity is None or t.owner == identity
            ]
        rows.sort(key=lambda s: (s.updated_at, s.thread_id), reverse=True)
        return Page(items=rows[offset: offset + limit], total=len(rows), offset=offset, limit=limit)

    @staticmethod
    def _with_writes(thread: _Thread, record: CheckpointRecord) -> CheckpointRecord:
        writes = thread.writes.get((record.checkpoint_ns, record.checkpoint_id), {})
        ordered = tuple(writes[k] for k in sorted(writes, key=lambda k: (k[0], k[1])))
        return replace(record, pending_writes=ordered)


def _summary(thread_id: str, thread: _Thread) -> ThreadSummary:
    root = [r for (ns, _), r in thread.checkpoints.items() if ns == ""]
    latest = max(root, key=lambda r: r.checkpoint_id) if root else None
    return ThreadSummary(
        thread_id=thread_id, identity=thread.owner, checkpoints=len(thread.checkpoints),
        latest_checkpoint_id=latest.checkpoint_id if latest else None,
        latest_step=step_of(latest.metadata) if latest else None,
        latest_source=source_of(latest.metadata) if latest else None, updated_at=thread.updated_at,
    )


def _payload(record: CheckpointRecord, owner: str | None) -> dict[str, object]:
    return {
        "thread_id": record.thread_id, "checkpoint_ns": record.checkpoint_ns, "checkpoint_id": record.checkpoint_id,
        "parent_checkpoint_id": record.parent_checkpoint_id, "identity": owner, "fencing_token": record.fencing_token,
        "step": step_of(record.metadata),
    }
