"""The identity runtime on every backend: in-memory stores under one lock, or the ORM stores in
database transactions. Tests drive it through its methods only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from identities.core import lock_atomic
from identities.inbox import PersistenceInbox
from identities.runtime import IdentityRuntime
from identities.types import Addressability, DurableAgentSpec


@dataclass
class Harness:
    backend: str
    runtime: IdentityRuntime
    lifecycle: Any
    events: Any
    outputs: Any
    persistence: Any

    def online_agent(self, name: str = "") -> uuid.UUID:
        agent = uuid.uuid4()
        self.lifecycle.register(agent, name=name)
        return agent


def build(backend: str, *, inbox: bool = True, durability_policy: str = "sync_write_through") -> Harness:
    built: list[IdentityRuntime] = []

    def free_leases(records: Any, now: Any) -> None:  # the expiry hook, as settings wire it
        built[0].free_leases_of(records, now)

    if backend == "orm":
        from identities.backends.orm.continuity import OrmContinuityStore
        from identities.backends.orm.leases import OrmLeaseProvider
        from identities.backends.orm.registry import OrmIdentityRegistry
        from stores.backends.orm.events import OrmEventLog
        from stores.backends.orm.lifecycle import OrmLifecycleStore
        from stores.backends.orm.outputs import OrmOutputStore
        from stores.backends.orm.persistence import OrmRuntimePersistenceFactory

        events: Any = OrmEventLog()
        leases: Any = OrmLeaseProvider()
        lifecycle: Any = OrmLifecycleStore(events=events, ttl_s=30, expiry_hooks=[free_leases])
        outputs: Any = OrmOutputStore(events=events, fence_guard=leases, poll_interval_s=0.05)
        persistence: Any = OrmRuntimePersistenceFactory(events=events, fence_guard=leases)
        parts: dict[str, Any] = {"registry": OrmIdentityRegistry(), "continuity": OrmContinuityStore()}
        durable = True
    else:
        from identities.backends.memory.continuity import InMemoryContinuityStore
        from identities.backends.memory.leases import InMemoryLeaseProvider
        from identities.backends.memory.registry import InMemoryIdentityRegistry
        from stores.backends.memory.lifecycle import InMemoryLifecycleStore
        from stores.backends.memory.outputs import InMemoryOutputStore
        from stores.backends.memory.persistence import InMemoryRuntimePersistenceFactory
        from stores.events import InMemoryEventLog

        events = InMemoryEventLog()
        leases = InMemoryLeaseProvider()
        lifecycle = InMemoryLifecycleStore(events=events, ttl_s=30, expiry_hooks=[free_leases])
        outputs = InMemoryOutputStore(events=events, fence_guard=leases)
        persistence = InMemoryRuntimePersistenceFactory(events=events, fence_guard=leases)
        parts = {"registry": InMemoryIdentityRegistry(), "continuity": InMemoryContinuityStore(),
                 "atomic": lock_atomic()}
        durable = False
    runtime = IdentityRuntime(
        **parts, leases=leases, lifecycle=lifecycle, events=events, outputs=outputs,
        inbox=PersistenceInbox(persistence, durable=durable) if inbox else None,
        lease_ttl_s=30, durability_policy=durability_policy, default_timeout_s=2,
    )
    built.append(runtime)
    return Harness(backend, runtime, lifecycle, events, outputs, persistence)


@pytest.fixture(params=["in_memory", "orm"])
def backend(request: pytest.FixtureRequest, db: None) -> str:
    return str(request.param)


@pytest.fixture
def h(backend: str) -> Harness:
    return build(backend)


def spec(identity: str = "alpha", profile: str = "worker", **fields: Any) -> DurableAgentSpec:
    fields.setdefault("labels", {"team": "blue"})
    return DurableAgentSpec(identity=identity, profile=profile, **fields)


def internal(identity: str) -> DurableAgentSpec:
    return spec(identity, addressability=Addressability.INTERNAL_ONLY)
