"""Dashboard pages: thin function views over the stores' read methods."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from stores.registry import event_log, lifecycle_store
from stores.types import AgentState
from swarmsite.roles import VIEWER, has_role

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def role_required(role: str) -> Callable[[View], View]:
    """Login first; then 403 unless the user's role is at least `role` (checked on every request)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"this page needs the {role} role")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def pages(total: int, page: int) -> dict[str, Any]:
    last = max(1, -(-total // PAGE_SIZE))
    return {"page": page, "last_page": last, "has_prev": page > 1, "has_next": page < last, "total": total}


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
