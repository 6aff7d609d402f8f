"""The storage contracts. Every backend (InMemory*, Orm*) passes the same conformance suite.

Contracts are synchronous: the ORM needs transaction.atomic(). Async callers use sync_to_async.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from stores.types import AgentRecord, AgentState, Event, Fence, Page


class EventSink(Protocol):
    """Where stores record what changed: appended in the caller's transaction, published after commit."""

    def emit(
        self,
        kind: str,
        subject_type: str,
        subject_id: str,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        durable: bool = True,
    ) -> Event:
        """Append an event (durable=False: publish live only, no log entry, id None)."""
        ...

    def since(
        self, after_id: int, *, limit: int = 500, subject_type: str | None = None, subject_id: str | None = None
    ) -> list[Event]:
        """Durable events with id > after_id, oldest first, optionally for one subject."""
        ...

    def recent(self, *, limit: int = 50, subject_type: str | None = None, subject_id: str | None = None) -> list[Event]:
        """The newest durable events, newest first."""
        ...

    def latest_id(self) -> int:
        """The id of the newest durable event, 0 when the log is empty."""
        ...


class LifecycleStore(Protocol):
    """Agent liveness: register, heartbeat, deregister; silent agents expire after the TTL."""

    def register(
        self, agent_id: UUID, *, name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> AgentRecord:
        """Upsert: the agent is online with last_heartbeat = now. Never fails for a known agent."""
        ...

    def heartbeat(self, agent_id: UUID) -> AgentRecord:
        """Refresh liveness. NotFound if unknown or offline; AgentExpired if silent past the TTL."""
        ...

    def deregister(self, agent_id: UUID) -> None:
        """Mark offline, keeping the row as history. Idempotent: unknown or offline agents are fine."""
        ...

    def get(self, agent_id: UUID) -> AgentRecord:
        """One agent with its effective state (an online agent past the TTL reads as expired). NotFound."""
        ...

    def list_agents(self, *, state: AgentState | None = None, offset: int = 0, limit: int = 50) -> Page[AgentRecord]:
        """Agents by effective state, most recently seen first."""
        ...

    def count_by_state(self) -> dict[AgentState, int]:
        """How many agents are in each effective state."""
        ...

    def expire_silent(self) -> Sequence[AgentRecord]:
        """The sweep: persist expiry of online agents silent past the TTL, emit agent.expired, run hooks."""
        ...


class FenceGuard(Protocol):
    """Fencing for every write path: called by a store inside the transaction of a fenced write."""

    def check(self, fence: Fence, *, operation: str) -> None:
        """Raise StaleFencingToken unless fence.token is the identity's current token and its lease is live.

        Must run inside the caller's transaction so the check and the write are one atomic step; on
        databases with row locks it locks the identity's lease row so a concurrent grant waits."""
        ...
