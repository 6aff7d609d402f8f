"""The configured IdentityRuntime, handed to this room by the composition root at start-up
(`swarmsite.apps.SwarmsiteConfig.ready` calls `install`), so the identities' admin actions go through
the same runtime as the API and the dashboard without `identities` importing the web product above it."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from identities.runtime import IdentityRuntime

_identity_runtime: Callable[[], IdentityRuntime] | None = None


def install(identity_runtime: Callable[[], IdentityRuntime]) -> None:
    global _identity_runtime
    _identity_runtime = identity_runtime


def identity_runtime() -> IdentityRuntime:
    """The one domain entry point, over the configured stores."""
    if _identity_runtime is None:
        raise ImproperlyConfigured("no composition root installed the runtime (is 'swarmsite' in INSTALLED_APPS?)")
    return _identity_runtime()
