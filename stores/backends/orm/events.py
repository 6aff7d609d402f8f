"""OrmEventLog: events appended in the caller's transaction and published after it commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models.functions import Greatest, Now

from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.events import AppendHook, BatchAppendHook, BatchPublisher, Publisher
from stores.models import EventLogWatermark, EventRecord
from stores.retention_types import TableRetention
from stores.types import Event, EventDraft


def to_event(row: EventRecord) -> Event:
    return Event(
        id=row.id,
        kind=row.kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        payload=row.payload,
        created_at=row.created_at,
    )


class OrmEventLog:
    def __init__(
        self, publisher: Publisher | None = None, on_append: AppendHook | None = None,
        on_append_many: BatchAppendHook | None = None, batch_publisher: BatchPublisher | None = None,
    ) -> None:
        self._publisher = publisher
        self._batch_publisher = batch_publisher
        self._on_append = on_append
        self._on_append_many = on_append_many

    def emit(
        self,
        kind: str,
        subject_type: str,
        subject_id: str,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        durable: bool = True,
    ) -> Event:
        if durable:
            with transaction.atomic(savepoint=False):  # the append lock below lives until the caller's commit
                _hold_append_lock()
                row = EventRecord.objects.create(
                    kind=kind, subject_type=subject_type, subject_id=subject_id, payload=dict(payload), created_at=now
                )
            event = to_event(row)
            if self._on_append is not None:
                self._on_append(event)
        else:
            event = Event(kind, subject_type, subject_id, dict(payload), now)
        publisher = self._publisher
        if publisher is not None:
            # Never publish what a rollback could take back.
            transaction.on_commit(lambda: publisher(event))
        return event

    def emit_many(self, drafts: Sequence[EventDraft], now: datetime) -> list[Event]:
        """One lock statement and one multi-row INSERT for every durable draft (ids come back from it on
        both databases), then the batch hook once; everything is published after commit, in order."""
        durable = [d for d in drafts if d.durable]
        rows: list[EventRecord] = []
        if durable:
            with transaction.atomic():
                _hold_append_lock()
                rows = EventRecord.objects.bulk_create([
                    EventRecord(kind=d.kind, subject_type=d.subject_type, subject_id=d.subject_id,
                                payload=dict(d.payload), created_at=now)
                    for d in durable
                ])
        stored = iter(rows)
        events = [to_event(next(stored)) if d.durable else Event(d.kind, d.subject_type, d.subject_id,
                                                                  dict(d.payload), now) for d in drafts]
        appended = [e for e in events if e.id is not None]
        if appended and self._on_append_many is not None:
            self._on_append_many(appended)
        elif self._on_append is not None:
            for event in appended:
                self._on_append(event)
        batch_publisher, publisher = self._batch_publisher, self._publisher
        if batch_publisher is not None and events:
            transaction.on_commit(lambda: batch_publisher(events))
        elif publisher is not None and events:

            def publish_all() -> None:
                for event in events:
                    publisher(event)

            transaction.on_commit(publish_all)
        return events

    def _filtered(self, subject_type: str | None, subject_id: str | None) -> Any:
        rows = EventRecord.objects.all()
        if subject_type is not None:
            rows = rows.filter(subject_type=subject_type)
        if subject_id is not None:
            rows = rows.filter(subject_id=subject_id)
        return rows

    def since(
        self, after_id: int, *, limit: int = 500, subject_type: str | None = None, subject_id: str | None = None
    ) -> list[Event]:
        rows = self._filtered(subject_type, subject_id).filter(id__gt=after_id)
        horizon = committed_horizon()
        if horizon is not None:
            rows = rows.filter(id__lte=horizon)
        return [to_event(r) for r in rows.order_by("id")[:limit]]

    def recent(self, *, limit: int = 50, subject_type: str | None = None, subject_id: str | None = None) -> list[Event]:
        rows = self._filtered(subject_type, subject_id).order_by("-id")[:limit]
        return [to_event(r) for r in rows]

    def latest_id(self) -> int:
        """The newest id a reader may resume after without skipping anything (see committed_horizon)."""
        rows = EventRecord.objects.all()
        horizon = committed_horizon()
        if horizon is not None:
            rows = rows.filter(id__lte=horizon)
        last = rows.order_by("-id").values_list("id", flat=True).first()
        return last or 0

    @translate_db_errors
    def prune_events(self, before: datetime, *, limit: int) -> int:
        def raise_watermark(ids: list[int]) -> None:
            # In the deleting transaction: a resume can never see the gap before the watermark does.
            EventLogWatermark.objects.get_or_create(pk=1)
            EventLogWatermark.objects.filter(pk=1).update(
                pruned_through=Greatest("pruned_through", max(ids)), updated_at=Now()
            )

        return delete_batch(EventRecord.objects.filter(created_at__lt=before), limit, before_delete=raise_watermark)

    @translate_db_errors
    def pruned_through(self) -> int:
        mark = EventLogWatermark.objects.filter(pk=1).values_list("pruned_through", flat=True).first()
        return mark or 0

    @translate_db_errors
    def events_retention(self, before: datetime) -> TableRetention:
        return table_retention("events", EventRecord, "created_at", EventRecord.objects.filter(created_at__lt=before))

# Gapless reading on PostgreSQL. Event ids come from a sequence, which hands out ids in the order
# appends *start*, not the order their transactions *commit*: id 11 can become visible after id 12,
# and a reader that resumes "after 12" would skip 11 for good. We read only below the horizon of
# appends still in flight, made visible with an advisory lock:
# - every append takes a *shared* transaction-level advisory lock before drawing its id and holds
#   it until its transaction ends (appends never wait for each other);
# - a reader takes the same lock *exclusively* for an instant (it waits only for the appends in
#   flight to commit or roll back), reads the sequence's last value h and lets go. Every id <= h was
#   drawn by an append that has now ended, and every later append draws an id > h, so the rows with
#   id <= h are final: the reader returns only those. Nothing is skipped, and cursors stay plain ids.
# SQLite runs one write transaction at a time and draws the id inside it, so ids commit in order there.
APPEND_LOCK_KEY = 0x5357_4556  # "SWEV": the event log's advisory lock (one 64-bit key)


def _hold_append_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [APPEND_LOCK_KEY])


def committed_horizon() -> int | None:
    """The highest event id below which every append has ended (PostgreSQL), or None (no limit)."""
    if connection.vendor != "postgresql":
        return None
    table = EventRecord._meta.db_table
    # A session-level lock, released at once even inside a caller's transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [APPEND_LOCK_KEY])
        try:
            cursor.execute(
                f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {_sequence(cursor, table)}"
            )
            return int(cursor.fetchone()[0])
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [APPEND_LOCK_KEY])


_sequences: dict[str, str] = {}


def _sequence(cursor: Any, table: str) -> str:
    if table not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        _sequences[table] = cursor.fetchone()[0]
    return _sequences[table]
