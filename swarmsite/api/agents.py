"""Routers for the store resources (thin: validate, call the store, shape the answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from stores.types import AgentRecord, AgentState, HeartbeatOutcome
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.rendering import json_answer
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


# The most agents one batch heartbeat may name (a process hosting more splits its beat).
MAX_HEARTBEATS = 500


class HeartbeatsIn(Schema):
    agent_ids: list[UUID] = Field(
        min_length=1, max_length=MAX_HEARTBEATS,
        description=f"The agents to refresh (1 to {MAX_HEARTBEATS}, each once).",
    )


class HeartbeatResultOut(Schema):
    agent_id: UUID
    outcome: HeartbeatOutcome = Field(
        description="`ok`, or the code the single heartbeat would have answered: `agent_expired` (silent past "
        "the TTL; it is expired now and must register again) or `not_found` (never registered, or deregistered)."
    )
    last_heartbeat: datetime | None = Field(description="The refreshed heartbeat time when `ok`.")


class HeartbeatsOut(Schema):
    results: list[HeartbeatResultOut]
    ok: int = Field(description="How many agents were refreshed.")
    ttl_s: float


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


# Before the /{agent_id} routes, so the path is never read as an agent id.
@agents_router.post("/heartbeats", response={200: HeartbeatsOut, **COMMON_ERRORS}, summary="Heartbeat many agents")
def heartbeat_many(request: HttpRequest, body: HeartbeatsIn) -> dict[str, Any]:
    """Refresh the liveness of up to 500 agents in one call (for a process hosting many agents), in a
    fixed number of statements. Each agent gets its own outcome, exactly what its single heartbeat
    would have answered: `ok`, `agent_expired` (expired now, its leases and claims freed; register it
    again) or `not_found`. One expired agent never fails the batch. 422 `invalid_input` for an empty
    list, more than 500 ids, or an id named twice."""
    results = lifecycle_store().heartbeat_many(body.agent_ids)
    return {
        "results": [{"agent_id": r.agent_id, "outcome": r.outcome,
                     "last_heartbeat": r.record.last_heartbeat if r.record else None} for r in results],
        "ok": sum(r.outcome == HeartbeatOutcome.OK for r in results),
        "ttl_s": settings.SWARM_AGENT_TTL_S,
    }


@agents_router.post("/{agent_id}/register", response={200: AgentOut, **COMMON_ERRORS})
def register(request: HttpRequest, agent_id: UUID, body: RegisterIn | None = None) -> dict[str, Any]:
    """Mark the agent online (an upsert: registering again refreshes it). Heartbeat within `ttl_s`."""
    body = body or RegisterIn()
    return agent_out(lifecycle_store().register(agent_id, name=body.name, metadata=body.metadata))


@agents_router.post("/{agent_id}/heartbeat", response={200: AgentOut, 404: ErrorOut, **COMMON_ERRORS})
def heartbeat(request: HttpRequest, agent_id: UUID) -> HttpResponse:
    """Refresh liveness. 404 `not_found` if not registered or deregistered; 404 `agent_expired` if the
    agent stayed silent past the TTL (register again). A server that saw this agent online within half
    the TTL answers from memory and writes the heartbeat within `SWARM_HEARTBEAT_FLUSH_S` (0.2 s), with
    every other heartbeat it answered meanwhile; a deregister or expiry made through another server
    process is answered from that server's next flush on."""
    # The hottest route: written straight from the store's typed record, whose fields are AgentOut's
    # own types, without building and validating the model again.
    return json_answer(agent_out(lifecycle_store().heartbeat(agent_id)))


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
