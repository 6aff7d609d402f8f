"""LifecycleStore conformance (semantics 1.6, plus expiry), run against every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from stores.contracts import LifecycleStore
from stores.errors import AgentExpired, InvalidInput, NotFound
from stores.types import AgentState, HeartbeatOutcome

TTL = timedelta(seconds=30)


def test_register_then_heartbeat_succeeds(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    lifecycle.register(agent)
    record = lifecycle.heartbeat(agent)
    assert record.state == AgentState.ONLINE
    assert record.agent_id == agent


def test_heartbeat_of_unknown_agent_is_not_found(lifecycle: LifecycleStore) -> None:
    with pytest.raises(NotFound):
        lifecycle.heartbeat(uuid.uuid4())


def test_heartbeat_after_deregister_is_not_found(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    lifecycle.register(agent)
    lifecycle.deregister(agent)
    with pytest.raises(NotFound) as excinfo:
        lifecycle.heartbeat(agent)
    assert excinfo.value.code == "not_found"


def test_deregister_is_idempotent_and_accepts_unknown_agents(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    lifecycle.register(agent)
    lifecycle.deregister(agent)
    lifecycle.deregister(agent)
    lifecycle.deregister(uuid.uuid4())
    assert lifecycle.get(agent).state == AgentState.OFFLINE


def test_register_twice_refreshes_the_heartbeat(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = lifecycle.register(agent, name="worker-1")
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        second = lifecycle.register(agent)
    assert second.last_heartbeat == first.last_heartbeat + timedelta(seconds=10)
    assert second.registered_at == first.registered_at
    assert second.name == "worker-1"


def test_register_after_deregister_makes_heartbeat_work_again(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    lifecycle.register(agent)
    lifecycle.deregister(agent)
    lifecycle.register(agent)
    assert lifecycle.heartbeat(agent).state == AgentState.ONLINE


def test_get_of_unknown_agent_is_not_found(lifecycle: LifecycleStore) -> None:
    with pytest.raises(NotFound):
        lifecycle.get(uuid.uuid4())


def test_silent_agent_reads_as_expired_before_any_sweep(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(agent)
    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        assert lifecycle.get(agent).state == AgentState.EXPIRED
        assert [a.agent_id for a in lifecycle.list_agents(state=AgentState.EXPIRED).items] == [agent]
        assert lifecycle.list_agents(state=AgentState.ONLINE).total == 0
        assert lifecycle.count_by_state()[AgentState.EXPIRED] == 1


def test_heartbeat_within_the_ttl_keeps_the_agent_online(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(agent)
    with time_machine.travel(start + TTL - timedelta(seconds=1), tick=False):
        lifecycle.heartbeat(agent)
    with time_machine.travel(start + TTL + timedelta(seconds=5), tick=False):
        assert lifecycle.get(agent).state == AgentState.ONLINE
        assert lifecycle.expire_silent() == []


def test_heartbeat_of_expired_agent_is_rejected_until_it_registers_again(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(agent)
    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        with pytest.raises(AgentExpired):
            lifecycle.heartbeat(agent)
        with pytest.raises(AgentExpired):
            lifecycle.heartbeat(agent)
        lifecycle.register(agent)
        assert lifecycle.heartbeat(agent).state == AgentState.ONLINE


def test_sweep_expires_only_silent_online_agents(lifecycle: LifecycleStore) -> None:
    silent, alive, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for agent in (silent, alive, gone):
            lifecycle.register(agent)
        lifecycle.deregister(gone)
    with time_machine.travel(start + TTL - timedelta(seconds=2), tick=False):
        lifecycle.heartbeat(alive)
    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        expired = lifecycle.expire_silent()
        assert [a.agent_id for a in expired] == [silent]
        assert lifecycle.expire_silent() == []
        assert lifecycle.get(silent).state == AgentState.EXPIRED
        assert lifecycle.get(gone).state == AgentState.OFFLINE
        assert lifecycle.get(alive).state == AgentState.ONLINE


def test_sweep_emits_one_expired_event_per_agent(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(agent)
    with time_machine.travel(start + TTL + timedelta(seconds=1), tick=False):
        lifecycle.expire_silent()
        lifecycle.expire_silent()
    kinds = [e.kind for e in lifecycle.events.since(0)]  # type: ignore[attr-defined]
    assert kinds == ["agent.online", "agent.expired"]


def test_heartbeats_are_coalesced_in_the_event_log(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle.register(agent)
    for second in range(1, 25):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            lifecycle.heartbeat(agent)
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        lifecycle.register(agent)
    # Every 5 s from 62 to 122: only the one at 122 (60 s after the last logged entry) is logged.
    for second in range(62, 125, 5):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            lifecycle.heartbeat(agent)
    kinds = [e.kind for e in lifecycle.events.since(0)]  # type: ignore[attr-defined]
    assert kinds == ["agent.online", "agent.online", "agent.heartbeat"]


def test_list_since_keeps_online_agents_and_those_that_ended_since(lifecycle: LifecycleStore) -> None:
    start = timezone.now()
    gone_long, silent_long, gone_lately, swept, silent_lately, live = (uuid.uuid4() for _ in range(6))

    def at(minutes: int, seconds: int = 0) -> time_machine.travel:
        return time_machine.travel(start + timedelta(minutes=minutes, seconds=seconds), tick=False)

    with at(0):
        lifecycle.register(gone_long)
        lifecycle.register(silent_long)
        lifecycle.deregister(gone_long)  # ended at 0
    with at(50):
        lifecycle.register(gone_lately)
        lifecycle.register(swept)
    with at(50, 10):
        lifecycle.expire_silent()  # silent_long ends at 50:10
    with at(50, 20):
        lifecycle.deregister(gone_lately)  # ends at 50:20
    with at(51, 40):
        lifecycle.register(silent_lately)  # silent from here: past its 30 s TTL at 52:10, never swept
    with at(52):
        lifecycle.expire_silent()  # swept ends at 52:00
    with at(54, 50):
        lifecycle.register(live)
    with at(55):
        def since(minutes: int, seconds: int, state: AgentState | None = None) -> set[uuid.UUID]:
            page = lifecycle.list_agents(state=state, ended_since=start + timedelta(minutes=minutes, seconds=seconds))
            assert page.total == len(page.items)
            return {a.agent_id for a in page.items}

        assert since(50, 10) == {silent_long, gone_lately, swept, silent_lately, live}
        assert since(50, 11) == {gone_lately, swept, silent_lately, live}
        assert since(52, 0, AgentState.EXPIRED) == {swept, silent_lately}
        assert since(52, 1, AgentState.EXPIRED) == {silent_lately}
        assert since(52, 11, AgentState.EXPIRED) == set()
        assert since(52, 11, AgentState.ONLINE) == {live}
        assert lifecycle.list_agents().total == 6


def test_list_filters_by_state_and_paginates_most_recent_first(lifecycle: LifecycleStore) -> None:
    start = timezone.now()
    agents = [uuid.uuid4() for _ in range(5)]
    for i, agent in enumerate(agents):
        with time_machine.travel(start + timedelta(seconds=i), tick=False):
            lifecycle.register(agent)
    lifecycle.deregister(agents[0])
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        page = lifecycle.list_agents(state=AgentState.ONLINE, offset=0, limit=2)
        assert page.total == 4
        assert [a.agent_id for a in page.items] == [agents[4], agents[3]]
        rest = lifecycle.list_agents(state=AgentState.ONLINE, offset=2, limit=2)
        assert [a.agent_id for a in rest.items] == [agents[2], agents[1]]
        assert lifecycle.list_agents(state=AgentState.OFFLINE).total == 1
        assert lifecycle.list_agents().total == 5


def test_heartbeat_many_answers_each_agent_as_the_single_call_would_and_never_fails_as_a_whole(
    lifecycle: LifecycleStore,
) -> None:
    alive, silent, gone, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for agent in (alive, silent, gone):
            lifecycle.register(agent)
        lifecycle.deregister(gone)
    with time_machine.travel(start + TTL - timedelta(seconds=2), tick=False):
        lifecycle.heartbeat(alive)
    later = start + TTL + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        results = lifecycle.heartbeat_many([unknown, alive, silent, gone])
        assert [(r.agent_id, r.outcome) for r in results] == [
            (unknown, HeartbeatOutcome.NOT_FOUND), (alive, HeartbeatOutcome.OK),
            (silent, HeartbeatOutcome.AGENT_EXPIRED), (gone, HeartbeatOutcome.NOT_FOUND),
        ]
        assert results[1].record is not None and results[1].record.last_heartbeat == later
        assert [r.record for r in results if r.outcome != HeartbeatOutcome.OK] == [None, None, None]
        assert lifecycle.get(alive).last_heartbeat == later
        assert lifecycle.get(silent).state == AgentState.EXPIRED  # persisted, as the single call does
        assert lifecycle.heartbeat_many([silent])[0].outcome == HeartbeatOutcome.AGENT_EXPIRED
        with pytest.raises(AgentExpired):
            lifecycle.heartbeat(silent)
    kinds = [e.kind for e in lifecycle.events.since(0) if e.subject_id == str(silent)]  # type: ignore[attr-defined]
    assert kinds == ["agent.online", "agent.expired"]


def test_heartbeat_many_keeps_agents_online_and_coalesces_their_log_entries(lifecycle: LifecycleStore) -> None:
    agents = [uuid.uuid4() for _ in range(3)]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for agent in agents:
            lifecycle.register(agent)
    for second in range(10, 130, 10):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            assert {r.outcome for r in lifecycle.heartbeat_many(agents)} == {HeartbeatOutcome.OK}
    with time_machine.travel(start + timedelta(seconds=130), tick=False):
        assert all(lifecycle.get(a).state == AgentState.ONLINE for a in agents)
    logged = [e for e in lifecycle.events.since(0) if e.kind == "agent.heartbeat"]  # type: ignore[attr-defined]
    # Logged at 60 s and 120 s after registering, per agent, as single heartbeats are.
    assert sorted((e.subject_id, e.created_at - start) for e in logged) == sorted(
        (str(a), timedelta(seconds=s)) for a in agents for s in (60, 120)
    )


def test_heartbeat_many_refuses_an_agent_named_twice(lifecycle: LifecycleStore) -> None:
    agent = uuid.uuid4()
    lifecycle.register(agent)
    with pytest.raises(InvalidInput):
        lifecycle.heartbeat_many([agent, uuid.uuid4(), agent])
    assert lifecycle.heartbeat_many([]) == []
