"""The ORM event log: written in the caller's transaction, published only after it commits."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from stores.backends.orm.events import OrmEventLog
from stores.types import Event, EventDraft

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_are_published_after_commit_and_never_after_rollback() -> None:
    published: list[Event] = []
    log = OrmEventLog(publisher=published.append)
    with transaction.atomic():
        log.emit("agent.online", "agent", "a", {"n": 1}, timezone.now())
        assert published == []
    assert [e.kind for e in published] == ["agent.online"]

    with pytest.raises(RuntimeError), transaction.atomic():
        log.emit("agent.offline", "agent", "a", {}, timezone.now())
        raise RuntimeError("fault injected after the event was written")
    assert [e.kind for e in published] == ["agent.online"]
    assert [e.kind for e in log.since(0)] == ["agent.online"]


def test_live_only_events_are_published_but_not_logged() -> None:
    published: list[Event] = []
    log = OrmEventLog(publisher=published.append)
    log.emit("agent.heartbeat", "agent", "a", {}, timezone.now(), durable=False)
    assert published[0].id is None
    assert log.since(0) == [] and log.latest_id() == 0


def test_since_filters_by_subject_and_pages_in_id_order() -> None:
    log = OrmEventLog()
    now = timezone.now()
    ids = [log.emit("agent.online", "agent", name, {}, now).id for name in ("a", "b", "a", "a")]
    assert [e.id for e in log.since(0, subject_type="agent", subject_id="a")] == [ids[0], ids[2], ids[3]]
    assert [e.id for e in log.since(ids[0], limit=2)] == ids[1:3]
    assert [e.id for e in log.recent(limit=2)] == [ids[3], ids[2]]


def test_events_appended_together_get_ids_in_order_and_are_published_after_commit_only() -> None:
    published: list[Event] = []
    log = OrmEventLog(publisher=published.append)
    drafts = [EventDraft("agent.heartbeat", "agent", "a", {}, durable=False),
              EventDraft("queue.claimed", "session", "s", {"n": 1}),
              EventDraft("queue.claimed", "session", "s", {"n": 2})]
    with transaction.atomic():
        events = log.emit_many(drafts, timezone.now())
        assert published == []
    assert events[0].id is None and events[1].id is not None and events[2].id == events[1].id + 1
    assert [e.payload.get("n") for e in published] == [None, 1, 2]
    assert [e.id for e in log.since(0)] == [events[1].id, events[2].id]

    with pytest.raises(RuntimeError), transaction.atomic():
        log.emit_many(drafts[1:], timezone.now())
        raise RuntimeError("fault injected after the events were written")
    assert len(published) == 3 and len(log.since(0)) == 2
