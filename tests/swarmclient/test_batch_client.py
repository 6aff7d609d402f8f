"""The batch calls through swarmclient against the real app: many heartbeats in one call, QueueWorker
draining an inbox many claims per round trip (alone, under a lease, and four workers at once), batch
appends, and the async flavour."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.utils import timezone

from swarmclient import (
    AsyncQueueWorker,
    AsyncSwarmClient,
    HeartbeatGroup,
    QueueWorker,
    StaleFencingToken,
    SwarmClient,
    UnknownParent,
    final,
    output_item,
    progress,
    turn_input,
)
from swarmsite.models import ApiToken


def jobs(swarm: SwarmClient, session: str, n: int) -> list[str]:
    return [swarm.enqueue(session, [turn_input({"job": i})])["batch_id"] for i in range(n)]


def job_of(claim: dict[str, Any]) -> int:
    return int(claim["batches"][0]["items"][0]["payload"]["input"]["job"])


def test_heartbeat_many_refreshes_every_agent_and_says_which_expired(swarm: SwarmClient, make_swarm: Any) -> None:
    others = [make_swarm() for _ in range(3)]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for other in others:
            other.register()
    with time_machine.travel(start + timedelta(seconds=settings.SWARM_AGENT_TTL_S - 1), tick=False):
        others[0].heartbeat()
    with time_machine.travel(start + timedelta(seconds=settings.SWARM_AGENT_TTL_S + 1), tick=False):
        answer = swarm.heartbeat_many([o.agent_id for o in others] + [uuid.uuid4()])
        assert [r["outcome"] for r in answer["results"]] == ["ok", "agent_expired", "agent_expired", "not_found"]
        group = HeartbeatGroup(swarm, {str(o.agent_id): f"worker-{i}" for i, o in enumerate(others)})
        assert list(group.beat().values()) == ["ok", "agent_expired", "agent_expired"]
        assert set(group.beat().values()) == {"ok"}  # registered again, under their names
        assert others[2].get_agent()["name"] == "worker-2"


def test_a_queue_worker_drains_an_inbox_many_claims_per_round_and_retries_what_failed(swarm: SwarmClient) -> None:
    swarm.register()
    jobs(swarm, "jobs", 25)
    handled: Counter[int] = Counter()
    flaky = {7}

    def handle(claim: dict[str, Any]) -> None:
        job = job_of(claim)
        if job in flaky:
            flaky.discard(job)
            raise RuntimeError("transient")
        handled[job] += 1

    worker = QueueWorker(swarm, "jobs", handle, max_claims=10)
    first = worker.run_once()
    assert (first.claimed, first.completed, first.failed, first.expired) == (10, 9, 1, 0)
    assert worker.run(until_empty=True) == 16
    assert handled == Counter(range(25))  # job 7 was given back and done once, later
    assert swarm.list_queue("jobs")["items"] == []
    assert swarm.claim_many("jobs") == []


def test_a_queue_worker_under_a_lease_fences_every_call_and_stops_when_the_lease_is_lost(
    swarm: SwarmClient, make_swarm: Any
) -> None:
    swarm.create_identity("alpha", "worker")
    swarm.register()
    with swarm.lease("alpha", renew_every_s=60) as lease:
        session = swarm.identity_status("alpha")["session_id"]
        for text in ("one", "two", "three"):
            swarm.send("alpha", text)
        answered: list[str] = []

        def handle(claim: dict[str, Any]) -> None:
            text = claim["batches"][0]["items"][0]["payload"]["input"]["content"]
            answered.append(lease.append_outputs([output_item("task", 0, "alpha", final(text.upper()))])[0]["ref"])

        assert QueueWorker(swarm, session, handle, lease=lease).run(until_empty=True) == 3
        outputs = swarm.list_outputs(producer="alpha")["items"]
        assert {o["ref"] for o in outputs} == set(answered) and {o["fencing_token"] for o in outputs} == {lease.token}
        swarm.send("alpha", "late")
        swarm.respawn("alpha", reason="stuck")  # a new token: this worker is fenced out
        with pytest.raises(StaleFencingToken):
            QueueWorker(swarm, session, lambda claim: None, lease=lease).run_once()
        assert lease.lost.is_set()
        assert QueueWorker(swarm, session, lambda claim: None, lease=lease).run() == 0  # stops at once


def test_append_outputs_stores_a_batch_once_and_refuses_it_whole(swarm: SwarmClient) -> None:
    parent = swarm.append_output("t", 0, "planner", progress("plan"))
    batch = [output_item("t", 0, "coder", progress(f"step {i}"), parent_refs=[parent["ref"]]) for i in range(3)]
    records = swarm.append_outputs(batch, idempotency_key="batch-1")
    assert swarm.append_outputs(batch, idempotency_key="batch-1") == records
    assert [c["ref"] for c in swarm.output_children(parent["ref"])["items"]] == [r["ref"] for r in records]
    with pytest.raises(UnknownParent):
        swarm.append_outputs([output_item("t", 0, "coder", final("x")),
                              output_item("t", 0, "coder", final("y"), parent_refs=["out-00000000ff"])])
    assert swarm.list_outputs(producer="coder")["total"] == 3


def test_four_queue_workers_on_their_own_threads_complete_every_job_exactly_once(
    live_token: str, live_transport: httpx.WSGITransport
) -> None:
    setup = SwarmClient("http://testserver", live_token, transport=live_transport, retries=0)
    jobs(setup, "shared", 120)
    handled: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        swarm = SwarmClient("http://testserver", live_token, transport=live_transport, retries=0)
        swarm.register()

        def handle(claim: dict[str, Any]) -> None:
            with lock:
                handled[job_of(claim)] += 1

        try:
            QueueWorker(swarm, "shared", handle, max_claims=8).run(until_empty=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert handled == Counter(range(120))  # nothing handled twice, nothing left behind
    assert setup.list_queue("shared")["items"] == []


@pytest.mark.django_db(transaction=True)
async def test_the_async_queue_worker_drains_an_inbox() -> None:
    token = (await sync_to_async(ApiToken.issue)("async-batch", ApiToken.Scope.ADMIN))[1]
    async with AsyncSwarmClient("http://testserver", token, transport=httpx.ASGITransport(app=ASGIHandler()),
                                retries=0) as swarm:
        await swarm.register()
        for i in range(12):
            await swarm.enqueue("async-jobs", [turn_input({"job": i})])
        seen: list[int] = []

        async def handle(claim: dict[str, Any]) -> None:
            seen.append(job_of(claim))

        assert await AsyncQueueWorker(swarm, "async-jobs", handle, max_claims=5).run(until_empty=True) == 12
        assert sorted(seen) == list(range(12))
        assert (await swarm.heartbeat_many([swarm.agent_id]))["ok"] == 1
        records = await swarm.append_outputs([output_item("t", 0, "async", progress("a")),
                                              output_item("t", 0, "async", final("b"))])
        assert [r["kind"] for r in records] == ["progress", "final"]
