"""The heartbeat buffer (stores/backends/orm/beat_buffer.py) on the real database: a server answers the
heartbeats of agents it knows online from memory and writes them in batches. Two store instances stand
for two server processes sharing the database.

What an agent and an operator rely on: the answer is the single heartbeat's answer; the beat reaches the
database by the next flush (and at once for reads in the same process); an agent that went offline or
expired elsewhere is told so from its next heartbeat after a flush; nothing is buffered while the flusher
is not flushing; two processes flushing the same agents on PostgreSQL never deadlock."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.lifecycle import OrmLifecycleStore
from stores.errors import AgentExpired, NotFound
from stores.models import Agent, EventRecord
from stores.types import AgentState

pytestmark = pytest.mark.django_db(transaction=True)

TTL = 30.0


def server(flush_s: float = 0.2) -> OrmLifecycleStore:
    store = OrmLifecycleStore(events=OrmEventLog(), ttl_s=TTL, heartbeat_log_interval_s=60)
    store.start_heartbeat_buffer(flush_s)
    return store


def stored_beat(agent: uuid.UUID) -> object:
    return Agent.objects.values_list("last_heartbeat", flat=True).get(pk=agent)


def test_a_known_agents_heartbeat_is_answered_without_a_statement_and_written_by_the_next_flush() -> None:
    store = server()
    agent = uuid.uuid4()
    store.register(agent, name="worker")
    before = stored_beat(agent)
    with CaptureQueriesContext(connection) as answered:
        record = store.heartbeat(agent)
    assert len(answered) == 0
    assert record.state == AgentState.ONLINE and record.name == "worker" and record.last_heartbeat > before
    assert stored_beat(agent) == before  # not written yet
    with CaptureQueriesContext(connection) as flushed:
        assert store.flush_heartbeats() == 1
    assert len(flushed) == 1  # one guarded UPDATE ... RETURNING for every fresh agent
    assert stored_beat(agent) >= record.last_heartbeat


def test_many_agents_are_written_in_one_statement_per_flush() -> None:
    store = server()
    agents = [uuid.uuid4() for _ in range(120)]
    for agent in agents:
        store.register(agent)
    for agent in agents:
        store.heartbeat(agent)
    beat_at = timezone.now()
    with CaptureQueriesContext(connection) as flushed:
        assert store.flush_heartbeats() == 120
    assert len(flushed) == 1
    assert Agent.objects.filter(pk__in=agents, last_heartbeat__gte=beat_at).count() == 120


def test_an_agent_this_process_does_not_know_is_written_before_its_answer() -> None:
    other, here = server(), server()
    agent = uuid.uuid4()
    other.register(agent)
    before = stored_beat(agent)
    with CaptureQueriesContext(connection) as first:
        here.heartbeat(agent)
    assert len(first) == 1 and stored_beat(agent) > before
    with CaptureQueriesContext(connection) as second:
        here.heartbeat(agent)
    assert len(second) == 0  # known now


def test_a_new_name_and_metadata_registered_elsewhere_reach_the_answers_after_a_flush() -> None:
    here, other = server(), server()
    agent = uuid.uuid4()
    here.register(agent, name="old", metadata={"v": 1})
    for _ in range(2):  # two flushes: the second finds the columns it read before
        here.heartbeat(agent)
        here.flush_heartbeats()
    other.register(agent, name="new", metadata={"v": 2})
    assert here.heartbeat(agent).name == "old"  # this process has not heard yet
    here.flush_heartbeats()
    answer = here.heartbeat(agent)
    assert (answer.name, answer.metadata) == ("new", {"v": 2})


def test_reads_in_the_same_process_see_every_answered_heartbeat() -> None:
    store = server()
    agent = uuid.uuid4()
    store.register(agent)
    record = store.heartbeat(agent)
    assert store.get(agent).last_heartbeat >= record.last_heartbeat
    assert store.list_agents().items[0].last_heartbeat >= record.last_heartbeat


def test_an_agent_deregistered_in_another_process_gets_404_after_the_next_flush() -> None:
    here, other = server(), server()
    agent = uuid.uuid4()
    here.register(agent)
    other.deregister(agent)
    here.heartbeat(agent)  # this process has not heard yet
    here.flush_heartbeats()  # the guarded write refuses it: still offline
    assert Agent.objects.get(pk=agent).state == Agent.State.OFFLINE
    with pytest.raises(NotFound):
        here.heartbeat(agent)


def test_a_deregistered_agents_pending_beat_is_dropped_in_the_same_process() -> None:
    store = server()
    agent = uuid.uuid4()
    store.register(agent)
    store.heartbeat(agent)
    store.deregister(agent)
    assert store.flush_heartbeats() == 0
    with pytest.raises(NotFound):
        store.heartbeat(agent)


def test_an_agent_not_seen_for_nine_tenths_of_its_ttl_is_written_before_its_answer() -> None:
    store = server()
    agent = uuid.uuid4()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        store.register(agent)
        traveller.shift(timedelta(seconds=TTL * 0.9 + 0.5))
        with CaptureQueriesContext(connection) as written:
            store.heartbeat(agent)
    assert len(written) == 1


def test_an_agent_silent_past_its_ttl_is_expired_not_answered_from_memory() -> None:
    store = server()
    agent = uuid.uuid4()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        store.register(agent)
        traveller.shift(timedelta(seconds=TTL + 1))
        with pytest.raises(AgentExpired):
            store.heartbeat(agent)
    assert Agent.objects.get(pk=agent).state == Agent.State.EXPIRED


def test_the_sweep_in_the_same_process_never_expires_an_agent_whose_beat_is_pending() -> None:
    store = server()
    agent = uuid.uuid4()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        store.register(agent)
        traveller.shift(timedelta(seconds=TTL * 0.9 - 1))
        store.heartbeat(agent)  # from memory
        with CaptureQueriesContext(connection) as kept:
            store.heartbeat(agent)
        assert len(kept) == 0
        traveller.shift(timedelta(seconds=TTL * 0.1 + 2))  # past the TTL from registering
        assert store.expire_silent() == []
    assert Agent.objects.get(pk=agent).state == Agent.State.ONLINE


def test_a_flush_expires_an_agent_swept_elsewhere_and_forgets_it() -> None:
    here, other = server(), server()
    agent = uuid.uuid4()
    here.register(agent)
    here.heartbeat(agent)
    Agent.objects.filter(pk=agent).update(last_heartbeat=timezone.now() - timedelta(seconds=TTL + 5))
    assert [r.agent_id for r in other.expire_silent()] == [agent]
    here.flush_heartbeats()
    assert Agent.objects.get(pk=agent).state == Agent.State.EXPIRED
    with pytest.raises(AgentExpired):
        here.heartbeat(agent)


def test_a_flush_logs_the_heartbeat_that_is_due_in_the_event_log() -> None:
    store = server()
    agent = uuid.uuid4()
    store.register(agent)
    logged = EventRecord.objects.filter(kind="agent.heartbeat", subject_id=str(agent)).count()
    store.heartbeat(agent)
    Agent.objects.filter(pk=agent).update(heartbeat_logged_at=timezone.now() - timedelta(seconds=120))
    store.flush_heartbeats()
    assert EventRecord.objects.filter(kind="agent.heartbeat", subject_id=str(agent)).count() == logged + 1


def test_without_a_recent_flush_every_heartbeat_is_written_at_once() -> None:
    store = server(flush_s=0.05)  # counts as stopped after 1 s without a flush
    agent = uuid.uuid4()
    store.register(agent)
    time.sleep(1.1)
    before = stored_beat(agent)
    store.heartbeat(agent)
    assert stored_beat(agent) > before
    store.flush_heartbeats()  # the flusher is back: beats are kept again
    with CaptureQueriesContext(connection) as kept:
        store.heartbeat(agent)
    assert len(kept) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-lock races need PostgreSQL")
def test_processes_flushing_the_same_agents_never_deadlock() -> None:
    agents = [uuid.uuid4() for _ in range(60)]
    servers = [server() for _ in range(4)]
    for agent in agents:
        servers[0].register(agent)
    failures: list[BaseException] = []
    start = threading.Barrier(len(servers))

    def run(store: OrmLifecycleStore, seed: int) -> None:
        try:
            start.wait()
            for n in range(30):
                for agent in (agents[seed:] + agents[:seed]) if n % 2 else reversed(agents):
                    store.heartbeat(agent)
                store.flush_heartbeats()
                store.heartbeat_many(agents[seed::3])
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(s, 13 * i)) for i, s in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert Agent.objects.filter(pk__in=agents, state=Agent.State.ONLINE).count() == len(agents)
