"""Lifecycle helpers shared by every LifecycleStore backend."""

from __future__ import annotations

from typing import Any

from stores.types import AgentRecord


def agent_payload(record: AgentRecord) -> dict[str, Any]:
    """The self-contained snapshot carried by every agent event."""
    return {
        "agent_id": str(record.agent_id),
        "name": record.name,
        "state": record.state.value,
        "registered_at": record.registered_at.isoformat(),
        "last_heartbeat": record.last_heartbeat.isoformat(),
        "state_changed_at": record.state_changed_at.isoformat(),
    }
