"""Lifecycle expiry hook of the identity runtime (listed in settings.SWARM_EXPIRY_HOOKS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stores.types import AgentRecord


def free_leases_of_expired_agents(records: Sequence[AgentRecord], now: datetime) -> None:
    """An expired agent's identity leases are lost at once (identity.lease_lost), in the expiry's transaction."""
    from stores.registry import identity_runtime

    identity_runtime().free_leases_of(records, now)


def sweep_leases() -> int:
    """Persist the loss of leases past their TTL (called by the server's periodic sweep)."""
    from stores.registry import identity_runtime

    return len(identity_runtime().expire_leases())
