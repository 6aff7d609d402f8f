"""Lifecycle expiry hooks (listed in settings.SWARM_EXPIRY_HOOKS): what an expired agent held is freed
through the composed runtime and session stores, inside the expiry's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stores.types import AgentRecord


def free_leases_of_expired_agents(records: Sequence[AgentRecord], now: datetime) -> None:
    """An expired agent's identity leases are lost at once (identity.lease_lost), in the expiry's transaction."""
    from swarmsite.composition import identity_runtime

    identity_runtime().free_leases_of(records, now)


def sweep_leases() -> int:
    """Persist the loss of leases past their TTL (called by the server's periodic sweep)."""
    from swarmsite.composition import identity_runtime

    return len(identity_runtime().expire_leases())


def release_claims_of_expired_agents(records: Sequence[AgentRecord], now: datetime) -> None:
    """Free the inbox claims of agents that just expired, so no work waits behind a dead agent.

    Runs inside the expiry's transaction: the claims are released if and only if the expiry commits."""
    from swarmsite.composition import runtime_persistence

    factory = runtime_persistence()
    for record in records:
        factory.release_claims_of_owner(str(record.agent_id))
