"""OrmRuntimePersistence facts beyond the contract: how claims lock, auto-GC, GC that refuses to run
on an unreadable manifest, all-or-nothing commits under injected faults, and agent-expiry release."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.lifecycle import OrmLifecycleStore
from stores.backends.orm.persistence import OrmRuntimePersistence, OrmRuntimePersistenceFactory
from stores.models import EventRecord, PersistedSession, SessionBlob, SessionNode
from stores.persistence_types import Append, FullGraph, HydratedSessionCheckpoint, RuntimeCommit, SessionNodeRecord
from stores.queue_types import QueuedWorkBatchDraft, QueuedWorkClaimBoundary, QueuedWorkPayload
from swarmsite.expiry_hooks import release_claims_of_expired_agents

pytestmark = pytest.mark.django_db
IDLE = QueuedWorkClaimBoundary.IDLE


@pytest.fixture
def factory() -> OrmRuntimePersistenceFactory:
    return OrmRuntimePersistenceFactory(events=OrmEventLog())


def commit(session_id: str, n: int, **kwargs: object) -> RuntimeCommit:
    return RuntimeCommit(
        session_id,
        graph=Append((SessionNodeRecord(f"node-{n}"),), f"node-{n}"),
        checkpoint=HydratedSessionCheckpoint(turn_state={"n": n}, tool_state=f"tools-{n}".encode()),
        **kwargs,  # type: ignore[arg-type]
    )


def enqueue(store: OrmRuntimePersistence, text: str = "work") -> None:
    store.enqueue_queued_work(QueuedWorkBatchDraft(store.session_id, (QueuedWorkPayload.turn_input(text),)))


def test_claim_picks_rows_with_skip_locked_only_where_the_database_has_it(
    factory: OrmRuntimePersistenceFactory,
) -> None:
    store = factory.open("s")
    enqueue(store)
    with CaptureQueriesContext(connection) as queries:
        assert store.claim_ready_queued_work("s", "a", IDLE, 60_000, 1) is not None
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert ("SKIP LOCKED" in sql) == (connection.vendor == "postgresql")
    assert "UPDATE" in sql  # the conditional UPDATE with a row count is the guard on every database


def test_gc_runs_every_n_commits_when_configured(db: None) -> None:
    store = OrmRuntimePersistenceFactory(events=OrmEventLog(), gc_every_commits=2).open("s")
    store.commit_runtime_state(commit("s", 1))
    assert SessionBlob.objects.filter(session_id="s").count() == 2  # manifest + tool state
    store.commit_runtime_state(commit("s", 2))
    assert SessionBlob.objects.filter(session_id="s").count() == 2  # revision 2 swept revision 1's blobs


def test_gc_with_an_unreadable_live_manifest_deletes_nothing(factory: OrmRuntimePersistenceFactory) -> None:
    store = factory.open("s")
    store.commit_runtime_state(commit("s", 1))
    head = store.commit_runtime_state(commit("s", 2))
    SessionBlob.objects.filter(session_id="s", ref=head.checkpoint_ref).update(data=b"not json")
    report = store.gc_unreachable()
    assert report.aborted is not None and report.deleted_blob_count == 0
    assert SessionBlob.objects.filter(session_id="s").count() == 4


def test_a_fault_late_in_a_commit_leaves_no_partial_state(
    factory: OrmRuntimePersistenceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = factory.open("s")
    enqueue(store)
    claim = store.claim_ready_queued_work("s", "a", IDLE, 60_000, 1)
    assert claim is not None

    def crash(*args: object) -> None:
        raise RuntimeError("injected fault after the graph, blobs and head were written")

    monkeypatch.setattr(OrmRuntimePersistence, "_stamp_attachments", crash)
    with pytest.raises(RuntimeError):
        store.commit_runtime_state(commit("s", 1).completing_queue_claim(claim.completion()).with_turn_commit("t1"))
    assert not PersistedSession.objects.filter(pk="s", head_revision__isnull=False).exists()
    assert not SessionNode.objects.filter(session_id="s").exists()
    assert not SessionBlob.objects.filter(session_id="s").exists()
    assert store.list_queued_work("s")[0].claim is not None
    assert not EventRecord.objects.filter(kind__in=["session.head_committed", "queue.completed"]).exists()
    monkeypatch.undo()
    assert store.commit_runtime_state(commit("s", 1).completing_queue_claim(claim.completion())).head_revision == 1
    assert store.load_session(FullGraph()) is not None and store.list_queued_work("s") == []


def test_agent_expiry_releases_the_inbox_claims_it_held(settings: object) -> None:
    settings.SWARM_BACKENDS = {  # type: ignore[attr-defined]
        **settings.SWARM_BACKENDS,  # type: ignore[attr-defined]
        "runtime_persistence": "stores.backends.orm.persistence.OrmRuntimePersistenceFactory",
    }
    lifecycle = OrmLifecycleStore(events=OrmEventLog(), ttl_s=30, expiry_hooks=[release_claims_of_expired_agents])
    from swarmsite.composition import runtime_persistence

    store = runtime_persistence().open("inbox")
    enqueue(store, "one")
    dead, alive = uuid4(), uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(dead)
        held = store.claim_ready_queued_work("inbox", str(dead), IDLE, 600_000, 1)
        enqueue(store, "two")
        kept = store.claim_ready_queued_work("inbox", str(alive), IDLE, 600_000, 1)
    assert held is not None and kept is not None
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert [r.agent_id for r in lifecycle.expire_silent()] == [dead]
        assert [b.batch_id for b in store.list_pending_queued_work("inbox")] == held.batch_ids
    released = EventRecord.objects.get(kind="queue.abandoned")
    assert released.payload["owner_id"] == str(dead) and released.payload["reason"] == "owner expired"
