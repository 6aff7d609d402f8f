"""The event log contract's in-memory backend, group naming and the kinds we emit."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stores.errors import EventsPruned
from stores.retention_types import TableRetention
from stores.types import Event, EventDraft

if TYPE_CHECKING:
    from stores.contracts import EventSink

DASHBOARD_GROUP = "swarm.dashboard"

Publisher = Callable[[Event], None]
# Publishes the events of one batch write together, in order.
BatchPublisher = Callable[[Sequence[Event]], None]
# Called with each durable event as it is appended, in the write's transaction (the metrics rollup).
AppendHook = Callable[[Event], None]
# The same for a batch of durable events appended together (EventSink.emit_many): one call, so the
# rollup writes each bucket once however many events the batch holds.
BatchAppendHook = Callable[[Sequence[Event]], None]


def subject_group(subject_type: str, subject_id: str) -> str:
    """A channel group name for one subject; Channels allows only [A-Za-z0-9-_.] and < 100 chars."""
    digest = hashlib.sha256(subject_id.encode()).hexdigest()[:40]
    return f"swarm.{subject_type}.{digest}"


def resume_gap(pruned_through: int, after_id: int) -> int | None:
    """The pruned watermark when resuming after `after_id` would skip pruned events, else None.
    0 means "from the start" (all that is kept), not a resume, so it has no gap."""
    return pruned_through if 0 < after_id < pruned_through else None


def check_resume(log: EventSink, after_id: int) -> None:
    """Raise EventsPruned for a resume from before the pruned watermark."""
    gap = resume_gap(log.pruned_through(), after_id)
    if gap is not None:
        raise EventsPruned(
            f"events after #{after_id} up to #{gap} were pruned: resync, then resume after {gap}",
            after=after_id, pruned_through=gap,
        )


# The subjects a websocket can follow on its own (swarmsite/live/identity_stream.py); events of the
# others go to the dashboard group only, since nobody could be listening in their subject's group.
FOLLOWED_SUBJECTS = frozenset({"identity"})


def event_groups(event: Event) -> list[str]:
    if event.subject_type in FOLLOWED_SUBJECTS:
        return [DASHBOARD_GROUP, subject_group(event.subject_type, event.subject_id)]
    return [DASHBOARD_GROUP]


class InMemoryEventLog:
    """An ephemeral event log for tests and embedding; publishes at once (there is no transaction)."""

    def __init__(
        self, publisher: Publisher | None = None, on_append: AppendHook | None = None,
        on_append_many: BatchAppendHook | None = None,
    ) -> None:
        self._on_append = on_append
        self._on_append_many = on_append_many
        self._events: list[Event] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._publisher = publisher
        self._pruned_through = 0

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

    def emit_many(self, drafts: Sequence[EventDraft], now: datetime) -> list[Event]:
        with self._lock:
            events = [
                Event(d.kind, d.subject_type, d.subject_id, dict(d.payload), now,
                      next(self._ids) if d.durable else None)
                for d in drafts
            ]
            self._events.extend(e for e in events if e.id is not None)
        durable = [e for e in events if e.id is not None]
        if durable and self._on_append_many is not None:
            self._on_append_many(durable)
        elif self._on_append is not None:
            for event in durable:
                self._on_append(event)
        if self._publisher is not None:
            for event in events:
                self._publisher(event)
        return events

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

    def prune_events(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            doomed = [e for e in self._events if e.created_at < before][: max(limit, 0)]
            if not doomed:
                return 0
            ids = {e.id for e in doomed}
            self._events = [e for e in self._events if e.id not in ids]
            self._pruned_through = max(self._pruned_through, max(e.id or 0 for e in doomed))
            return len(doomed)

    def pruned_through(self) -> int:
        with self._lock:
            return self._pruned_through

    def events_retention(self, before: datetime) -> TableRetention:
        with self._lock:
            return TableRetention(
                table="events",
                rows=len(self._events),
                size_bytes=None,
                oldest=min((e.created_at for e in self._events), default=None),
                prunable=sum(1 for e in self._events if e.created_at < before),
            )
