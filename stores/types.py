"""Values that cross layers: frozen dataclasses, no ORM objects."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int
    limit: int


class AgentState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AgentRecord:
    agent_id: UUID
    name: str
    state: AgentState
    registered_at: datetime
    last_heartbeat: datetime
    state_changed_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)

    def heartbeat_age_s(self, now: datetime) -> float:
        return max(0.0, (now - self.last_heartbeat).total_seconds())


class HeartbeatOutcome(enum.StrEnum):
    """What one heartbeat of a batch did: the single call's answer, as a value instead of an error."""

    OK = "ok"
    AGENT_EXPIRED = "agent_expired"  # silent past the TTL: expired now (or before); register again
    NOT_FOUND = "not_found"  # never registered, or deregistered


@dataclass(frozen=True)
class HeartbeatResult:
    agent_id: UUID
    outcome: HeartbeatOutcome
    record: AgentRecord | None = None  # the refreshed agent when the outcome is OK


@dataclass(frozen=True)
class Event:
    """One entry of the event log. `id` is None for live-only events (coalesced heartbeats)."""

    kind: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]
    created_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class EventDraft:
    """An event a batch write appends with others in one go (EventSink.emit_many)."""

    kind: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]
    durable: bool = True


@dataclass(frozen=True)
class Fence:
    """A write made on behalf of an identity under its lease: the token it was granted.

    Stores that accept a fence check it with the FenceGuard inside the write's own transaction."""

    identity: str
    token: int
    agent_id: UUID | None = None
