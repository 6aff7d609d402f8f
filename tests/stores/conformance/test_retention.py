"""Retention conformance: every store prunes its own growing rows by age, in bounded batches, and keeps
what lineage, idempotency and resumes need; run against every backend, travelling in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import time_machine

from identities.contracts import IdentityRegistry
from identities.types import AuditRecord, DurableAgentSpec, IdentityState, StaleWriteRecord
from stores.contracts import EventSink, LifecycleStore, OutputStore, PruneLedger, RuntimePersistenceFactory
from stores.output_types import Final, InlineContent
from stores.queue_types import BatchOutcome, QueuedWorkBatchDraft, QueuedWorkClaimBoundary, QueuedWorkPayload
from stores.retention_types import PruneRun
from stores.types import AgentState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def test_prune_events_removes_old_events_in_batches_and_raises_the_watermark(output_events: EventSink) -> None:
    log = output_events
    old = [log.emit("agent.online", "agent", f"a{i}", {}, T0) for i in range(5)]
    recent = log.emit("agent.online", "agent", "fresh", {}, T0 + WEEK)
    cutoff = T0 + timedelta(days=1)
    assert log.events_retention(cutoff).prunable == 5
    assert log.pruned_through() == 0

    assert log.prune_events(cutoff, limit=2) == 2
    assert log.pruned_through() == old[1].id
    assert log.prune_events(cutoff, limit=10) == 3
    assert log.prune_events(cutoff, limit=10) == 0

    assert [e.id for e in log.since(0)] == [recent.id]
    assert log.pruned_through() == old[-1].id
    report = log.events_retention(cutoff)
    assert (report.rows, report.prunable, report.oldest) == (1, 0, T0 + WEEK)


def test_prune_agents_keeps_online_agents_however_old(lifecycle: LifecycleStore) -> None:
    online, offline, expired, recent = uuid4(), uuid4(), uuid4(), uuid4()
    with at(T0):
        for agent in (online, offline, expired):
            lifecycle.register(agent)
        lifecycle.deregister(offline)
    with at(T0 + timedelta(seconds=20)):
        lifecycle.heartbeat(online)
    with at(T0 + timedelta(seconds=40)):
        assert [r.agent_id for r in lifecycle.expire_silent()] == [expired]
    with at(T0 + WEEK):
        lifecycle.register(recent)
        lifecycle.deregister(recent)
    with at(T0 + WEEK + timedelta(days=1)):
        cutoff = T0 + WEEK
        assert lifecycle.agents_retention(cutoff).prunable == 2
        assert lifecycle.prune_agents(cutoff, limit=1) == 1
        assert lifecycle.prune_agents(cutoff, limit=100) == 1
        assert lifecycle.prune_agents(cutoff, limit=100) == 0
        remaining = {r.agent_id for r in lifecycle.list_agents(limit=10).items}
    # The online one is expired by now (silent for a week) but was never persisted so: kept.
    assert remaining == {online, recent}
    assert lifecycle.count_by_state()[AgentState.OFFLINE] == 1


def _final(outputs: OutputStore, producer: str, parents: tuple[str, ...] = ()) -> str:
    record = outputs.append("task", 0, producer, Final(InlineContent("x"), True), parents)
    return record.ref


def test_prune_outputs_never_removes_a_parent_a_kept_output_names(outputs: OutputStore) -> None:
    with at(T0):
        root = _final(outputs, "p")
        middle = _final(outputs, "p", (root,))
        lone = _final(outputs, "p")
        old_chain_top = _final(outputs, "q")
        old_chain_leaf = _final(outputs, "q", (old_chain_top,))
    assert {r.ref for r in outputs.children_of(old_chain_top).items} == {old_chain_leaf}
    with at(T0 + WEEK):
        kept_child = _final(outputs, "p", (middle,))
    cutoff = T0 + timedelta(days=1)
    assert outputs.outputs_retention(cutoff).prunable == 2  # lone and old_chain_leaf: nobody's parent
    removed = 0
    while (n := outputs.prune_outputs(cutoff, limit=1)) > 0:
        removed += n
    assert removed == 3  # lone, then the old chain leaf first, then its parent
    left = {r.ref for r in outputs.list_outputs(limit=50).items}
    assert left == {root, middle, kept_child} and lone not in left
    assert [c.ref for c in outputs.children_of(middle).items] == [kept_child]
    assert outputs.get(kept_child).parent_refs == (middle,)
    after = _final(outputs, "p", (root,))
    assert outputs.get(after).seq > outputs.get(kept_child).seq


def _finished_keyed_batch(factory: RuntimePersistenceFactory, session: str, key: str) -> str:
    store = factory.open(session)
    batch = store.enqueue_queued_work(
        QueuedWorkBatchDraft(session, (QueuedWorkPayload.turn_input({"text": key}),), key)
    )
    claim = store.claim_ready_queued_work(session, "agent", QueuedWorkClaimBoundary.IDLE, 60_000, 1)
    assert claim is not None
    store.complete_queued_work([claim.completion()])
    return batch.batch_id


def test_prune_finished_work_keeps_open_batches_and_young_idempotency_records(
    persistence_factory: RuntimePersistenceFactory,
) -> None:
    with at(T0):
        old = _finished_keyed_batch(persistence_factory, "s", "send:old")
        inbox = persistence_factory.open("open")
        pending = inbox.enqueue_queued_work(QueuedWorkBatchDraft("open", (QueuedWorkPayload.turn_input("x"),), "k"))
    with at(T0 + WEEK):
        young = _finished_keyed_batch(persistence_factory, "s", "send:young")
    with at(T0 + WEEK + timedelta(days=1)):
        cutoff = T0 + timedelta(days=1)
        assert persistence_factory.finished_work_retention(cutoff).prunable == 1
        assert persistence_factory.prune_finished_work(cutoff, limit=100) == 1
        store = persistence_factory.open("s")
        # The young record still answers a retried send; the open batch is untouched.
        retry = QueuedWorkBatchDraft("s", (QueuedWorkPayload.turn_input("y"),), "send:young")
        replay = store.enqueue_queued_work(retry)
        assert (replay.batch_id, replay.outcome) == (young, BatchOutcome.COMPLETED)
        assert [b.batch_id for b in persistence_factory.open("open").list_pending_queued_work("open")] == [
            pending.batch_id
        ]
        # The pruned key's window is over: the same key queues as new work.
        again = store.enqueue_queued_work(QueuedWorkBatchDraft("s", (QueuedWorkPayload.turn_input("z"),), "send:old"))
        assert again.batch_id != old and again.outcome is None


def _registry_with(registry: IdentityRegistry, name: str) -> None:
    registry.create(DurableAgentSpec(identity=name, profile="p"), IdentityState.ACTIVE, T0)


def test_prune_audit_and_rejections_by_age_and_unknown_identities(identity_registry: IdentityRegistry) -> None:
    registry = identity_registry
    _registry_with(registry, "alpha")
    registry.record_audit(AuditRecord("ops", "respawn", "alpha", "", True, {}, T0))
    registry.record_audit(AuditRecord("ops", "retire", "alpha", "", True, {}, T0 + WEEK))
    registry.record_rejection(StaleWriteRecord("alpha", None, 1, 2, "checkpoint", T0))
    registry.record_rejection(StaleWriteRecord("alpha", None, 1, 2, "checkpoint", T0 + WEEK))
    registry.record_rejection(StaleWriteRecord("nobody", None, 1, None, "checkpoint", T0 + WEEK))
    cutoff = T0 + timedelta(days=1)

    assert registry.audit_retention(cutoff).prunable == 1
    assert registry.prune_audit(cutoff, limit=10) == 1
    assert [a.action for a in registry.list_audit().items] == ["retire"]

    assert registry.rejections_retention(cutoff).prunable == 2  # the old one, and the unknown identity's
    assert registry.prune_rejections(cutoff, limit=10) == 2
    kept = registry.list_rejections().items
    assert [(r.identity, r.created_at) for r in kept] == [("alpha", T0 + WEEK)]


def test_prune_ledger_lets_one_caller_run_a_due_job(prune_ledger: PruneLedger) -> None:
    assert prune_ledger.next_due("prune") is None
    assert prune_ledger.claim_due("prune", T0, 60) is True
    assert prune_ledger.claim_due("prune", T0 + timedelta(seconds=30), 60) is False
    assert prune_ledger.claim_due("prune", T0 + timedelta(seconds=61), 60) is True
    prune_ledger.reschedule("prune", T0 + timedelta(hours=1))
    assert prune_ledger.claim_due("prune", T0 + timedelta(minutes=30), 60) is False
    assert prune_ledger.next_due("prune") == T0 + timedelta(hours=1)
    assert prune_ledger.claim_due("upkeep", T0, 60) is True  # jobs are independent

    first = PruneRun(T0, T0, {"events": 3})
    second = PruneRun(T0 + WEEK, T0 + WEEK, {"events": 0}, complete=False)
    prune_ledger.record_run(first)
    prune_ledger.record_run(second)
    assert prune_ledger.recent_runs(limit=5) == [second, first]


def test_rejections_are_listed_newest_first_by_identity_and_time_range(identity_registry: IdentityRegistry) -> None:
    registry = identity_registry
    for day, name in ((0, "alpha"), (1, "beta"), (2, "alpha"), (3, "alpha")):
        registry.record_rejection(StaleWriteRecord(name, None, 1, 2, f"write-{day}", T0 + timedelta(days=day)))
    ops = lambda page: [r.operation for r in page.items]  # noqa: E731
    assert ops(registry.list_rejections()) == ["write-3", "write-2", "write-1", "write-0"]
    assert ops(registry.list_rejections(identity="alpha", since=T0 + timedelta(days=2))) == ["write-3", "write-2"]
    window = registry.list_rejections(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))  # until: exclusive
    assert ops(window) == ["write-2", "write-1"] and window.total == 2
    assert registry.list_rejections(identity="beta", until=T0 + timedelta(days=1)).total == 0
