"""The roster: every identity with state, lease, continuity and health; search, filters, pagination;
bulk respawn / retire on the whole filter result with a count preview. Live on `identity.` events."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone

from identities.dashboard_reads import LEASE_FILTERS, dashboard_reads
from identities.lookups import lookups
from identities.types import IdentityState
from swarmsite.composition import event_log, identity_runtime
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.dashboard.roster_table import RosterFilters, parse_search, roster_page
from swarmsite.roles import VIEWER

SEARCH_MAX = 200


def roster_filters(params: QueryDict) -> tuple[RosterFilters, dict[str, str]]:
    """The filters from a query string (unknown values are ignored, never an error) and their echo."""
    state_param = params.get("state", "")
    state = IdentityState(state_param) if state_param in IdentityState._value2member_map_ else None
    lease = params.get("lease", "")
    lease = lease if lease in LEASE_FILTERS else ""
    q = params.get("q", "").replace("\x00", "")[:SEARCH_MAX]
    search, label = parse_search(q)
    echo = {"state": state.value if state else "", "lease": lease, "q": q}
    return RosterFilters(state=state, lease=lease, search=search, label=label), echo


def filter_query(echo: dict[str, str]) -> str:
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in echo.items() if v})
    return query.urlencode()


@role_required(VIEWER)
def roster(request: HttpRequest) -> HttpResponse:
    filters, echo = roster_filters(request.GET)
    page = page_number(request)
    result = roster_page(
        identity_runtime(), dashboard_reads(), timezone.now(), filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    context: dict[str, Any] = {
        "rows": result.items,
        "agent_names": lookups().agent_names(
            {h for r in result.items for h in (r.lease.holder, r.lease.last_holder) if h is not None}
        ),
        "filters": echo,
        "filtered": any(echo.values()),
        "filter_query": filter_query(echo),
        "states": [s.value for s in IdentityState],
        "lease_filters": LEASE_FILTERS,
        "pagination": pages(result.total, page),
        "last_event_id": event_log().latest_id(),
    }
    template = "roster/list.html#roster-table" if request.htmx else "roster/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)
