"""On PostgreSQL an event with a lower id can commit after one with a higher id; readers never skip it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction

from stores.backends.orm.events import OrmEventLog

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="sequence ids commit out of order only on PostgreSQL"),
]

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_reader_never_passes_an_event_that_commits_late() -> None:
    log = OrmEventLog()
    appended, release = threading.Event(), threading.Event()
    late: dict[str, int] = {}

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                late["id"] = log.emit("test.late", "test", "x", {}, NOW).id or 0
                appended.set()
                release.wait(10)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert appended.wait(10)
    early = log.emit("test.early", "test", "x", {}, NOW).id or 0  # a higher id, committed first
    assert early > late["id"]

    seen: dict[str, list[int]] = {}

    def reader() -> None:
        try:
            seen["ids"] = [e.id or 0 for e in log.since(0, subject_type="test")]
            seen["latest"] = [log.latest_id()]
        finally:
            connections.close_all()

    read = threading.Thread(target=reader)
    read.start()
    read.join(0.5)
    assert read.is_alive()  # it waits for the append in flight instead of answering past it
    release.set()
    writer.join(10)
    read.join(10)
    assert seen["ids"] == [late["id"], early]
    assert seen["latest"] == [early]


def test_a_read_answers_at_once_when_no_append_is_in_flight() -> None:
    log = OrmEventLog()
    ids = [log.emit("test.one", "test", "y", {}, NOW).id for _ in range(3)]
    assert [e.id for e in log.since(0, subject_type="test")] == ids
    assert log.latest_id() == ids[-1]
