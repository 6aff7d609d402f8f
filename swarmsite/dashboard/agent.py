"""One agent: name, id, state and why, heartbeat history, charts, the identities it holds and held, its
claims, outputs and rejected writes. Reached from every place an agent's name is shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from identities.lookups import lookups
from stores.errors import NotFound
from stores.metrics_types import AGENT
from stores.types import AgentRecord, AgentState
from swarmsite.composition import event_log, lifecycle_store, output_store
from swarmsite.dashboard.charts import ChartPanel
from swarmsite.dashboard.common import role_required
from swarmsite.roles import VIEWER

HISTORY = 30


def why(agent: AgentRecord, now: datetime) -> str:
    """Why the agent is in its state, in a sentence."""
    ttl = settings.SWARM_AGENT_TTL_S
    if agent.state == AgentState.EXPIRED:
        return (f"It stopped heartbeating: no heartbeat for more than {ttl:g}s after its last one, so the "
                "sweep expired it and freed its leases and claims. It must register again.")
    if agent.state == AgentState.OFFLINE:
        return "It deregistered (a clean shutdown) and gave its leases up."
    silent = (now - agent.last_heartbeat).total_seconds()
    return f"It heartbeats; it expires if silent for {ttl:g}s (silent for {silent:.0f}s now)."


def known_agent(agent_id: str) -> AgentRecord:
    try:
        return lifecycle_store().get(uuid.UUID(agent_id))
    except (ValueError, NotFound) as exc:
        raise Http404(f"no agent {agent_id[:64]!r}") from exc


@role_required(VIEWER)
def agent_detail(request: HttpRequest, agent_id: str) -> HttpResponse:
    agent, now = known_agent(agent_id), timezone.now()
    reads = lookups()
    holds, held = reads.agent_leases(agent.agent_id, now)
    key = str(agent.agent_id)
    context: dict[str, Any] = {
        "agent": agent, "why": why(agent, now), "holds": holds, "held": held,
        "heartbeats": event_log().recent(limit=HISTORY, subject_type="agent", subject_id=key),
        "claims": reads.agent_claims(agent.agent_id, limit=HISTORY),
        "rejections": reads.agent_rejections(agent.agent_id, limit=HISTORY),
        "outputs": output_store().list_outputs(producer_agent=key, limit=HISTORY).items,
        "charts": ChartPanel(AGENT, key), "last_event_id": event_log().latest_id(),
    }
    template = "agents/detail.html#agent-summary" if request.htmx else "agents/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)
