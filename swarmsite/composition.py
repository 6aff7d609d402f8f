"""The composition root: builds the configured backends and the IdentityRuntime once per process
(settings.SWARM_BACKENDS picks them by dotted path). Everything above the domain gets them here;
the rooms below get them through their `wiring` modules, installed by swarmsite.apps."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.utils.module_loading import import_string

from stores.contracts import (
    EventSink,
    FenceGuard,
    LifecycleStore,
    MetricsRollup,
    OutputStore,
    PruneLedger,
    RuntimePersistenceFactory,
    RuntimeStore,
    ThreadStore,
)

if TYPE_CHECKING:
    from identities.runtime import IdentityRuntime


@functools.cache
def event_log() -> EventSink:
    from stores.backends.orm.events import OrmEventLog
    from stores.metrics import count_event, count_events
    from swarmsite.live.publish import publish, publish_many

    rollup = metrics_rollup()
    return OrmEventLog(publisher=publish, batch_publisher=publish_many,
                       on_append=lambda event: count_event(rollup, event),
                       on_append_many=lambda events: count_events(rollup, events))


@functools.cache
def metrics_rollup() -> MetricsRollup:
    """The per-minute counters the charts read; the event log adds to them as it appends."""
    return cast(MetricsRollup, _build("metrics"))


def _build(name: str, **kwargs: Any) -> Any:
    return import_string(settings.SWARM_BACKENDS[name])(**kwargs)


def expiry_hooks() -> list[Any]:
    return [import_string(path) for path in getattr(settings, "SWARM_EXPIRY_HOOKS", [])]


@functools.cache
def lifecycle_store() -> LifecycleStore:
    return cast(
        LifecycleStore,
        _build(
            "lifecycle",
            events=event_log(),
            ttl_s=settings.SWARM_AGENT_TTL_S,
            heartbeat_log_interval_s=settings.SWARM_HEARTBEAT_LOG_INTERVAL_S,
            expiry_hooks=expiry_hooks(),
        ),
    )


def _runtime_fence_guard() -> Any:
    """Hook for the identity runtime: once this module defines `fence_guard()`, runtime commits that
    carry a fence are checked by it. Until then they are refused (FencingUnavailable), never let through."""
    builder = globals().get("fence_guard")
    return builder() if builder is not None else None


@functools.cache
def runtime_store() -> RuntimeStore:
    return cast(RuntimeStore, _build("runtime", events=event_log(), fence_guard=_runtime_fence_guard()))


@functools.cache
def output_store() -> OutputStore:
    # Hook for the identity runtime: once this module defines `fence_guard()`, appends made on behalf
    # of an identity are checked by it; until then they are refused (FencingUnavailable).
    guard = globals().get("fence_guard")
    return cast(
        OutputStore,
        _build(
            "outputs",
            events=event_log(),
            fence_guard=guard() if guard is not None else None,
            poll_interval_s=settings.SWARM_OUTPUT_POLL_S,
        ),
    )


@functools.cache
def runtime_persistence() -> RuntimePersistenceFactory:
    """Opens a session's RuntimePersistence by session id; fenced commits and completions are checked by
    fence_guard(), and agent expiry frees inbox claims (swarmsite.expiry_hooks in SWARM_EXPIRY_HOOKS)."""
    return cast(
        RuntimePersistenceFactory,
        _build("runtime_persistence", events=event_log(), fence_guard=fence_guard()),
    )


@functools.cache
def thread_store() -> ThreadStore:
    """Checkpoint threads (LangGraph's checkpointer); writes to an identity's threads are fenced."""
    return cast(ThreadStore, _build("threads", events=event_log(), fence_guard=fence_guard()))


@functools.cache
def fence_guard() -> FenceGuard:
    """The guard every fenced write path checks (the identity runtime's lease table)."""
    return cast(FenceGuard, _build("fence_guard"))


@functools.cache
def continuity_store() -> Any:
    return _build("continuity", keep=settings.SWARM_CHECKPOINT_KEEP)


@functools.cache
def lease_provider() -> Any:
    return _build("leases", log_interval_s=settings.SWARM_HEARTBEAT_LOG_INTERVAL_S)


@functools.cache
def identity_registry() -> Any:
    return _build("identity_registry")


@functools.cache
def identity_runtime() -> IdentityRuntime:
    """The one domain entry point for identities, over the configured stores."""
    from identities.inbox import PersistenceInbox
    from identities.runtime import IdentityRuntime

    return IdentityRuntime(
        registry=identity_registry(),
        continuity=continuity_store(),
        leases=lease_provider(),
        lifecycle=lifecycle_store(),
        events=event_log(),
        inbox=PersistenceInbox(runtime_persistence()),
        outputs=output_store(),
        lease_ttl_s=settings.SWARM_LEASE_TTL_S,
    )


@functools.cache
def prune_ledger() -> PruneLedger:
    """When pruning and upkeep are next due (shared by every server process) and what past runs removed."""
    return cast(PruneLedger, _build("prune_ledger"))


def reset() -> None:
    """Forget built backends (tests that change settings call this)."""
    identity_registry.cache_clear()
    identity_runtime.cache_clear()
    fence_guard.cache_clear()
    continuity_store.cache_clear()
    lease_provider.cache_clear()
    runtime_store.cache_clear()
    event_log.cache_clear()
    lifecycle_store.cache_clear()
    output_store.cache_clear()
    runtime_persistence.cache_clear()
    prune_ledger.cache_clear()
    thread_store.cache_clear()
