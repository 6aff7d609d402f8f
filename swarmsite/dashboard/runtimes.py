"""Runtimes pages: the list (state, counts) and one runtime (state and its next states, inputs with
their history, receipts). Both refresh themselves live on `runtime.` events."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from stores.errors import NotFound
from stores.runtime import input_note
from stores.runtime_state import allowed_next, describe
from stores.runtime_types import RuntimeState
from swarmsite.composition import event_log, runtime_store
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.roles import VIEWER

RECEIPTS_SHOWN = 20


@role_required(VIEWER)
def runtimes(request: HttpRequest) -> HttpResponse:
    state_param = request.GET.get("state", "")
    state = RuntimeState(state_param) if state_param in RuntimeState._value2member_map_ else None
    page = page_number(request)
    result = runtime_store().list_runtimes(state=state, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {
        "runtimes": result.items,
        "state": state.value if state else "",
        "states": [s.value for s in RuntimeState],
        "pagination": pages(result.total, page),
        "last_event_id": event_log().latest_id(),
    }
    template = "runtimes/list.html#runtime-table" if request.htmx else "runtimes/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@role_required(VIEWER)
def runtime_detail(request: HttpRequest, runtime_id: str) -> HttpResponse:
    store = runtime_store()
    try:
        summary = store.get_runtime(runtime_id)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    page = page_number(request)
    inputs = store.load_input_states(runtime_id)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    context = {
        "runtime": summary,
        "why": describe(summary.state),
        "allowed_next": [s.value for s in allowed_next(summary.state)],
        "inputs": [{"state": s, "why": input_note(s)} for s in inputs],
        "pagination": pages(summary.input_count, page),
        "receipts": store.list_receipts(runtime_id, limit=RECEIPTS_SHOWN).items,
        "now": timezone.now(),
        "last_event_id": event_log().latest_id(),
    }
    template = "runtimes/detail.html#runtime-detail" if request.htmx else "runtimes/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)
