"""An output append is all or nothing: a failure injected between its writes leaves no trace.

The failure comes from the database itself (a trigger that aborts an INSERT), so the store's real
transaction handling is what is under test. Run on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.outputs import OrmOutputStore
from stores.errors import NotFound, StorageError
from stores.models import EventRecord, Output, OutputLink
from stores.output_types import Final, InlineContent, OutputDraft, Progress
from stores.outputs import ProducerSignal
from stores.types import Event

DONE = Final(content=InlineContent("done"), ok=True)


def _trigger_sql(table: str) -> tuple[list[str], list[str]]:
    if connection.vendor == "postgresql":
        create = [
            "CREATE OR REPLACE FUNCTION swarm_inject_failure() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER swarm_inject_failure BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION swarm_inject_failure()",
        ]
        drop = [
            f"DROP TRIGGER IF EXISTS swarm_inject_failure ON {table}",
            "DROP FUNCTION IF EXISTS swarm_inject_failure()",
        ]
    else:
        create = [
            f"CREATE TRIGGER swarm_inject_failure BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS swarm_inject_failure"]
    return create, drop


@pytest.fixture
def fail_inserts_into() -> Iterator[object]:
    """fail_inserts_into(Model): from now on every INSERT into Model's table fails in the database."""
    armed: list[list[str]] = []

    def arm(model: type) -> None:
        create, drop = _trigger_sql(model._meta.db_table)  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            for sql in create:
                cursor.execute(sql)
        armed.append(drop)

    yield arm
    # Transactional tests flush tables but keep triggers: always drop them.
    with connection.cursor() as cursor:
        for drop in armed:
            for sql in drop:
                cursor.execute(sql)


@pytest.fixture
def published() -> list[Event]:
    return []


@pytest.fixture
def store(transactional_db: None, published: list[Event]) -> OrmOutputStore:
    # transactional_db: the store's own transaction.atomic() is the real, outermost transaction.
    return OrmOutputStore(events=OrmEventLog(publisher=published.append), signal=ProducerSignal())


def assert_only_the_parent_is_visible(store: OrmOutputStore, parent_ref: str, published: list[Event]) -> None:
    assert list(Output.objects.values_list("ref", flat=True)) == [parent_ref]
    assert OutputLink.objects.count() == 0
    assert list(EventRecord.objects.values_list("subject_id", flat=True)) == [parent_ref]
    assert [e.subject_id for e in published] == [parent_ref]
    assert store.children_of(parent_ref).total == 0
    assert store.get_latest_by_name("writer").ref == parent_ref
    with pytest.raises(NotFound):
        store.get_latest_by_name("child-writer")
    assert store.list_for_attempt("t", 2) == []


@pytest.mark.parametrize("failing", [OutputLink, EventRecord], ids=["before-lineage-rows", "before-event-row"])
def test_append_failing_after_the_output_row_leaves_nothing_behind(
    store: OrmOutputStore, published: list[Event], fail_inserts_into: object, failing: type
) -> None:
    parent = store.append("t", 1, "writer", Progress(stage="parent"))
    fail_inserts_into(failing)  # type: ignore[operator]
    with pytest.raises(StorageError):
        store.append("t", 2, "child-writer", DONE, [parent.ref])
    assert_only_the_parent_is_visible(store, parent.ref, published)


@pytest.mark.parametrize("failing", [OutputLink, EventRecord], ids=["before-lineage-rows", "before-event-rows"])
def test_a_batch_append_failing_after_the_output_rows_leaves_nothing_behind(
    store: OrmOutputStore, published: list[Event], fail_inserts_into: object, failing: type
) -> None:
    parent = store.append("t", 1, "writer", Progress(stage="parent"))
    fail_inserts_into(failing)  # type: ignore[operator]
    drafts = [OutputDraft("t", 2, "child-writer", DONE, (parent.ref,)), OutputDraft("t", 2, "child-writer", DONE)]
    with pytest.raises(StorageError):
        store.append_many(drafts)
    assert_only_the_parent_is_visible(store, parent.ref, published)


def test_failed_append_does_not_wake_long_polls(store: OrmOutputStore, fail_inserts_into: object) -> None:
    parent = store.append("t", 1, "writer", Progress(stage="parent"))
    fail_inserts_into(EventRecord)  # type: ignore[operator]
    with pytest.raises(StorageError):
        store.append("t", 1, "writer", DONE, [parent.ref])
    assert store.wait_for_next("writer", after_ref=parent.ref, timeout_s=0) is None


def test_append_through_the_api_failing_midway_answers_an_error_and_leaves_nothing(
    transactional_db: None, fail_inserts_into: object
) -> None:
    from tests.conftest import token_client

    api: Client = token_client("agent")
    body = {"task_id": "t", "attempt": 1, "producer_agent": "writer", "event": {"type": "progress", "stage": "a"}}
    parent = api.post("/api/v1/outputs", body, content_type="application/json").json()["ref"]
    fail_inserts_into(OutputLink)  # type: ignore[operator]
    child = {**body, "attempt": 2, "producer_agent": "child-writer", "parent_refs": [parent]}
    response = api.post("/api/v1/outputs", child, content_type="application/json")
    assert response.status_code in {409, 503}
    assert response.json()["code"] in {"conflict", "backend_error"}
    assert list(Output.objects.values_list("ref", flat=True)) == [parent]
    assert api.get(f"/api/v1/outputs/{parent}/children").json()["total"] == 0
