"""OrmThreadStore: durable checkpoint threads on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from stores.backends.orm.base import translate_db_errors
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.models import CheckpointThread, ThreadCheckpoint, ThreadWrite
from stores.thread_types import (
    Blob,
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


def _write(row: ThreadWrite) -> PendingWrite:
    return PendingWrite(row.task_id, row.idx, row.channel, Blob(row.value_type, bytes(row.value)), row.task_path)


def _writes_of(rows: Sequence[ThreadCheckpoint]) -> dict[tuple[int, str, str], list[ThreadWrite]]:
    """The pending writes of these checkpoints, in one query."""
    found: dict[tuple[int, str, str], list[ThreadWrite]] = {}
    if not rows:
        return found
    wanted = Q()
    for row in rows:
        wanted |= Q(thread_id=row.thread_id, checkpoint_ns=row.checkpoint_ns,  # type: ignore[attr-defined]
                    checkpoint_id=row.checkpoint_id)
    for w in ThreadWrite.objects.filter(wanted):
        found.setdefault((w.thread_id, w.checkpoint_ns, w.checkpoint_id), []).append(w)  # type: ignore[attr-defined]
    return found


def _key(row: ThreadCheckpoint) -> tuple[int, str, str]:
    return (row.thread_id, row.checkpoint_ns, row.checkpoint_id)  # type: ignore[attr-defined]


def _record(row: ThreadCheckpoint, thread_id: str, writes: Iterable[ThreadWrite] = ()) -> CheckpointRecord:
    return CheckpointRecord(
        thread_id=thread_id, checkpoint_ns=row.checkpoint_ns, checkpoint_id=row.checkpoint_id,
        parent_checkpoint_id=row.parent_checkpoint_id, checkpoint=Blob(row.payload_type, bytes(row.payload)),
        metadata=row.metadata, created_at=row.created_at, identity=row.identity, fencing_token=row.fencing_token,
        pending_writes=tuple(_write(w) for w in sorted(writes, key=lambda w: (w.task_id, w.idx))),
    )


class OrmThreadStore:
    def __init__(
        self, *, events: EventSink, fence_guard: FenceGuard | None = None, clock: Clock = system_clock
    ) -> None:
        self.events = events
        self._fence_guard = fence_guard
        self._clock = clock

    def _locked(self, thread_id: str) -> CheckpointThread | None:
        return CheckpointThread.objects.select_for_update().filter(thread_id=thread_id).first()

    def _owned(self, thread_id: str, fence: Fence | None, operation: str, now: datetime) -> CheckpointThread:
        """The thread row, locked, after the fence check; created (owned by the fence's identity) if new."""
        thread = self._locked(thread_id)
        guard_thread(self._fence_guard, thread.identity if thread else None, fence, operation)
        owner = fence.identity if fence else None
        if thread is None:
            try:
                with transaction.atomic():
                    return CheckpointThread.objects.create(thread_id=thread_id, identity=owner, created_at=now,
                                                           updated_at=now)
            except IntegrityError:
                # A concurrent first write created it: its owner's fence rules this write too.
                thread = CheckpointThread.objects.select_for_update().get(thread_id=thread_id)
                guard_thread(self._fence_guard, thread.identity, fence, operation)
        changes = {"updated_at": now, **({"identity": owner} if thread.identity is None and owner else {})}
        CheckpointThread.objects.filter(pk=thread.pk).update(**changes)
        thread.identity = thread.identity or owner
        return thread

    @translate_db_errors
    def put_checkpoint(self, put: CheckpointPut, *, fence: Fence | None = None) -> CheckpointRecord:
        now = self._clock.now()
        with transaction.atomic():
            thread = self._owned(put.thread_id, fence, "thread.put_checkpoint", now)
            row, _ = ThreadCheckpoint.objects.update_or_create(
                thread=thread, checkpoint_ns=put.checkpoint_ns, checkpoint_id=put.checkpoint_id,
                defaults={
                    "parent_checkpoint_id": put.parent_checkpoint_id, "payload_type": put.checkpoint.type,
                    "payload": put.checkpoint.data, "metadata": put.metadata, "run_id": run_id_of(put.metadata),
                    "identity": fence.identity if fence else None, "fencing_token": fence.token if fence else None,
                    "created_at": now,
                },
            )
            record = _record(row, put.thread_id)
            self.events.emit("thread.checkpoint_saved", "thread", put.thread_id, {
                "thread_id": put.thread_id, "checkpoint_ns": put.checkpoint_ns, "checkpoint_id": put.checkpoint_id,
                "parent_checkpoint_id": put.parent_checkpoint_id, "identity": thread.identity,
                "fencing_token": record.fencing_token, "step": step_of(put.metadata),
            }, now)
        return record

    @translate_db_errors
    def put_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[PendingWrite],
        *, fence: Fence | None = None,
    ) -> None:
        now = self._clock.now()
        with transaction.atomic():
            thread = self._owned(thread_id, fence, "thread.put_writes", now)
            key: dict[str, Any] = {"thread": thread, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id}
            existing = set(ThreadWrite.objects.filter(**key).values_list("task_id", "idx"))
            for w in writes:
                values = {"channel": w.channel, "value_type": w.value.type, "value": w.value.data,
                          "task_path": w.task_path}
                if w.idx < 0:  # special channels (errors, interrupts) are replaced, like LangGraph's savers
                    ThreadWrite.objects.update_or_create(**key, task_id=w.task_id, idx=w.idx, defaults=values)
                elif (w.task_id, w.idx) not in existing:
                    ThreadWrite.objects.create(**key, task_id=w.task_id, idx=w.idx, **values)
                    existing.add((w.task_id, w.idx))

    @translate_db_errors
    def get_checkpoint(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        rows = ThreadCheckpoint.objects.filter(thread__thread_id=thread_id, checkpoint_ns=checkpoint_ns)
        if checkpoint_id is not None:
            rows = rows.filter(checkpoint_id=checkpoint_id)
        row = rows.order_by("-checkpoint_id").first()
        return _record(row, thread_id, _writes_of([row]).get(_key(row), [])) if row else None

    @translate_db_errors
    def list_checkpoints(self, query: CheckpointQuery) -> list[CheckpointRecord]:
        check_query(query)
        rows = ThreadCheckpoint.objects.select_related("thread")
        if query.thread_id is not None:
            rows = rows.filter(thread__thread_id=query.thread_id)
        if query.checkpoint_ns is not None:
            rows = rows.filter(checkpoint_ns=query.checkpoint_ns)
        if query.checkpoint_id is not None:
            rows = rows.filter(checkpoint_id=query.checkpoint_id)
        if query.before is not None:
            rows = rows.filter(checkpoint_id__lt=query.before)
        for key, value in query.metadata.items():
            rows = rows.filter(Q(**{f"metadata__{key}": value}))
        rows = rows.order_by("-checkpoint_id")
        # The JSON lookup narrows in SQL; the exact (typed) comparison is the same one the memory backend makes.
        matched: list[ThreadCheckpoint] = []
        for row in rows.iterator(chunk_size=200):
            if metadata_matches(row.metadata, query.metadata):
                matched.append(row)
                if query.limit is not None and len(matched) >= query.limit:
                    break
        writes = _writes_of(matched)
        return [_record(row, row.thread.thread_id, writes.get(_key(row), [])) for row in matched]

    @translate_db_errors
    def delete_thread(self, thread_id: str, *, fence: Fence | None = None) -> None:
        with transaction.atomic():
            thread = self._locked(thread_id)
            if thread is None:
                return
            guard_thread(self._fence_guard, thread.identity, fence, "thread.delete")
            thread.delete()

    @translate_db_errors
    def delete_for_runs(self, run_ids: Sequence[str], *, fence: Fence | None = None) -> None:
        if not run_ids:
            return
        with transaction.atomic():
            doomed = list(ThreadCheckpoint.objects.filter(run_id__in=list(run_ids)))
            threads = CheckpointThread.objects.select_for_update().filter(
                pk__in={row.thread_id for row in doomed}).order_by("pk")  # type: ignore[attr-defined]
            for thread in threads:  # every owner's fence first, so a refusal deletes nothing anywhere
                guard_thread(self._fence_guard, thread.identity, fence, "thread.delete_for_runs")
            _delete(doomed)

    @translate_db_errors
    def copy_thread(self, source_thread_id: str, target_thread_id: str, *, fence: Fence | None = None) -> None:
        now = self._clock.now()
        with transaction.atomic():
            sources = list(ThreadCheckpoint.objects.filter(thread__thread_id=source_thread_id)
                           .order_by("checkpoint_id"))
            if not sources:
                return
            source_writes = _writes_of(sources)
            target = self._owned(target_thread_id, fence, "thread.copy", now)
            for src in sources:
                copy, _ = ThreadCheckpoint.objects.update_or_create(
                    thread=target, checkpoint_ns=src.checkpoint_ns, checkpoint_id=src.checkpoint_id,
                    defaults={
                        "parent_checkpoint_id": src.parent_checkpoint_id, "payload_type": src.payload_type,
                        "payload": src.payload, "metadata": src.metadata, "run_id": src.run_id,
                        "identity": fence.identity if fence else None,
                        "fencing_token": fence.token if fence else None, "created_at": now,
                    },
                )
                ThreadWrite.objects.filter(thread=target, checkpoint_ns=copy.checkpoint_ns,
                                           checkpoint_id=copy.checkpoint_id).delete()
                ThreadWrite.objects.bulk_create(
                    ThreadWrite(thread=target, checkpoint_ns=w.checkpoint_ns, checkpoint_id=w.checkpoint_id,
                                task_id=w.task_id, idx=w.idx, channel=w.channel, value_type=w.value_type,
                                value=w.value, task_path=w.task_path)
                    for w in source_writes.get(_key(src), [])
                )

    @translate_db_errors
    def prune(self, thread_ids: Sequence[str], strategy: PruneStrategy, *, fence: Fence | None = None) -> None:
        if not thread_ids:
            return
        now = self._clock.now()
        with transaction.atomic():
            threads = list(CheckpointThread.objects.select_for_update().filter(thread_id__in=list(thread_ids))
                           .order_by("pk"))
            for thread in threads:
                guard_thread(self._fence_guard, thread.identity, fence, "thread.prune")
            if strategy is PruneStrategy.DELETE:
                CheckpointThread.objects.filter(pk__in=[t.pk for t in threads]).delete()
                return
            for thread in threads:
                newest: dict[str, str] = {}
                for ns, cid in ThreadCheckpoint.objects.filter(thread=thread).values_list("checkpoint_ns",
                                                                                           "checkpoint_id"):
                    newest[ns] = max(cid, newest.get(ns, cid))
                keep = Q()
                for ns, cid in newest.items():
                    keep |= Q(checkpoint_ns=ns, checkpoint_id=cid)
                ThreadCheckpoint.objects.filter(thread=thread).exclude(keep).delete()
                ThreadWrite.objects.filter(thread=thread).exclude(keep).delete()
            CheckpointThread.objects.filter(pk__in=[t.pk for t in threads]).update(updated_at=now)

    @translate_db_errors
    def list_threads(self, *, identity: str | None = None, offset: int = 0, limit: int = 50) -> Page[ThreadSummary]:
        threads = CheckpointThread.objects.all()
        if identity is not None:
            threads = threads.filter(identity=identity)
        total = threads.count()
        ordered = threads.annotate(n=Count("checkpoints")).order_by("-updated_at", "-thread_id")
        page = list(ordered[offset:offset + limit])
        latest: dict[int, ThreadCheckpoint] = {}
        for row in ThreadCheckpoint.objects.filter(thread__in=page, checkpoint_ns="").only(
            "thread_id", "checkpoint_id", "metadata"
        ).order_by("thread_id", "-checkpoint_id"):
            latest.setdefault(row.thread_id, row)  # type: ignore[attr-defined]
        items = []
        for t in page:
            top = latest.get(t.pk)
            items.append(ThreadSummary(
                thread_id=t.thread_id, identity=t.identity, checkpoints=t.n,  # type: ignore[attr-defined]
                latest_checkpoint_id=top.checkpoint_id if top else None,
                latest_step=step_of(top.metadata) if top else None,
                latest_source=source_of(top.metadata) if top else None, updated_at=t.updated_at,
            ))
        return Page(items=items, total=total, offset=offset, limit=limit)


def _delete(rows: Sequence[ThreadCheckpoint]) -> None:
    """Delete checkpoints and their pending writes."""
    if not rows:
        return
    keys = Q()
    for row in rows:
        keys |= Q(thread_id=row.thread_id, checkpoint_ns=row.checkpoint_ns,  # type: ignore[attr-defined]
                  checkpoint_id=row.checkpoint_id)
    ThreadWrite.objects.filter(keys).delete()
    ThreadCheckpoint.objects.filter(pk__in=[row.pk for row in rows]).delete()
