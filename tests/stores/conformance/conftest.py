"""Builds every backend of every contract; the suites next to this file see only the contracts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from identities.contracts import ContinuityStore, LeaseProvider
from stores.backends.memory.lifecycle import InMemoryLifecycleStore
from stores.backends.memory.metrics import InMemoryMetricsRollup
from stores.backends.memory.outputs import InMemoryOutputStore
from stores.backends.memory.runtime import InMemoryRuntimeStore
from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.lifecycle import OrmLifecycleStore
from stores.backends.orm.metrics import OrmMetricsRollup
from stores.backends.orm.outputs import OrmOutputStore
from stores.backends.orm.runtime import OrmRuntimeStore
from stores.contracts import (
    EventSink,
    LifecycleStore,
    MetricsRollup,
    OutputStore,
    RuntimePersistence,
    RuntimePersistenceFactory,
    RuntimeStore,
    ThreadStore,
)
from stores.events import InMemoryEventLog
from stores.fencing import InMemoryFenceGuard
from stores.types import Fence

AGENT_TTL_S = 30.0


@pytest.fixture(params=["in_memory", "orm"])
def store_backend(request: pytest.FixtureRequest, db: None) -> str:
    # Both legs take the db fixture: requesting it only for the ORM leg, after an in-memory test,
    # left pytest-django on the development database.
    return str(request.param)


@pytest.fixture
def lifecycle(store_backend: str) -> LifecycleStore:
    if store_backend == "orm":
        return OrmLifecycleStore(events=OrmEventLog(), ttl_s=AGENT_TTL_S, heartbeat_log_interval_s=60)
    return InMemoryLifecycleStore(events=InMemoryEventLog(), ttl_s=AGENT_TTL_S, heartbeat_log_interval_s=60)


class LeaseFences:
    """The identity runtime's own lease table as the stores' fence guard, in both legs (the ORM leg's
    is the database's, which locks the lease row; both honour lease expiry). `grant` takes the lease
    again and returns the new, current token: every earlier token of that identity becomes stale."""

    def __init__(self, store_backend: str) -> None:
        from identities.backends.memory.leases import InMemoryLeaseProvider
        from identities.backends.orm.leases import OrmLeaseProvider

        self.provider = OrmLeaseProvider() if store_backend == "orm" else InMemoryLeaseProvider()
        self.holder = uuid.uuid4()

    def check(self, fence: Fence, *, operation: str) -> None:
        self.provider.check(fence, operation=operation)

    def grant(self, identity: str, ttl_ms: int = 60_000) -> int:
        grant = self.provider.acquire(identity, self.holder, ttl_ms).grant
        assert grant is not None
        return grant.fencing_token


@pytest.fixture
def runtime_fences(store_backend: str) -> LeaseFences:
    """The fence guard the runtime store checks fenced commits with (both backends)."""
    return LeaseFences(store_backend)


@pytest.fixture
def runtime_store(store_backend: str, runtime_fences: LeaseFences) -> RuntimeStore:
    if store_backend == "orm":
        return OrmRuntimeStore(events=OrmEventLog(), fence_guard=runtime_fences)
    return InMemoryRuntimeStore(events=InMemoryEventLog(), fence_guard=runtime_fences)


@pytest.fixture
def continuity(store_backend: str) -> ContinuityStore:
    from identities.backends.memory.continuity import InMemoryContinuityStore
    from identities.backends.orm.continuity import OrmContinuityStore

    return OrmContinuityStore(keep=5) if store_backend == "orm" else InMemoryContinuityStore(keep=5)


@pytest.fixture
def leases(store_backend: str) -> LeaseProvider:
    from identities.backends.memory.leases import InMemoryLeaseProvider
    from identities.backends.orm.leases import OrmLeaseProvider

    return OrmLeaseProvider() if store_backend == "orm" else InMemoryLeaseProvider()


@pytest.fixture
def output_fences(store_backend: str) -> LeaseFences:
    """The fence guard the output store checks fenced appends with (both backends)."""
    return LeaseFences(store_backend)


@pytest.fixture
def output_events(store_backend: str) -> EventSink:
    return OrmEventLog() if store_backend == "orm" else InMemoryEventLog()


@pytest.fixture
def outputs(store_backend: str, output_events: EventSink, output_fences: LeaseFences) -> OutputStore:
    if store_backend == "orm":
        return OrmOutputStore(events=output_events, fence_guard=output_fences)
    return InMemoryOutputStore(events=output_events, fence_guard=output_fences)


@pytest.fixture
def persistence_fences(store_backend: str) -> LeaseFences:
    """The fence guard RuntimePersistence checks fenced commits and completions with (both backends)."""
    return LeaseFences(store_backend)


@pytest.fixture
def persistence_events(store_backend: str) -> EventSink:
    return OrmEventLog() if store_backend == "orm" else InMemoryEventLog()


def _persistence_factory(
    store_backend: str, events: EventSink, fences: LeaseFences
) -> RuntimePersistenceFactory:
    from stores.backends.memory.persistence import InMemoryRuntimePersistenceFactory
    from stores.backends.orm.persistence import OrmRuntimePersistenceFactory

    if store_backend == "orm":
        return OrmRuntimePersistenceFactory(events=events, fence_guard=fences)
    return InMemoryRuntimePersistenceFactory(events=events, fence_guard=fences)


@pytest.fixture
def persistence_factory(
    store_backend: str, persistence_events: EventSink, persistence_fences: LeaseFences
) -> RuntimePersistenceFactory:
    return _persistence_factory(store_backend, persistence_events, persistence_fences)


@pytest.fixture
def reopen_persistence(
    store_backend: str,
    persistence_factory: RuntimePersistenceFactory,
    persistence_events: EventSink,
    persistence_fences: LeaseFences,
) -> Callable[..., RuntimePersistence]:
    """Opens a session again over the same storage: the ORM leg through a brand-new factory (nothing
    cached in Python survives, only the database); the in-memory leg through the same factory."""

    def reopen(session_id: str, **kwargs: Any) -> RuntimePersistence:
        if store_backend == "orm":
            fresh = _persistence_factory(store_backend, persistence_events, persistence_fences)
            return fresh.open(session_id, **kwargs)
        return persistence_factory.open(session_id, **kwargs)

    return reopen


@pytest.fixture
def identity_registry(store_backend: str) -> Any:
    from identities.backends.memory.registry import InMemoryIdentityRegistry
    from identities.backends.orm.registry import OrmIdentityRegistry

    return OrmIdentityRegistry() if store_backend == "orm" else InMemoryIdentityRegistry()


@pytest.fixture
def prune_ledger(store_backend: str) -> Any:
    from stores.backends.memory.retention import InMemoryPruneLedger
    from stores.backends.orm.retention import OrmPruneLedger

    return OrmPruneLedger() if store_backend == "orm" else InMemoryPruneLedger()


@pytest.fixture
def thread_fences() -> InMemoryFenceGuard:
    """The fence guard the thread store checks fenced writes with (both backends)."""
    return InMemoryFenceGuard()


@pytest.fixture
def threads(store_backend: str, thread_fences: InMemoryFenceGuard) -> ThreadStore:
    from stores.backends.memory.threads import InMemoryThreadStore
    from stores.backends.orm.threads import OrmThreadStore

    if store_backend == "orm":
        return OrmThreadStore(events=OrmEventLog(), fence_guard=thread_fences)
    return InMemoryThreadStore(events=InMemoryEventLog(), fence_guard=thread_fences)


@pytest.fixture
def metrics_rollup(store_backend: str) -> MetricsRollup:
    return OrmMetricsRollup() if store_backend == "orm" else InMemoryMetricsRollup()


@pytest.fixture
def counted_events(store_backend: str, metrics_rollup: MetricsRollup) -> EventSink:
    """An event log whose append path adds to metrics_rollup, as the composition root wires it."""
    from stores.metrics import count_event, count_events

    def hook(event: Any) -> None:
        count_event(metrics_rollup, event)

    def batch_hook(events: Any) -> None:
        count_events(metrics_rollup, events)

    log = OrmEventLog if store_backend == "orm" else InMemoryEventLog
    return log(on_append=hook, on_append_many=batch_hook)
