"""Routers for the store resources (thin: validate, call the store, shape the answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status

from stores.types import AgentRecord, AgentState
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.schemas import JsonObject, PageOut, PageParams, ShortText
from swarmsite.composition import lifecycle_store

agents_router = Router(tags=["agents"])


class RegisterIn(Schema):
    name: ShortText(200) = ""  # type: ignore[valid-type]
    metadata: JsonObject | None = None


class AgentOut(Schema):
    agent_id: UUID
    name: str
    state: AgentState
    registered_at: datetime
    last_heartbeat: datetime
    state_changed_at: datetime
    ttl_s: float
    metadata: dict[str, Any]


class AgentFilter(PageParams):
    state: AgentState | None = None


def agent_out(record: AgentRecord) -> dict[str, Any]:
    return {
        "agent_id": record.agent_id,
        "name": record.name,
        "state": record.state,
        "registered_at": record.registered_at,
        "last_heartbeat": record.last_heartbeat,
        "state_changed_at": record.state_changed_at,
        "ttl_s": settings.SWARM_AGENT_TTL_S,
        "metadata": record.metadata,
    }


@agents_router.post("/{agent_id}/register", response={200: AgentOut, **COMMON_ERRORS})
def register(request: HttpRequest, agent_id: UUID, body: RegisterIn | None = None) -> dict[str, Any]:
    """Mark the agent online (an upsert: registering again refreshes it). Heartbeat within `ttl_s`."""
    body = body or RegisterIn()
    return agent_out(lifecycle_store().register(agent_id, name=body.name, metadata=body.metadata))


@agents_router.post("/{agent_id}/heartbeat", response={200: AgentOut, 404: ErrorOut, **COMMON_ERRORS})
def heartbeat(request: HttpRequest, agent_id: UUID) -> dict[str, Any]:
    """Refresh liveness. 404 `not_found` if not registered or deregistered; 404 `agent_expired` if the
    agent stayed silent past the TTL (register again)."""
    return agent_out(lifecycle_store().heartbeat(agent_id))


@agents_router.post("/{agent_id}/deregister", response={204: None, **COMMON_ERRORS})
def deregister(request: HttpRequest, agent_id: UUID) -> Status:
    """Mark the agent offline on a clean shutdown. Idempotent."""
    lifecycle_store().deregister(agent_id)
    return Status(204, None)


@agents_router.get("/{agent_id}", response={200: AgentOut, 404: ErrorOut, **COMMON_ERRORS})
def get_agent(request: HttpRequest, agent_id: UUID) -> dict[str, Any]:
    """One agent with its effective state (online, offline or expired)."""
    return agent_out(lifecycle_store().get(agent_id))


@agents_router.get("", response={200: PageOut[AgentOut], **COMMON_ERRORS})
def list_agents(request: HttpRequest, filters: Query[AgentFilter]) -> dict[str, Any]:
    """Agents, most recently seen first, optionally filtered by state; paginated by offset/limit."""
    page = lifecycle_store().list_agents(state=filters.state, offset=filters.offset, limit=filters.limit)
    return {"items": [agent_out(r) for r in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}
