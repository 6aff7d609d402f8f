"""SQLite writers in one process queue on a lock (stores/sqlite_engine): concurrent writers all get
through without "database is locked", a failed transaction frees the lock at once, and a writer that
cannot get it in time is told the database is locked, as SQLite itself would."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from stores.models import Agent

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the writer lock is SQLite's"),
    pytest.mark.django_db(transaction=True),
]


def agent_row() -> Agent:
    now = timezone.now()
    return Agent.objects.create(id=uuid.uuid4(), registered_at=now, state_changed_at=now, last_heartbeat=now)


def in_thread(target: object) -> list[BaseException]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return errors


def test_concurrent_writers_all_get_through() -> None:
    rows = [agent_row() for _ in range(8)]
    errors: list[BaseException] = []

    def writer(row: Agent) -> None:
        try:
            for i in range(40):
                if i % 2:
                    Agent.objects.filter(pk=row.pk).update(name=f"beat-{i}")  # autocommit
                else:
                    with transaction.atomic():
                        Agent.objects.filter(pk=row.pk).update(name=f"beat-{i}")
                        Agent.objects.filter(pk=row.pk).first()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert set(Agent.objects.values_list("name", flat=True)) == {"beat-39"}


def test_a_failed_transaction_frees_the_writer_at_once() -> None:
    row = agent_row()

    def fails() -> None:
        with transaction.atomic():
            Agent.objects.filter(pk=row.pk).update(name="rolled back")
            raise RuntimeError("the write fails")

    assert [type(e) for e in in_thread(fails)] == [RuntimeError]
    started = time.monotonic()
    assert Agent.objects.filter(pk=row.pk).update(name="next") == 1
    assert time.monotonic() - started < 1.0
    assert Agent.objects.get(pk=row.pk).name == "next"


def test_a_writer_that_waits_too_long_hears_the_database_is_locked(settings: object) -> None:
    row = agent_row()
    holding, release = threading.Event(), threading.Event()

    def holds() -> None:
        with transaction.atomic():
            Agent.objects.filter(pk=row.pk).update(name="holder")
            holding.set()
            release.wait(10)

    def run() -> None:
        try:
            holds()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert holding.wait(10)
    try:
        connection.settings_dict["OPTIONS"]["timeout"] = 0.3
        with pytest.raises(OperationalError, match="database is locked"):
            Agent.objects.filter(pk=row.pk).update(name="too late")
    finally:
        connection.settings_dict["OPTIONS"]["timeout"] = 20
        release.set()
        thread.join(10)
    assert Agent.objects.get(pk=row.pk).name == "holder"


def test_a_write_returning_rows_is_committed_before_the_next_writer_goes() -> None:
    """An autocommit UPDATE ... RETURNING (the heartbeat) holds SQLite's write lock until its rows are
    read; the next writer, let in by the process lock, must not find the database still busy."""
    first, second = agent_row(), agent_row()
    returned: list[tuple[object, ...]] = []
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Agent._meta.db_table} SET name = %s WHERE id = %s RETURNING name",
                       ["returned", first.pk.hex])
        try:
            connection.settings_dict["OPTIONS"]["timeout"] = 0.3  # the other thread's connection is new
            errors = in_thread(lambda: Agent.objects.filter(pk=second.pk).update(name="next writer"))
        finally:
            connection.settings_dict["OPTIONS"]["timeout"] = 20
        returned.extend(cursor.fetchall())
    assert errors == []
    assert returned == [("returned",)]
    assert dict(Agent.objects.values_list("pk", "name")) == {first.pk: "returned", second.pk: "next writer"}
