"""Cross-store lookups the dashboard's agent page, global search and links need: what an agent holds,
claimed and had rejected; agent names by id; which identity (and generation) a session belongs to; and
the objects a search text names. Read-only and bounded (each a fixed number of indexed queries)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "identities.backends.orm.lookups.OrmLookups"
SEARCH_LIMIT = 10


@dataclass(frozen=True)
class HeldLease:
    identity: str
    fencing_token: int
    state: str  # held (live), or how it ended: released, lost (with lost_reason), fenced, expired
    acquired_at: datetime | None
    expires_at: datetime | None
    lost_reason: str = ""


@dataclass(frozen=True)
class AgentClaim:
    session_id: str
    batch_id: str
    claim_id: str
    outcome: str  # claimed (still held), completed, cancelled, or released (claimable again)


@dataclass(frozen=True)
class AgentRejection:
    identity: str
    operation: str
    presented_token: int | None  # None: the write carried no token
    current_token: int | None
    created_at: datetime


@dataclass(frozen=True)
class SessionOwner:
    identity: str
    generation: int


@dataclass(frozen=True)
class SearchHit:
    """One object a search names: kind (identity, agent, output, task, session, batch), its key and label."""

    kind: str
    key: str
    label: str
    detail: str = ""


class Lookups(Protocol):
    def agent_leases(self, agent_id: UUID, now: datetime) -> tuple[list[HeldLease], list[HeldLease]]:
        """The leases the agent holds now, and the ones it held last (each identity's latest holder)."""
        ...

    def agent_claims(self, agent_id: UUID, *, limit: int = 50) -> list[AgentClaim]:
        """Inbox batches the agent claimed, newest first."""
        ...

    def agent_rejections(self, agent_id: UUID, *, limit: int = 50) -> list[AgentRejection]:
        """Writes of the agent refused for a stale fencing token, newest first."""
        ...

    def agent_names(self, agent_ids: Iterable[UUID | str]) -> Mapping[str, str]:
        """Each known agent's name by its id (as text); ids that are not agents are left out."""
        ...

    def session_owners(self, session_ids: Iterable[str]) -> Mapping[str, SessionOwner]:
        """Which identity (and generation) each session is the continuity of; unknown ones are left out."""
        ...

    def search(self, text: str, *, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        """Identities, agents (name or id), outputs (ref), tasks, sessions and batches the text names."""
        ...


def lookups() -> Lookups:
    path = getattr(settings, "SWARM_LOOKUPS", DEFAULT_BACKEND)
    return import_string(path)()  # type: ignore[no-any-return]
