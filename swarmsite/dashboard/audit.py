"""The audit log: who did what to which identity (or session, or API token), when, with what result; and
the stale writes that fencing rejected (the evidence a zombie owner was stopped). Live on `identity.`
events."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identities.lookups import lookups
from swarmsite.audit_subjects import subject_of
from swarmsite.composition import event_log, identity_runtime
from swarmsite.dashboard.audit_filters import KNOWN_ACTIONS, RANGES, audit_query
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.roles import VIEWER

SHOWS = ("actions", "rejections")


@role_required(VIEWER)
def audit_log(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "actions")
    show = show if show in SHOWS else "actions"
    query = audit_query(request)
    identity, page = query.subject, page_number(request)
    registry = identity_runtime().registry()
    who, offset = identity or None, (page - 1) * PAGE_SIZE
    context: dict[str, Any] = {"show": show, "identity": identity, "last_event_id": event_log().latest_id(),
                               "q": query.params(), "actions": KNOWN_ACTIONS, "ranges": RANGES}
    if show == "rejections":
        # Rejected writes have a subject and a time but no actor or action: those two filters do not apply.
        rejections = registry.list_rejections(identity=who, since=query.where.since, until=query.where.until,
                                               offset=offset, limit=PAGE_SIZE)
        context.update(rejections=rejections.items, pagination=pages(rejections.total, page),
                       agent_names=lookups().agent_names({r.agent_id for r in rejections.items if r.agent_id}))
    else:
        audits = registry.list_audit(identity=who, where=query.where, offset=offset, limit=PAGE_SIZE)
        context.update(entries=[(r, subject_of(r)) for r in audits.items], pagination=pages(audits.total, page))
    template = "audit/list.html#audit-table" if request.htmx else "audit/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)
