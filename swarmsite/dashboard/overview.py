"""The overview: counts over every store (agents, identities, leases, inbox, outputs, rejected stale
writes) and the recent events, all live."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from identities.dashboard_reads import dashboard_reads
from stores.metrics_types import ALL
from swarmsite.composition import event_log, lifecycle_store
from swarmsite.dashboard.charts import ChartPanel
from swarmsite.dashboard.common import role_required
from swarmsite.dashboard.feed import FEED_KINDS, feed_filter, recent_events
from swarmsite.roles import VIEWER


@role_required(VIEWER)
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "agent_counts": lifecycle_store().count_by_state(),
        "counts": dashboard_reads().overview_counts(now),
        "events": recent_events(feed_filter(request)),
        "feed": feed_filter(request),
        "feed_kinds": FEED_KINDS,
        "charts": ChartPanel(ALL, ""),
        "last_event_id": event_log().latest_id(),
    }
    template = "overview/index.html#overview-counts" if request.htmx else "overview/index.html"  # type: ignore[attr-defined]
    return render(request, template, context)
