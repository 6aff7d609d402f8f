"""The event log contract's in-memory backend, group naming and the kinds we emit."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stores.types import Event

DASHBOARD_GROUP = "swarm.dashboard"

Publisher = Callable[[Event], None]
# Called with each durable event as it is appended, in the write's transaction (the metrics rollup).
AppendHook = Callable[[Event], None]


def subject_group(subject_type: str, subject_id: str) -> str:
    """A channel group name for one subject; Channels allows only [A-Za-z0-9-_.] and < 100 chars."""
    digest = hashlib.sha256(subject_id.encode()).hexdigest()[:40]
    return f"swarm.{subject_type}.{digest}"


def event_groups(event: Event) -> list[str]:
    return [DASHBOARD_GROUP, subject_group(event.subject_type, event.subject_id)]


class InMemoryEventLog:
    """An ephemeral event log for tests and embedding; publishes at once (there is no transaction)."""

    def __init__(self, publisher: Publisher | None = None, on_append: AppendHook | None = None) -> None:
        self._on_append = on_append
        self._events: list[Event] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._publisher = publisher

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
        with self._lock:
            event = Event(
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                payload=dict(payload),
                created_at=now,
                id=next(self._ids) if durable else None,
            )
            if durable:
                self._events.append(event)
        if durable and self._on_append is not None:
            self._on_append(event)
        if self._publisher is not None:
            self._publisher(event)
        return event

    def _matching(self, subject_type: str | None, subject_id: str | None) -> list[Event]:
        return [
            e
            for e in self._events
            if (subject_type is None or e.subject_type == subject_type)
            and (subject_id is None or e.subject_id == subject_id)
        ]

    def since(
        self, after_id: int, *, limit: int = 500, subject_type: str | None = None, subject_id: str | None = None
    ) -> list[Event]:
        with self._lock:
            return [e for e in self._matching(subject_type, subject_id) if (e.id or 0) > after_id][:limit]

    def recent(self, *, limit: int = 50, subject_type: str | None = None, subject_id: str | None = None) -> list[Event]:
        with self._lock:
            return list(reversed(self._matching(subject_type, subject_id)))[:limit]

    def latest_id(self) -> int:
        with self._lock:
            return self._events[-1].id or 0 if self._events else 0
