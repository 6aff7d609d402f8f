"""Lifecycle helpers shared by every LifecycleStore backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from stores.errors import InvalidInput
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


def distinct_agents(agent_ids: Sequence[UUID]) -> list[UUID]:
    """The ids of a batch call, in order; InvalidInput if one is named twice (a caller bug, and two
    answers for one agent would contradict each other)."""
    ids = list(agent_ids)
    if len(set(ids)) != len(ids):
        twice = sorted({str(a) for a in ids if ids.count(a) > 1})
        raise InvalidInput(f"agent ids named more than once: {', '.join(twice)}", duplicate_ids=twice)
    return ids
