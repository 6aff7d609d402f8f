"""Sessions pages: the list (head revision, node count, pending and claimed work) and one session (the
active path of its graph, its head, its inbox with claim owners and live expiry countdowns). Operators
cancel unclaimed batches; admins vacuum and GC after seeing a dry run. Both pages refresh themselves
live on `queue.` and `session.` events. Cancels and applied vacuum/GC runs are audited with the subject
`session:<id>`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from identities.lookups import lookups
from stores.errors import NotFound
from stores.persistence import epoch_ms
from stores.persistence_types import ActivePath, GcReport, VacuumReport
from stores.queue_types import QueuedWorkBatch
from swarmsite.audit_subjects import session_subject
from swarmsite.composition import event_log, identity_runtime, runtime_persistence
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.dashboard.identity_actions import BATCH_ID_MAX, audit
from swarmsite.roles import ADMIN, OPERATOR, VIEWER, has_role

QUEUE_SHOWN = 100
SESSION_ID_MAX = 200  # the sessions table's key


def checked_session(session_id: str) -> str:
    """404 for an id no session can have: PostgreSQL fails on NUL bytes, and the audit column has no
    room for more."""
    if len(session_id) > SESSION_ID_MAX or "\x00" in session_id:
        raise Http404("no such session")
    return session_id


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True)
class BatchRow:
    """A batch as the page shows it; the view computes its status, the template only formats it."""

    batch: QueuedWorkBatch
    status: str  # claimed | pending | scheduled
    why: str
    expires_at: datetime | None
    available_at: datetime | None

    @property
    def cancellable(self) -> bool:
        return self.status != "claimed"

    @property
    def enqueued_at(self) -> datetime:
        return moment(self.batch.enqueued_at_ms)

    @property
    def preview(self) -> str:
        return preview(self.batch.items[0].payload.body) if self.batch.items else ""


def preview(value: Any, length: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= length else text[: length - 1] + "…"


def batch_row(batch: QueuedWorkBatch, now_ms: int) -> BatchRow:
    claim = batch.claim
    if batch.is_held(now_ms):
        assert claim is not None
        return BatchRow(batch, "claimed", "", moment(claim.expires_at_ms), None)
    if claim is not None:
        why = f"the claim of {claim.owner_id} expired unfinished; the next claim takes it"
        return BatchRow(batch, "pending", why, moment(claim.expires_at_ms), None)
    if not batch.is_ready(now_ms):
        return BatchRow(batch, "scheduled", "", None, moment(batch.available_at_ms))
    return BatchRow(batch, "pending", "", None, None)


@role_required(VIEWER)
def sessions(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    result = runtime_persistence().list_sessions(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {"sessions": result.items, "pagination": pages(result.total, page),
               "owners": lookups().session_owners(s.session_id for s in result.items),
               "last_event_id": event_log().latest_id()}
    template = "sessions/list.html#session-table" if request.htmx else "sessions/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _detail_context(session_id: str) -> dict[str, Any]:
    factory = runtime_persistence()
    try:
        summary = factory.get_summary(session_id)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    store = factory.open(session_id)
    head = store.load_session(ActivePath())
    now = timezone.now()
    rows = [batch_row(b, epoch_ms(now)) for b in store.list_queued_work(session_id, limit=QUEUE_SHOWN)]
    return {
        "summary": summary,
        "meta": store.load_session_meta(),
        "head": head,
        "path": [{"node": n, "preview": preview(n.payload.get("event", n.payload.get("body", dict(n.payload))))}
                 for n in (head.graph.nodes if head else ())],
        "rows": rows,
        "owner": lookups().session_owners([session_id]).get(session_id),
        "agent_names": lookups().agent_names({r.batch.claim.owner_id for r in rows if r.batch.claim}),
        "queue_total": summary.pending_count + summary.claimed_count,
        "maintenance_actions": [("vacuum", "Vacuum…"), ("gc", "GC…")],
        "now": now,
        "last_event_id": event_log().latest_id(),
    }


@role_required(VIEWER)
def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    context = _detail_context(session_id)
    template = "sessions/detail.html#session-detail" if request.htmx else "sessions/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@require_POST
@role_required(VIEWER)
def cancel_batch(request: HttpRequest, session_id: str, batch_id: str) -> HttpResponse:
    if not has_role(request.user, OPERATOR):
        raise PermissionDenied("cancelling queued work needs the operator role")
    checked_session(session_id)
    shown = batch_id[:BATCH_ID_MAX].replace("\x00", "")
    cancelled = None
    if shown == batch_id:  # a batch id no batch can have (too long, NUL) cancels nothing
        cancelled = runtime_persistence().open(session_id).cancel_queued_work_batch(session_id, batch_id)
    why = "" if cancelled else "the batch is claimed, finished or gone"
    audit(identity_runtime(), request, "batch_cancelled", session_subject(session_id), ok=cancelled is not None,
          result={"batch_id": shown, "detail": why})
    if cancelled is None:
        messages.error(request, f"Batch {shown} was not cancelled: it is claimed, finished or gone.")
    else:
        messages.success(request, f"Batch {shown} was cancelled.")
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "sessions/detail.html#session-detail", _detail_context(session_id))
    return redirect("session", session_id=session_id)


@require_POST
@role_required(VIEWER)
def maintenance(request: HttpRequest, session_id: str, action: str) -> HttpResponse:
    """Vacuum or GC: without `apply` a dry run that shows what would go, with it the real thing."""
    if not has_role(request.user, ADMIN):
        raise PermissionDenied("vacuum and GC need the admin role")
    if action not in ("vacuum", "gc"):
        raise Http404("unknown maintenance action")
    store = runtime_persistence().open(checked_session(session_id))
    dry_run = request.POST.get("apply") != "1"
    report = store.vacuum(dry_run=dry_run) if action == "vacuum" else store.gc_unreachable(dry_run=dry_run)
    if not dry_run:  # a dry run changes nothing, so only the real thing is audited
        audit_maintenance(request, session_id, report)
    context = {"session_id": session_id, "action": action, "report": report}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "sessions/maintenance.html", context)
    if dry_run:
        return render(request, "sessions/maintenance_page.html", context)
    messages.success(request, f"{action} done.")
    return redirect("session", session_id=session_id)


def audit_maintenance(request: HttpRequest, session_id: str, report: VacuumReport | GcReport) -> None:
    result: dict[str, Any]
    if isinstance(report, VacuumReport):
        action, ok, result = "session_vacuumed", True, {"removed_nodes": report.removed_node_count}
    else:
        action, ok = "session_gc", report.aborted is None
        result = ({"deleted_blobs": report.deleted_blob_count, "retained_blobs": report.retained_blob_count}
                  if ok else {"error": "gc_aborted", "detail": report.aborted})
    audit(identity_runtime(), request, action, session_subject(session_id), ok=ok, result=result)
