"""Lifecycle expiry hooks of the durable inbox (listed in settings.SWARM_EXPIRY_HOOKS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stores.types import AgentRecord


def release_claims_of_expired_agents(records: Sequence[AgentRecord], now: datetime) -> None:
    """Free the inbox claims of agents that just expired, so no work waits behind a dead agent.

    Runs inside the expiry's transaction: the claims are released if and only if the expiry commits."""
    from stores.registry import runtime_persistence

    factory = runtime_persistence()
    for record in records:
        factory.release_claims_of_owner(str(record.agent_id))
