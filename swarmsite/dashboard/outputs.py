"""Outputs pages: the filtered list and one output (its event, rendered by type, and its lineage).
Both refresh themselves live on `output.` events."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from stores.errors import NotFound
from stores.output_types import OutputKind
from swarmsite.composition import event_log, output_store
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.dashboard.outputs_lineage import lineage
from swarmsite.roles import VIEWER

MAX_ATTEMPT = 2**32 - 1


def _text(request: HttpRequest, name: str) -> str:
    """A filter value as the store can take it: trimmed, NUL-free, at most 200 characters."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:200]


def _filters(request: HttpRequest) -> dict[str, str]:
    attempt, kind = _text(request, "attempt"), _text(request, "kind")
    return {
        "task_id": _text(request, "task_id"),
        "attempt": attempt if attempt.isdigit() and int(attempt) <= MAX_ATTEMPT else "",
        "producer": _text(request, "producer"),
        "kind": kind if kind in OutputKind._value2member_map_ else "",
    }


@role_required(VIEWER)
def outputs(request: HttpRequest) -> HttpResponse:
    filters, page = _filters(request), page_number(request)
    result = output_store().list_outputs(
        task_id=filters["task_id"] or None,
        attempt=int(filters["attempt"]) if filters["attempt"] else None,
        producer_agent=filters["producer"] or None,
        kind=OutputKind(filters["kind"]) if filters["kind"] else None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    context = {
        "outputs": result.items,
        "filters": filters,
        "filtered": any(filters.values()),
        "kinds": [k.value for k in OutputKind],
        "pagination": pages(result.total, page),
        "last_event_id": event_log().latest_id(),
    }
    template = "outputs/list.html#output-table" if request.htmx else "outputs/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@role_required(VIEWER)
def output_detail(request: HttpRequest, ref: str) -> HttpResponse:
    store = output_store()
    try:
        record = store.get(ref)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    context = {"output": record, **lineage(store, record), "last_event_id": event_log().latest_id()}
    template = "outputs/detail.html#lineage" if request.htmx else "outputs/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)
