"""Global search from the nav bar: identities, agents (name or id), output refs, task ids, session ids
and batch ids. One exact hit opens its page; otherwise the hits are listed by kind."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from identities.lookups import SearchHit, lookups
from swarmsite.composition import event_log
from swarmsite.dashboard.common import role_required
from swarmsite.roles import VIEWER

ROUTES = {"identity": "identity", "agent": "agent", "output": "output", "task": "task", "session": "session"}
KIND_LABELS = {"identity": "Identities", "agent": "Agents", "output": "Outputs", "task": "Tasks",
               "session": "Sessions", "batch": "Inbox batches"}


def hit_url(hit: SearchHit) -> str:
    if hit.kind == "batch":
        return reverse("session", args=[hit.detail.removeprefix("session ")]) + f"#batch-{hit.key}"
    return reverse(ROUTES[hit.kind], args=[hit.key])


@role_required(VIEWER)
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    hits = lookups().search(query) if query else []
    exact = [h for h in hits if h.key == query or h.label == query]
    if len(exact) == 1 and request.GET.get("list") != "1":
        return redirect(hit_url(exact[0]))
    groups = [(label, [(h, hit_url(h)) for h in hits if h.kind == kind]) for kind, label in KIND_LABELS.items()]
    context = {"query": query, "groups": [g for g in groups if g[1]], "count": len(hits),
               "last_event_id": event_log().latest_id()}
    return render(request, "search/results.html", context)
