"""The configured session stores, handed to this room by the composition root at start-up
(`swarmsite.apps.SwarmsiteConfig.ready` calls `install`), so the stores' admin actions reach the same
backends as the API without `stores` importing the web product above it."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from stores.contracts import RuntimePersistenceFactory

_runtime_persistence: Callable[[], RuntimePersistenceFactory] | None = None


def install(runtime_persistence: Callable[[], RuntimePersistenceFactory]) -> None:
    global _runtime_persistence
    _runtime_persistence = runtime_persistence


def runtime_persistence() -> RuntimePersistenceFactory:
    """The configured factory of session stores (fenced and evented, as the API uses it)."""
    if _runtime_persistence is None:
        raise ImproperlyConfigured("no composition root installed the stores (is 'swarmsite' in INSTALLED_APPS?)")
    return _runtime_persistence()
