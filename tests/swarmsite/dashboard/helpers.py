"""Building identities for dashboard tests through the runtime (no model access)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from identities.runtime import IdentityRuntime
from identities.types import Addressability, DurableAgentSpec, LeaseGrant
from swarmsite.composition import identity_runtime, lifecycle_store


def create(name: str, *, internal: bool = False, **labels: str) -> IdentityRuntime:
    runtime = identity_runtime()
    addressability = Addressability.INTERNAL_ONLY if internal else Addressability.ADDRESSABLE
    runtime.create_identity(
        DurableAgentSpec(identity=name, profile="worker", addressability=addressability, labels=labels), actor="test"
    )
    return runtime


def online_agent(name: str = "agent") -> uuid.UUID:
    agent = uuid.uuid4()
    lifecycle_store().register(agent, name=name)
    return agent


def hold(identity: str, agent: uuid.UUID | None = None, ttl_s: float = 30.0) -> LeaseGrant:
    return identity_runtime().acquire_lease(identity, agent or online_agent(), ttl_s=ttl_s)


def checkpoint(identity: str, grant: LeaseGrant, state: Any) -> None:
    identity_runtime().checkpoint(
        identity, json.dumps(state).encode(), token=grant.fencing_token, agent_id=grant.holder
    )


def _log_read_queries() -> int:
    from django.db import connection

    return 3 if connection.vendor == "postgresql" else 0


# A page that reads the event log's newest id pays for the gapless horizon on PostgreSQL: take the
# append lock, read the sequence, let go (stores/backends/orm/events.py). Constant, whatever the rows.
LOG_READ = _log_read_queries()
