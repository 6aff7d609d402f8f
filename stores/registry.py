"""Builds the configured backends once per process (settings.SWARM_BACKENDS picks them by dotted path)."""

from __future__ import annotations

import functools
from typing import Any, cast

from django.conf import settings
from django.utils.module_loading import import_string

from stores.contracts import EventSink, LifecycleStore


@functools.cache
def event_log() -> EventSink:
    from stores.backends.orm.events import OrmEventLog
    from swarmsite.live import publish

    return OrmEventLog(publisher=publish)


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


def reset() -> None:
    """Forget built backends (tests that change settings call this)."""
    event_log.cache_clear()
    lifecycle_store.cache_clear()
