"""Lease races on PostgreSQL: many threads acquiring one identity's lease at once give exactly one holder.

SQLite serialises writers with its IMMEDIATE transactions, so the race is PostgreSQL's row locks' job
(CI runs this file in its PostgreSQL pass)."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from identities.errors import LeaseHeld
from identities.types import DurableAgentSpec
from stores.errors import StaleFencingToken
from swarmsite.composition import identity_runtime, lifecycle_store

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row-lock races need PostgreSQL (CI's second pass)"),
]

THREADS = 16


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; each result is a value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as exc:  # the race's losers are results too
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_sixteen_agents_racing_for_each_lease_leave_exactly_one_holder() -> None:
    runtime = identity_runtime()
    agents = [uuid.uuid4() for _ in range(THREADS)]
    for agent in agents:
        lifecycle_store().register(agent)
    identities = [f"race-{i}" for i in range(25)]
    for name in identities:
        runtime.create_identity(DurableAgentSpec(identity=name, profile="worker"))
    tokens: list[int] = []
    for name in identities:
        results = race([functools.partial(runtime.acquire_lease, name, a) for a in agents])
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1, results
        assert all(isinstance(r, LeaseHeld) for r in losers), losers
        assert {r.context["holder"] for r in losers} == {str(winners[0].holder)}
        lease = runtime.lease(name)
        assert lease.holder == winners[0].holder and lease.fencing_token == winners[0].fencing_token
        tokens.append(winners[0].fencing_token)
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_racing_reacquires_by_one_agent_mint_distinct_tokens_and_only_the_last_may_write() -> None:
    runtime = identity_runtime()
    agent = uuid.uuid4()
    lifecycle_store().register(agent)
    runtime.create_identity(DurableAgentSpec(identity="solo", profile="worker"))
    grants = race([lambda: runtime.acquire_lease("solo", agent) for _ in range(THREADS)])
    assert not any(isinstance(g, Exception) for g in grants), grants
    tokens = sorted(g.fencing_token for g in grants)
    assert len(set(tokens)) == THREADS
    assert runtime.lease("solo").fencing_token == tokens[-1]
    writes = race([
        functools.partial(runtime.checkpoint, "solo", f"from {t}".encode(), token=t, agent_id=agent) for t in tokens
    ])
    assert [w.fencing_token for w in writes if not isinstance(w, Exception)] == [tokens[-1]]
    assert all(isinstance(w, StaleFencingToken) for w in writes if isinstance(w, Exception))
    assert runtime.registry().list_rejections(identity="solo").total == THREADS - 1


def test_a_grant_racing_fenced_writes_never_lets_an_old_token_write_after_it() -> None:
    runtime = identity_runtime()
    a, b = uuid.uuid4(), uuid.uuid4()
    for agent in (a, b):
        lifecycle_store().register(agent)
    runtime.create_identity(DurableAgentSpec(identity="contested", profile="worker"))
    old = runtime.acquire_lease("contested", a, ttl_s=600)
    runtime.mark_lease_lost("contested")
    calls: list[Callable[[], Any]] = [lambda: runtime.acquire_lease("contested", b)]
    late = functools.partial(runtime.checkpoint, "contested", b"late", token=old.fencing_token, agent_id=a)
    calls += [late] * (THREADS - 1)
    results = race(calls)
    assert not isinstance(results[0], Exception)
    assert all(isinstance(r, Exception) for r in results[1:])
    assert runtime.latest_checkpoint("contested") is None
