"""Retention as configured: the composed policies prune every table by its window (travelling in time),
keep what lineage and idempotency need, run once per interval across processes, and print per table."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from identities.types import DurableAgentSpec
from stores.output_types import Final, InlineContent
from swarmsite import composition, retention

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def final(producer: str, parents: tuple[str, ...] = ()) -> str:
    return composition.output_store().append("t", 0, producer, Final(InlineContent("x"), True), parents).ref


def fill_swarm() -> dict[str, Any]:
    """A small swarm's history: an identity with a lease and a delivered (keyed) send, an agent that
    went offline, outputs with lineage, a stale-write rejection and one for an identity that is not."""
    runtime = composition.identity_runtime()
    runtime.create_identity(DurableAgentSpec(identity="alpha", profile="worker"))
    agent, gone = uuid.uuid4(), uuid.uuid4()
    composition.lifecycle_store().register(agent)
    composition.lifecycle_store().register(gone)
    composition.lifecycle_store().deregister(gone)
    runtime.acquire_lease("alpha", agent)
    delivery = runtime.send("alpha", {"text": "hi"}, idempotency_key="k-1")
    parent = final("alpha")
    return {"agent": agent, "gone": gone, "delivery": delivery, "parent": parent}


def finish_inbox(session_id: uuid.UUID) -> None:
    store = composition.runtime_persistence().open(str(session_id))
    from stores.queue_types import QueuedWorkClaimBoundary

    claim = store.claim_ready_queued_work(str(session_id), "w", QueuedWorkClaimBoundary.IDLE, 60_000, 10)
    assert claim is not None
    store.complete_queued_work([claim.completion()])


def tables(now: datetime) -> dict[str, Any]:
    return {r.stats.table: r.stats for r in retention.report(now)}


def test_prune_removes_each_table_by_its_window_and_keeps_lineage_and_idempotency(settings: Any) -> None:
    settings.SWARM_RETENTION_OUTPUTS_DAYS = 30
    settings.SWARM_RETENTION_IDEMPOTENCY_DAYS = 10  # longer than the queue's 7 days: it wins
    registry = composition.identity_registry()
    from identities.types import AuditRecord, StaleWriteRecord

    with at(T0):
        old = fill_swarm()
        finish_inbox(old["delivery"].session_id)
        lone = final("beta")
        registry.record_audit(AuditRecord("ops", "respawn", "alpha", "", True, {}, T0))
        registry.record_rejection(StaleWriteRecord("alpha", None, 1, 2, "checkpoint", T0))
    with at(T0 + 80 * DAY):
        child = final("alpha", (old["parent"],))  # keeps its parent, however old
        registry.record_rejection(StaleWriteRecord("ghost", None, 1, None, "checkpoint", T0 + 80 * DAY))

    with at(T0 + 8 * DAY):  # past the queue's 7 days, inside the 10-day idempotency window
        run = retention.prune()
        assert run.removed["queued work"] == 0
        assert run.removed["events"] > 0
        assert run.removed["rejections"] == 1  # the unknown identity's, whatever its age
        assert old["gone"] not in {a.agent_id for a in composition.lifecycle_store().list_agents(limit=10).items}
    with at(T0 + 11 * DAY):
        assert retention.prune().removed["queued work"] == 1
    with at(T0 + 100 * DAY):
        before = composition.event_log().latest_id()
        run = retention.prune()
        now_tables = tables(T0 + 100 * DAY)

    assert run.removed["audit"] == 2  # the send (audited) and the respawn, both 100 days old
    assert run.removed["rejections"] == 1  # alpha's, now past 90 days
    assert run.removed["outputs"] == 1  # the lone old output; the parent of the kept child stays
    outputs = composition.output_store()
    assert {o.ref for o in outputs.list_outputs(limit=10).items} == {old["parent"], child}
    assert outputs.get(child).parent_refs == (old["parent"],)
    assert lone not in {o.ref for o in outputs.list_outputs(limit=10).items}
    assert composition.event_log().pruned_through() == before  # every event was older than 7 days
    assert now_tables["events"].rows == 0 and now_tables["events"].prunable == 0


def test_dry_run_counts_what_prune_removes_and_deletes_nothing() -> None:
    with at(T0):
        fill_swarm()
    with at(T0 + 8 * DAY):
        out = StringIO()
        call_command("prune", "--dry-run", stdout=out)
        events_before = composition.event_log().events_retention(T0 + DAY).rows
        text = out.getvalue()
        assert "events" in text and "would delete" in text and re.search(r"^agents +would delete 1$", text, re.M)
        assert composition.event_log().events_retention(T0 + DAY).rows == events_before
        call_command("prune", stdout=(done := StringIO()))
    assert re.search(rf"^events +deleted {events_before}$", done.getvalue(), re.M)
    assert "outputs" not in done.getvalue()  # off by default


def test_prune_runs_in_bounded_batches_and_stops_at_its_budget() -> None:
    with at(T0):
        fill_swarm()
        events = composition.event_log().events_retention(T0 + DAY).rows
    with at(T0 + 8 * DAY):
        partial = retention.prune(batch=2, budget_s=0)
        assert partial.complete is False and sum(partial.removed.values()) == 0
        run = retention.prune(batch=2)
    assert run.complete and run.removed["events"] == events


def test_prune_if_due_runs_once_per_interval_across_processes(settings: Any) -> None:
    settings.SWARM_RETENTION_INTERVAL_S = 3600
    with at(T0):
        fill_swarm()
    with at(T0 + 8 * DAY):
        first = retention.prune_if_due()
        assert first is not None and first.removed["events"] > 0
        # Another server process sweeping a moment later: not due, nothing runs.
        composition.reset()
        assert retention.prune_if_due() is None
    with at(T0 + 8 * DAY + timedelta(minutes=61)):
        assert retention.prune_if_due() is not None
    runs = composition.prune_ledger().recent_runs()
    assert [r.started_at for r in runs] == [T0 + 8 * DAY + timedelta(minutes=61), T0 + 8 * DAY]


def test_an_unfinished_pass_is_due_again_at_the_next_sweep(settings: Any) -> None:
    settings.SWARM_RETENTION_BUDGET_S = 0
    with at(T0):
        fill_swarm()
    with at(T0 + 8 * DAY):
        run = retention.prune_if_due()
        assert run is not None and not run.complete
        assert composition.prune_ledger().next_due(retention.PRUNE_JOB) == T0 + 8 * DAY


def test_the_sweeper_prunes_when_due() -> None:
    from swarmsite.sweeper import sweep_once

    with at(T0):
        fill_swarm()
    with at(T0 + 8 * DAY):
        sweep_once()
        assert composition.prune_ledger().recent_runs(limit=1)[0].removed["agents"] == 1


def test_lease_grants_and_idempotent_answers_go_after_their_windows(api: Any) -> None:
    """Who each token was granted to is kept as long as the rejections that name it; a claim or
    checkpoint's saved answer as long as a retry could still come."""
    runtime = composition.identity_runtime()
    with at(T0):
        runtime.create_identity(DurableAgentSpec(identity="alpha", profile="worker"))
        agent = uuid.uuid4()
        composition.lifecycle_store().register(agent)
        token = runtime.acquire_lease("alpha", agent).fencing_token
        saved = api.post("/api/v1/identities/alpha/checkpoints", {"fencing_token": token, "data": "e30="},
                         content_type="application/json", headers={"Idempotency-Key": "cp-1"})
        assert saved.status_code == 201
    with at(T0 + 8 * DAY):
        run = retention.prune()
        assert run.removed["idempotent answers"] == 1 and run.removed["lease grants"] == 0
    with at(T0 + 91 * DAY):
        assert retention.prune().removed["lease grants"] == 1
        assert composition.lease_provider().grant_of(token) is None



def chart(client: Any, name: str) -> list[Any]:
    answer = client.get("/charts/", {"range": "day"})
    assert answer.status_code == 200
    return next(c["data"] for c in answer.json()["charts"] if c["name"] == name)


def test_chart_buckets_go_after_their_window_and_the_queue_depth_stays(viewer_client: Any) -> None:
    """The swarm's writes fill the charts' buckets; past the 2-day window they are pruned, and the
    overview's queue depth (a running total, not a bucket in time) still reads right."""
    with at(T0):
        fill_swarm()  # a delivered send, still waiting in the inbox
        assert sum(chart(viewer_client, "messages_delivered")) == 1
    with at(T0 + DAY):
        assert tables(T0 + DAY)["metric buckets"].prunable == 0  # inside the window
    with at(T0 + 3 * DAY):
        before = tables(T0 + 3 * DAY)["metric buckets"]
        assert before.prunable > 0 and before.oldest is not None and before.oldest <= T0
        assert retention.prune().removed["metric buckets"] == before.prunable
        after = tables(T0 + 3 * DAY)["metric buckets"]
        assert after.prunable == 0 and after.rows == before.rows - before.prunable
        assert chart(viewer_client, "queue_depth")[-1] == 1
