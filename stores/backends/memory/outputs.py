"""InMemoryOutputStore: ephemeral outputs and lineage for tests and embedding."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from stores.backends.memory.pruning import first_prunable, retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import IdempotencyKeyReused, NotFound, UnknownParent
from stores.events import InMemoryEventLog
from stores.fencing import check_fence
from stores.output_types import OutputDraft, OutputEvent, OutputKind, OutputRecord, OutputRef
from stores.outputs import check_drafts, check_parent_refs, new_ref, output_payload, same_append
from stores.retention_types import TableRetention
from stores.types import EventDraft, Fence, Page


class InMemoryOutputStore:
    def __init__(
        self,
        *,
        events: EventSink | None = None,
        fence_guard: FenceGuard | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.events: EventSink = events or InMemoryEventLog()
        self._fence_guard = fence_guard
        self._clock = clock
        # Insertion order is the sequence (seq grows by one per append, also across pruning).
        self._records: list[OutputRecord] = []
        self._by_ref: dict[OutputRef, OutputRecord] = {}
        self._by_attempt: dict[tuple[str, int], list[OutputRecord]] = defaultdict(list)
        self._by_producer: dict[str, list[OutputRecord]] = defaultdict(list)
        self._children: dict[OutputRef, list[OutputRecord]] = defaultdict(list)
        self._keys: dict[tuple[str, str], OutputRecord] = {}
        # One condition guards the state and wakes long-polls on every append.
        self._cond = threading.Condition(threading.RLock())

    def append(
        self,
        task_id: str,
        attempt: int,
        producer_agent: str,
        event: OutputEvent,
        parent_refs: Sequence[OutputRef] = (),
        *,
        fence: Fence | None = None,
        idempotency_key: str | None = None,
    ) -> OutputRecord:
        now = self._clock.now()
        parents = check_parent_refs(parent_refs)
        with self._cond:
            if idempotency_key is not None and (old := self._keys.get((producer_agent, idempotency_key))):
                if not same_append(old, task_id, attempt, event, parents):
                    raise IdempotencyKeyReused(
                        f"idempotency key {idempotency_key!r} was already used by {producer_agent!r} "
                        f"for a different append ({old.ref})",
                        ref=old.ref,
                    )
                return old
            check_fence(self._fence_guard, fence, "output.append")
            missing = [ref for ref in parents if ref not in self._by_ref]
            if missing:
                raise UnknownParent(
                    f"parent output{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}",
                    unknown_refs=missing,
                )
            record = self._new_record(OutputDraft(task_id, attempt, producer_agent, event, parents, fence), now)
            # The event goes first: if the sink fails, nothing has been stored.
            self.events.emit("output.appended", "output", record.ref, output_payload(record), now)
            self._store(record, idempotency_key)
            self._cond.notify_all()
            return record

    def append_many(self, drafts: Sequence[OutputDraft]) -> list[OutputRecord]:
        if not drafts:
            return []
        now = self._clock.now()
        parents = check_drafts(drafts)
        with self._cond:
            # Every check before any change: all or nothing.
            records: list[OutputRecord | None] = []
            for d, own in zip(drafts, parents, strict=True):
                old = self._keys.get((d.producer_agent, d.idempotency_key)) if d.idempotency_key else None
                if old is not None and not same_append(old, d.task_id, d.attempt, d.event, own):
                    raise IdempotencyKeyReused(
                        f"idempotency key {d.idempotency_key!r} was already used by {d.producer_agent!r} "
                        f"for a different append ({old.ref})",
                        ref=old.ref,
                    )
                records.append(old)
            fresh = [i for i, r in enumerate(records) if r is None]
            for fence in dict.fromkeys(drafts[i].fence for i in fresh if drafts[i].fence is not None):
                check_fence(self._fence_guard, fence, "output.append")
            missing = list(dict.fromkeys(p for i in fresh for p in parents[i] if p not in self._by_ref))
            if missing:
                raise UnknownParent(
                    f"parent output{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}",
                    unknown_refs=missing,
                )
            appended = []
            for i in fresh:
                record = records[i] = self._new_record(replace(drafts[i], parent_refs=parents[i]), now)
                self._store(record, drafts[i].idempotency_key)
                appended.append(record)
            self.events.emit_many(
                [EventDraft("output.appended", "output", r.ref, output_payload(r)) for r in appended], now
            )
            self._cond.notify_all()
            return [r for r in records if r is not None]

    def _new_record(self, draft: OutputDraft, now: datetime) -> OutputRecord:
        ref = new_ref()
        while ref in self._by_ref:
            ref = new_ref()
        fence = draft.fence
        return OutputRecord(
            ref=ref,
            seq=(self._records[-1].seq if self._records else 0) + 1,
            task_id=draft.task_id,
            attempt=draft.attempt,
            producer_agent=draft.producer_agent,
            event=draft.event,
            parent_refs=tuple(draft.parent_refs),
            created_at=now,
            identity=fence.identity if fence else None,
            fencing_token=fence.token if fence else None,
        )

    def _store(self, record: OutputRecord, idempotency_key: str | None) -> None:
        self._records.append(record)
        self._by_ref[record.ref] = record
        self._by_attempt[(record.task_id, record.attempt)].append(record)
        self._by_producer[record.producer_agent].append(record)
        for parent in record.parent_refs:
            self._children[parent].append(record)
        if idempotency_key is not None:
            self._keys[(record.producer_agent, idempotency_key)] = record

    def get(self, ref: OutputRef) -> OutputRecord:
        with self._cond:
            record = self._by_ref.get(ref)
        if record is None:
            raise NotFound(f"output not found: {ref}", ref=ref)
        return record

    def get_many(self, refs: Sequence[OutputRef]) -> dict[OutputRef, OutputRecord]:
        with self._cond:
            return {ref: self._by_ref[ref] for ref in refs if ref in self._by_ref}

    def get_latest_by_name(self, name: str) -> OutputRecord:
        with self._cond:
            records = self._by_producer.get(name)
            if not records:
                raise NotFound(f"output not found: {name}", name=name)
            return records[-1]

    def get_latest_by_name_in_run(self, task_id: str, attempt: int, name: str) -> OutputRecord:
        with self._cond:
            for record in reversed(self._by_attempt.get((task_id, attempt), [])):
                if record.producer_agent == name:
                    return record
        raise NotFound(f"output not found: {task_id}/{attempt}/{name}", task_id=task_id, attempt=attempt, name=name)

    def list_for_attempt(self, task_id: str, attempt: int) -> list[OutputRecord]:
        with self._cond:
            return list(self._by_attempt.get((task_id, attempt), []))

    def list_outputs(
        self,
        *,
        task_id: str | None = None,
        attempt: int | None = None,
        producer_agent: str | None = None,
        kind: OutputKind | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[OutputRecord]:
        with self._cond:
            records = [
                r
                for r in reversed(self._records)
                if (task_id is None or r.task_id == task_id)
                and (attempt is None or r.attempt == attempt)
                and (producer_agent is None or r.producer_agent == producer_agent)
                and (kind is None or r.kind == kind)
            ]
        return Page(items=records[offset : offset + limit], total=len(records), offset=offset, limit=limit)

    def children_of(self, ref: OutputRef, *, offset: int = 0, limit: int = 100) -> Page[OutputRecord]:
        with self._cond:
            if ref not in self._by_ref:
                raise NotFound(f"output not found: {ref}", ref=ref)
            children = list(self._children.get(ref, []))
        return Page(items=children[offset : offset + limit], total=len(children), offset=offset, limit=limit)

    def wait_for_next(
        self, producer_agent: str, *, after_ref: OutputRef | None = None, timeout_s: float
    ) -> OutputRecord | None:
        with self._cond:
            if after_ref is not None:
                if after_ref not in self._by_ref:
                    raise NotFound(f"output not found: {after_ref}", ref=after_ref)
                after = self._by_ref[after_ref].seq
            else:
                mine = self._by_producer.get(producer_agent)
                after = mine[-1].seq if mine else 0

            def next_record() -> OutputRecord | None:
                return next((r for r in self._by_producer.get(producer_agent, []) if r.seq > after), None)

            deadline = time.monotonic() + max(0.0, timeout_s)
            while (record := next_record()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return record

    # -- retention -------------------------------------------------------------------------------
    def _prunable(self, before: datetime) -> Callable[[OutputRecord], bool]:
        return lambda r: r.created_at < before and not self._children.get(r.ref)

    def prune_outputs(self, before: datetime, *, limit: int) -> int:
        with self._cond:
            doomed = {r.ref for r in first_prunable(self._records, self._prunable(before), limit)}
            if not doomed:
                return 0
            self._records = [r for r in self._records if r.ref not in doomed]
            for ref in doomed:
                del self._by_ref[ref]
                self._children.pop(ref, None)
            indexes: tuple[dict[Any, list[OutputRecord]], ...] = (self._by_attempt, self._by_producer, self._children)
            for index in indexes:
                for key, rows in list(index.items()):
                    index[key] = [r for r in rows if r.ref not in doomed]
                    if not index[key]:
                        del index[key]  # nothing per name outlives its last row
            self._keys = {k: r for k, r in self._keys.items() if r.ref not in doomed}
            return len(doomed)

    def outputs_retention(self, before: datetime) -> TableRetention:
        with self._cond:
            return retention("outputs", list(self._records), lambda r: r.created_at, self._prunable(before))
