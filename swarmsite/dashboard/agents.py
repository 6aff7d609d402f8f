"""The agents page: liveness of every agent with its heartbeat age, filtered by state."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from stores.types import AgentState
from swarmsite.composition import event_log, lifecycle_store
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.roles import VIEWER


@role_required(VIEWER)
def agents(request: HttpRequest) -> HttpResponse:
    state_param = request.GET.get("state", "")
    state = AgentState(state_param) if state_param in AgentState._value2member_map_ else None
    page = page_number(request)
    result = lifecycle_store().list_agents(state=state, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {
        "agents": result.items,
        "state": state.value if state else "",
        "states": [s.value for s in AgentState],
        "pagination": pages(result.total, page),
        "now": timezone.now(),
        "last_event_id": event_log().latest_id(),
    }
    template = "agents/list.html#agent-table" if request.htmx else "agents/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)
