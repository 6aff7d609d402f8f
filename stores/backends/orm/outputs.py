"""OrmOutputStore: durable outputs and lineage on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from stores.backends.orm import wakeups
from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.precompiled import PrecompiledLookup
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import Conflict, IdempotencyKeyReused, NotFound, UnknownParent
from stores.fencing import check_fence
from stores.models import Output, OutputLink
from stores.output_types import (
    OutputDraft,
    OutputEvent,
    OutputKind,
    OutputRecord,
    OutputRef,
    event_from_json,
    event_to_json,
)
from stores.outputs import (
    ProducerSignal,
    check_drafts,
    check_parent_refs,
    new_ref,
    output_payload,
    producer_signal,
    same_append,
)
from stores.retention_types import TableRetention
from stores.types import EventDraft, Fence, Page

# A fresh ref clashes with a stored one with probability n / 2**40; three draws make a failure
# astronomically unlikely while the unique constraint keeps refs unique whatever happens.
REF_DRAWS = 3


# The lookups agents poll: compiled once (see precompiled.py). Each is one index range scan.
BY_REF = PrecompiledLookup(lambda ref: Output.objects.filter(ref=ref)[:1], "r")
LATEST_BY_NAME = PrecompiledLookup(lambda name: Output.objects.filter(producer_agent=name).order_by("-id")[:1], "n")
LATEST_IN_RUN = PrecompiledLookup(
    lambda task, attempt, name: Output.objects.filter(task_id=task, attempt=attempt, producer_agent=name)
    .order_by("-id")[:1],
    "t", 7, "n",
)


def to_record(row: Output) -> OutputRecord:
    return OutputRecord(
        ref=row.ref,
        seq=row.id,
        task_id=row.task_id,
        attempt=row.attempt,
        producer_agent=row.producer_agent,
        event=event_from_json(row.event),
        parent_refs=tuple(row.parent_refs),
        created_at=row.created_at,
        identity=row.identity,
        fencing_token=row.fencing_token,
    )


class OrmOutputStore:
    def __init__(
        self,
        *,
        events: EventSink,
        fence_guard: FenceGuard | None = None,
        clock: Clock = system_clock,
        poll_interval_s: float = 1.0,
        signal: ProducerSignal = producer_signal,
    ) -> None:
        self.events = events
        self._fence_guard = fence_guard
        self._clock = clock
        self._poll_s = poll_interval_s
        self._signal = signal
        if wakeups.available():
            signal.listen_with(wakeups.start_listener)

    @translate_db_errors
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
        for _ in range(REF_DRAWS):
            ref = new_ref()
            try:
                return self._append_once(
                    ref, task_id, attempt, producer_agent, event, parents, fence, idempotency_key, now
                )
            except IntegrityError:
                # A concurrent retry with the same idempotency key committed first: answer with its
                # record. The random ref clashed: draw again. Anything else is a real failure.
                if idempotency_key is not None:
                    row = Output.objects.filter(producer_agent=producer_agent, idempotency_key=idempotency_key).first()
                    if row is not None:
                        return self._replay(to_record(row), task_id, attempt, event, parents, idempotency_key)
                if not Output.objects.filter(ref=ref).exists():
                    raise
        raise Conflict("could not allocate a unique output ref; retry the append")

    def _append_once(
        self,
        ref: OutputRef,
        task_id: str,
        attempt: int,
        producer_agent: str,
        event: OutputEvent,
        parents: tuple[OutputRef, ...],
        fence: Fence | None,
        idempotency_key: str | None,
        now: datetime,
    ) -> OutputRecord:
        with transaction.atomic():
            if idempotency_key is not None:
                row = Output.objects.filter(producer_agent=producer_agent, idempotency_key=idempotency_key).first()
                if row is not None:
                    return self._replay(to_record(row), task_id, attempt, event, parents, idempotency_key)
            check_fence(self._fence_guard, fence, "output.append")
            parent_ids = self._parent_ids(parents)
            row = Output.objects.create(
                ref=ref,
                task_id=task_id,
                attempt=attempt,
                producer_agent=producer_agent,
                kind=event.kind.value,
                event=event_to_json(event),
                parent_refs=list(parents),
                identity=fence.identity if fence else None,
                fencing_token=fence.token if fence else None,
                idempotency_key=idempotency_key,
                created_at=now,
            )
            if parent_ids:
                OutputLink.objects.bulk_create(
                    OutputLink(child_id=row.id, parent_id=parent_ids[ref], position=i) for i, ref in enumerate(parents)
                )
            record = to_record(row)
            self.events.emit("output.appended", "output", record.ref, output_payload(record), now)
            wakeups.announce(producer_agent)  # other processes' waiters, at commit
            signal = self._signal
            transaction.on_commit(lambda: signal.notify(producer_agent))
        return record

    @translate_db_errors
    def append_many(self, drafts: Sequence[OutputDraft]) -> list[OutputRecord]:
        """One read of the batch's idempotency keys, one of its parents, one multi-row INSERT of the
        outputs (ids come back from it) and one of their lineage edges, one event append."""
        if not drafts:
            return []
        now = self._clock.now()
        parents = check_drafts(drafts)
        for _ in range(REF_DRAWS):
            refs = [new_ref() for _ in drafts]
            try:
                return self._append_many_once(drafts, parents, refs, now)
            except IntegrityError:
                # A concurrent retry with one of the keys committed first (the next try replays it), or a
                # random ref clashed (the next try draws again). Anything else is a real failure.
                keyed = [d for d in drafts if d.idempotency_key is not None]
                if not (keyed and self._known_keys(keyed)) and not Output.objects.filter(ref__in=refs).exists():
                    raise
        raise Conflict("could not allocate unique output refs; retry the append")

    @staticmethod
    def _known_keys(drafts: Sequence[OutputDraft]) -> dict[tuple[str, str | None], Output]:
        if not drafts:
            return {}
        named = Q()
        for d in drafts:
            named |= Q(producer_agent=d.producer_agent, idempotency_key=d.idempotency_key)
        return {(row.producer_agent, row.idempotency_key): row for row in Output.objects.filter(named)}

    def _append_many_once(
        self, drafts: Sequence[OutputDraft], parents: list[tuple[OutputRef, ...]], refs: list[OutputRef],
        now: datetime,
    ) -> list[OutputRecord]:
        with transaction.atomic():
            known = self._known_keys([d for d in drafts if d.idempotency_key is not None])
            records: list[OutputRecord | None] = []
            for d, own in zip(drafts, parents, strict=True):
                row = known.get((d.producer_agent, d.idempotency_key))
                if row is None or d.idempotency_key is None:
                    records.append(None)
                else:
                    records.append(self._replay(to_record(row), d.task_id, d.attempt, d.event, own, d.idempotency_key))
            fresh = [i for i, r in enumerate(records) if r is None]
            if not fresh:
                return [r for r in records if r is not None]
            for fence in dict.fromkeys(drafts[i].fence for i in fresh if drafts[i].fence is not None):
                assert fence is not None
                check_fence(self._fence_guard, fence, "output.append")
            parent_ids = self._parent_ids(tuple(dict.fromkeys(p for i in fresh for p in parents[i])))
            rows = Output.objects.bulk_create([self._row(drafts[i], parents[i], refs[i], now) for i in fresh])
            links = [OutputLink(child_id=row.id, parent_id=parent_ids[p], position=k)
                     for row, i in zip(rows, fresh, strict=True) for k, p in enumerate(parents[i])]
            if links:
                OutputLink.objects.bulk_create(links)
            for row, i in zip(rows, fresh, strict=True):
                records[i] = to_record(row)
            appended = [records[i] for i in fresh]
            self.events.emit_many(
                [EventDraft("output.appended", "output", r.ref, output_payload(r)) for r in appended if r], now
            )
            producers = list(dict.fromkeys(drafts[i].producer_agent for i in fresh))
            for producer in producers:
                wakeups.announce(producer)  # other processes' waiters, at commit
            signal = self._signal

            def wake() -> None:
                for producer in producers:
                    signal.notify(producer)

            transaction.on_commit(wake)
        return [r for r in records if r is not None]

    @staticmethod
    def _row(draft: OutputDraft, parents: tuple[OutputRef, ...], ref: OutputRef, now: datetime) -> Output:
        return Output(
            ref=ref, task_id=draft.task_id, attempt=draft.attempt, producer_agent=draft.producer_agent,
            kind=draft.event.kind.value, event=event_to_json(draft.event), parent_refs=list(parents),
            identity=draft.fence.identity if draft.fence else None,
            fencing_token=draft.fence.token if draft.fence else None,
            idempotency_key=draft.idempotency_key, created_at=now,
        )

    def _parent_ids(self, parents: tuple[OutputRef, ...]) -> dict[OutputRef, int]:
        """Parents' row ids, read in the append's transaction; outputs are never deleted, so a
        parent seen here still exists at commit (and the foreign keys would say so if not)."""
        if not parents:
            return {}
        found = dict(Output.objects.filter(ref__in=parents).values_list("ref", "id"))
        missing = [ref for ref in parents if ref not in found]
        if missing:
            raise UnknownParent(
                f"parent output{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}",
                unknown_refs=missing,
            )
        return found

    @staticmethod
    def _replay(
        record: OutputRecord,
        task_id: str,
        attempt: int,
        event: OutputEvent,
        parents: tuple[OutputRef, ...],
        idempotency_key: str,
    ) -> OutputRecord:
        if not same_append(record, task_id, attempt, event, parents):
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency_key!r} was already used by {record.producer_agent!r} "
                f"for a different append ({record.ref})",
                ref=record.ref,
            )
        return record

    @translate_db_errors
    def get(self, ref: OutputRef) -> OutputRecord:
        row = BY_REF.first(ref)
        if row is None:
            raise NotFound(f"output not found: {ref}", ref=ref)
        return to_record(row)

    @translate_db_errors
    def get_many(self, refs: Sequence[OutputRef]) -> dict[OutputRef, OutputRecord]:
        if not refs:
            return {}
        return {row.ref: to_record(row) for row in Output.objects.filter(ref__in=list(refs))}

    @translate_db_errors
    def get_latest_by_name(self, name: str) -> OutputRecord:
        row = LATEST_BY_NAME.first(name)
        if row is None:
            raise NotFound(f"output not found: {name}", name=name)
        return to_record(row)

    @translate_db_errors
    def get_latest_by_name_in_run(self, task_id: str, attempt: int, name: str) -> OutputRecord:
        row = LATEST_IN_RUN.first(task_id, attempt, name)
        if row is None:
            raise NotFound(f"output not found: {task_id}/{attempt}/{name}", task_id=task_id, attempt=attempt,
                           name=name)
        return to_record(row)

    @translate_db_errors
    def list_for_attempt(self, task_id: str, attempt: int) -> list[OutputRecord]:
        return [to_record(row) for row in Output.objects.filter(task_id=task_id, attempt=attempt).order_by("id")]

    @translate_db_errors
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
        rows: QuerySet[Output] = Output.objects.all()
        if task_id is not None:
            rows = rows.filter(task_id=task_id)
        if attempt is not None:
            rows = rows.filter(attempt=attempt)
        if producer_agent is not None:
            rows = rows.filter(producer_agent=producer_agent)
        if kind is not None:
            rows = rows.filter(kind=OutputKind(kind).value)
        total = rows.count()
        items = [to_record(row) for row in rows.order_by("-id")[offset : offset + limit]]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @staticmethod
    def _prunable(before: datetime) -> QuerySet[Output]:
        # Only outputs nobody names as a parent: a kept child keeps its whole ancestry.
        return Output.objects.filter(created_at__lt=before).exclude(
            pk__in=OutputLink.objects.values("parent_id")
        )

    @translate_db_errors
    def prune_outputs(self, before: datetime, *, limit: int) -> int:
        def drop_own_edges(ids: list[int]) -> None:
            OutputLink.objects.filter(child_id__in=ids).delete()

        return delete_batch(self._prunable(before), limit, before_delete=drop_own_edges)

    @translate_db_errors
    def outputs_retention(self, before: datetime) -> TableRetention:
        return table_retention("outputs", Output, "created_at", self._prunable(before))

    @translate_db_errors
    def children_of(self, ref: OutputRef, *, offset: int = 0, limit: int = 100) -> Page[OutputRecord]:
        parent_id = Output.objects.filter(ref=ref).values_list("id", flat=True).first()
        if parent_id is None:
            raise NotFound(f"output not found: {ref}", ref=ref)
        rows = Output.objects.filter(parent_links__parent_id=parent_id)
        total = rows.count()
        items = [to_record(row) for row in rows.order_by("id")[offset : offset + limit]]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @translate_db_errors
    def wait_for_next(
        self, producer_agent: str, *, after_ref: OutputRef | None = None, timeout_s: float
    ) -> OutputRecord | None:
        if after_ref is not None:
            after = Output.objects.filter(ref=after_ref).values_list("id", flat=True).first()
            if after is None:
                raise NotFound(f"output not found: {after_ref}", ref=after_ref)
        else:
            after = Output.objects.filter(producer_agent=producer_agent).order_by("-id").values_list(
                "id", flat=True
            ).first() or 0

        def check() -> OutputRecord | None:
            row = Output.objects.filter(producer_agent=producer_agent, id__gt=after).order_by("id").first()
            return to_record(row) if row is not None else None

        return self._signal.wait(producer_agent, check, timeout_s=timeout_s, poll_s=self._poll_s)
