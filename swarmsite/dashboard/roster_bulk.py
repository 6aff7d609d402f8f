"""Bulk respawn / retire on everything the roster's filter matches: a count preview first, then the
action on exactly the set that was previewed. The preview carries a fingerprint of the matching
names; if the filter matches a different set when the operator confirms, nothing runs and the new
set is previewed again (the race restate#4455 hit with client-resolved ids)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from identities.dashboard_reads import dashboard_reads
from stores.errors import StorageError
from swarmsite.composition import event_log, identity_runtime
from swarmsite.dashboard.common import role_required
from swarmsite.dashboard.forms import clean_text
from swarmsite.dashboard.identity_actions import actor_of
from swarmsite.dashboard.identity_recovery import ACTIONS, BULK_ACTIONS
from swarmsite.dashboard.roster import filter_query, roster_filters
from swarmsite.roles import VIEWER, has_role

BULK_MAX = 500
SAMPLE = 12
TEMPLATE = "roster/bulk.html"


@dataclass(frozen=True)
class BulkItem:
    identity: str
    ok: bool
    detail: str = ""


def fingerprint(names: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]


@role_required(VIEWER)
@require_http_methods(["GET", "POST"])
def roster_bulk(request: HttpRequest, action: str) -> HttpResponse:
    if action not in BULK_ACTIONS:
        raise Http404(f"no bulk {action}")
    spec = ACTIONS[action]
    if not has_role(request.user, spec.role):
        raise PermissionDenied(f"bulk {action} needs the {spec.role} role")
    params = request.POST if request.method == "POST" else request.GET
    filters, echo = roster_filters(params)
    names = dashboard_reads().roster_names(
        timezone.now(), state=filters.state, lease=filters.lease, search=filters.search, label=filters.label,
        limit=BULK_MAX,
    )
    context: dict[str, Any] = {
        "action": spec, "filters": echo, "filter_query": filter_query(echo), "total": names.total,
        "sample": names.items[:SAMPLE], "too_many": names.total > BULK_MAX, "bulk_max": BULK_MAX,
        "fingerprint": fingerprint(names.items), "last_event_id": event_log().latest_id(),
    }
    if request.method == "GET":
        return _render(request, context)
    reason, error = clean_text(request.POST.get("reason", ""), 500, "reason")
    if error:
        return _render(request, {**context, "error": error}, status=422)
    if context["too_many"] or request.POST.get("fingerprint") != context["fingerprint"]:
        notice = "The identities matching this filter changed since the preview: check the new set and confirm again."
        return _render(request, {**context, "error": notice}, status=409)
    results = _run(action, names.items, actor_of(request), reason or f"bulk {action} on the roster filter")
    return _render(request, {**context, "results": results, "done": sum(r.ok for r in results)})


def _run(action: str, names: Sequence[str], actor: str, reason: str) -> list[BulkItem]:
    """One runtime call per identity (each fenced, audited and evented on its own); failures are kept."""
    runtime, spec = identity_runtime(), ACTIONS[action]
    results = []
    for name in names:
        try:
            spec.run(runtime, name, actor, reason)
            results.append(BulkItem(name, True))
        except StorageError as exc:
            results.append(BulkItem(name, False, exc.detail))
    return results


def _render(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    template = f"{TEMPLATE}#bulk-panel" if request.htmx else TEMPLATE  # type: ignore[attr-defined]
    return render(request, template, context, status=status)
