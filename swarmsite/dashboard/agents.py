"""The agents page: liveness of every agent with its heartbeat age, filtered by state.

By default it lists the agents an operator is watching: the online ones and those that went offline or
expired within SWARM_AGENTS_RECENT_S. Older ones are counted and a click away (`?state=all`, or a state),
until retention prunes them after SWARM_RETENTION_AGENTS_DAYS."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from stores.types import AgentState
from swarmsite.composition import event_log, lifecycle_store
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.roles import VIEWER

ALL = "all"


def _span(seconds: float) -> str:
    """'1 hour', '2 hours', '15 minutes', '7 days': a window as the page says it."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{seconds:g} seconds"


@role_required(VIEWER)
def agents(request: HttpRequest) -> HttpResponse:
    state_param = request.GET.get("state", "")
    state = AgentState(state_param) if state_param in AgentState._value2member_map_ else None
    show_all = state_param == ALL
    page = page_number(request)
    store, now = lifecycle_store(), timezone.now()
    recent_s = float(settings.SWARM_AGENTS_RECENT_S)
    # The default view: online, and ended within the window (0 turns the window off: everything).
    recent_only = state is None and not show_all and recent_s > 0
    ended_since = now - timedelta(seconds=recent_s) if recent_only else None
    result = store.list_agents(state=state, ended_since=ended_since, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    counts = store.count_by_state()
    retention_days = float(settings.SWARM_RETENTION_AGENTS_DAYS)
    context = {
        "agents": result.items,
        "state": state.value if state else (ALL if show_all else ""),
        "states": [s.value for s in AgentState],
        "counts": {s.value: n for s, n in counts.items()},
        "everyone": sum(counts.values()),
        "hidden": sum(counts.values()) - result.total if recent_only else 0,
        "recent_only": recent_only,
        "recent_span": _span(recent_s).removeprefix("1 "),  # "in the last hour"
        "retention_span": _span(retention_days * 86400) if retention_days > 0 else "",
        "pagination": pages(result.total, page),
        "now": now,
        "last_event_id": event_log().latest_id(),
    }
    template = "agents/list.html#agent-table" if request.htmx else "agents/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)
