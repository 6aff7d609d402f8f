"""OrmEventLog: events appended in the caller's transaction and published after it commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from stores.events import AppendHook, Publisher
from stores.models import EventRecord
from stores.types import Event


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
    def __init__(self, publisher: Publisher | None = None, on_append: AppendHook | None = None) -> None:
        self._publisher = publisher
        self._on_append = on_append

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
        rows = self._filtered(subject_type, subject_id).filter(id__gt=after_id).order_by("id")[:limit]
        return [to_event(r) for r in rows]

    def recent(self, *, limit: int = 50, subject_type: str | None = None, subject_id: str | None = None) -> list[Event]:
        rows = self._filtered(subject_type, subject_id).order_by("-id")[:limit]
        return [to_event(r) for r in rows]

    def latest_id(self) -> int:
        last = EventRecord.objects.order_by("-id").values_list("id", flat=True).first()
        return last or 0
