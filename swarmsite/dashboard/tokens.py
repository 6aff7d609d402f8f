"""API tokens for admins: the list (name, scope, prefix, created, last used, revoked), creating one (its
secret is shown once, on the response, and never stored) and revoking one. Admin only on the server for
every request; each create and revoke is audited with the subject `token:<name>`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from swarmsite.api import tokens as token_service
from swarmsite.dashboard.common import PAGE_SIZE, page_number, pages, role_required
from swarmsite.dashboard.forms import clean_text
from swarmsite.dashboard.identity_actions import actor_of
from swarmsite.models import ApiToken
from swarmsite.roles import ADMIN

TEMPLATE = "tokens/list.html"
NAME_MAX = 100  # ApiToken.name
SCOPES = [s.value for s in ApiToken.Scope]
CHANGED = "tokens:changed"  # the table refreshes itself on this client event


def _table_context(page: int) -> dict[str, Any]:
    rows = ApiToken.objects.order_by("-created_at", "-id")
    total = rows.count()
    return {
        "tokens": list(rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]),
        "pagination": pages(total, page),
        "table_url": reverse("tokens") + (f"?page={page}" if page > 1 else ""),
    }


def _page(request: HttpRequest, status: int = 200, form: dict[str, str] | None = None, **shown: Any) -> HttpResponse:
    context: dict[str, Any] = {"scopes": SCOPES, "form": {"name": "", "scope": "agent", **(form or {})}, **shown}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, f"{TEMPLATE}#token-create", context, status=status)
    context.update(_table_context(page_number(request)))
    return render(request, TEMPLATE, context, status=status)


@role_required(ADMIN)
def tokens(request: HttpRequest) -> HttpResponse:
    if request.htmx and request.htmx.target == "token-table":  # type: ignore[attr-defined]
        return render(request, f"{TEMPLATE}#token-table", _table_context(page_number(request)))
    return _page(request)


@role_required(ADMIN)
@require_POST
@never_cache  # the response carries the secret: no cache may keep it
def create_token(request: HttpRequest) -> HttpResponse:
    name, error = clean_text(request.POST.get("name", ""), NAME_MAX, "name", required=True)
    scope = request.POST.get("scope", "")
    if not error and scope not in SCOPES:
        error = f"the scope must be one of {', '.join(SCOPES)}"
    if error:
        return _page(request, 422, {"name": name, "scope": scope if scope in SCOPES else "agent", "error": error})
    token, secret = token_service.issue_token(actor_of(request), name, scope)
    response = _page(request, created=token, secret=secret)
    return trigger_client_event(response, CHANGED) if request.htmx else response  # type: ignore[attr-defined]


@role_required(ADMIN)
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise Http404("no such token")
    revoked = token_service.revoke_token(actor_of(request), token)
    detail = "" if revoked else "the token was already revoked"
    (messages.success if revoked else messages.error)(
        request, f"Token {token.name} ({token.prefix}…) revoked." if revoked else f"Token {token.name}: {detail}."
    )
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, f"{TEMPLATE}#token-table", _table_context(page_number(request)))
    return redirect("tokens")
