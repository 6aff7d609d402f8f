"""The runtime as settings wire it: agent expiry frees leases through SWARM_EXPIRY_HOOKS, the
server's sweep expires leases, and other stores' fenced writes are checked by the lease table."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from identities.types import DurableAgentSpec, LeaseState
from stores.errors import StaleFencingToken
from stores.output_types import Progress
from stores.types import Fence
from swarmsite.composition import fence_guard, identity_runtime, lifecycle_store, output_store
from swarmsite.sweeper import sweep_once

pytestmark = pytest.mark.django_db


def test_agent_expiry_through_the_configured_hooks_frees_its_leases() -> None:
    runtime = identity_runtime()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        runtime.create_identity(DurableAgentSpec(identity="alpha", profile="p"))
        agent = uuid.uuid4()
        lifecycle_store().register(agent)
        runtime.acquire_lease("alpha", agent, ttl_s=3600)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert sweep_once() == 1
        lease = runtime.lease("alpha")
    assert lease.state == LeaseState.LOST and lease.lost_reason == "agent_expired" and lease.last_holder == agent
    assert runtime.status("alpha").why_stuck == (
        f"the lease was freed because its agent stopped heartbeating (last holder {agent})"
    )


def test_the_sweep_expires_leases_past_their_ttl() -> None:
    runtime = identity_runtime()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        runtime.create_identity(DurableAgentSpec(identity="alpha", profile="p"))
        agent = uuid.uuid4()
        lifecycle_store().register(agent)
        runtime.acquire_lease("alpha", agent, ttl_s=5)
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        lifecycle_store().heartbeat(agent)
        assert sweep_once() == 1
    assert [e.kind for e in runtime.subscribe("alpha")][-1] == "identity.lease_lost"


def test_the_configured_fence_guard_is_the_lease_table() -> None:
    runtime = identity_runtime()
    runtime.create_identity(DurableAgentSpec(identity="alpha", profile="p"))
    agent = uuid.uuid4()
    lifecycle_store().register(agent)
    old = runtime.acquire_lease("alpha", agent)
    new = runtime.acquire_lease("alpha", agent)
    fence_guard().check(Fence("alpha", new.fencing_token), operation="test")
    with pytest.raises(StaleFencingToken):
        output_store().append("t", 1, "alpha", Progress("late"), fence=Fence("alpha", old.fencing_token))
