"""One identity: spec, status, lease, continuity, checkpoints (with a diff between two versions),
inbox, recent outputs, peers and a live timeline. Each panel refreshes itself live; an htmx refresh
names its panel (HX-Target) and only that panel is computed and rendered."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from identities.dashboard_reads import dashboard_reads
from identities.errors import InvalidIdentity, UnknownIdentity
from identities.runtime import IdentityRuntime
from identities.types import validate_identity
from stores.metrics_types import IDENTITY
from swarmsite.composition import event_log, identity_runtime
from swarmsite.dashboard.charts import ChartPanel
from swarmsite.dashboard.common import role_required
from swarmsite.dashboard.identity_diff import diff_snapshots
from swarmsite.dashboard.identity_panels import PANELS, subject
from swarmsite.dashboard.identity_recovery import ACTIONS
from swarmsite.roles import VIEWER


def known(name: str) -> IdentityRuntime:
    """The runtime, once `name` is known to exist (else 404)."""
    runtime = identity_runtime()
    try:
        # A malformed name (NUL bytes, too long) is refused here: PostgreSQL would fail on it.
        runtime.spec(validate_identity(name))
    except (InvalidIdentity, UnknownIdentity) as exc:
        raise Http404(exc.detail) from exc
    return runtime


@role_required(VIEWER)
def identity_detail(request: HttpRequest, name: str) -> HttpResponse:
    runtime, now = known(name), timezone.now()
    target = request.htmx.target if request.htmx else None  # type: ignore[attr-defined]
    panels = [target] if target in PANELS else list(PANELS)
    context: dict[str, Any] = {
        "name": name, "subject": subject("identity", name), "actions": ACTIONS,
        "send_key": uuid.uuid4().hex, "last_event_id": event_log().latest_id(),
        "charts": ChartPanel(IDENTITY, name),
    }
    for panel in panels:
        context.update(PANELS[panel](runtime, name, now))
    template = f"identity/detail.html#{target}" if target in PANELS else "identity/detail.html"
    return render(request, template, context)


def _version(param: str) -> tuple[int, int] | None:
    """'<generation>:<version>' from a query string; None if malformed."""
    generation, _, version = param.partition(":")
    try:
        return int(generation), int(version)
    except ValueError:
        return None


@role_required(VIEWER)
def checkpoint_diff(request: HttpRequest, name: str) -> HttpResponse:
    known(name)
    old, new = _version(request.GET.get("from", "")), _version(request.GET.get("to", ""))
    if old is None or new is None:
        return HttpResponse("choose two checkpoints to compare", status=422)
    reads = dashboard_reads()
    old_data, new_data = reads.checkpoint_data(name, *old), reads.checkpoint_data(name, *new)
    context = {
        "name": name, "old": old, "new": new, "missing": old_data is None or new_data is None,
        "diff": diff_snapshots(old_data, new_data), "last_event_id": event_log().latest_id(),
    }
    template = "identity/diff.html#checkpoint-diff" if request.htmx else "identity/diff.html"  # type: ignore[attr-defined]
    return render(request, template, context)
