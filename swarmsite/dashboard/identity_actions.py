"""Recovery actions on one identity (respawn, retire, reset, delete), each previewed before it runs;
sending a message; cancelling inbox work; bulk respawn / retire on the roster's filter.

The role is checked on the server for every request (a forged POST by a viewer gets 403 and changes
nothing); destructive actions also need the identity's name typed, checked here too. Every action
goes through IdentityRuntime with the user as the audited actor."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from identities.errors import UnknownIdentity
from identities.runtime import IdentityRuntime
from identities.types import AuditRecord
from stores.errors import StorageError
from swarmsite.composition import event_log, runtime_persistence
from swarmsite.dashboard.common import role_required
from swarmsite.dashboard.forms import clean_text
from swarmsite.dashboard.identity import known
from swarmsite.dashboard.identity_panels import subject
from swarmsite.dashboard.identity_recovery import ACTIONS, ActionSpec, build_preview, check_typed_name
from swarmsite.roles import OPERATOR, VIEWER, has_role

TEMPLATE = "identity/action.html"
BATCH_ID_MAX = 80


def actor_of(request: HttpRequest) -> str:
    return str(request.user.get_username())


@role_required(VIEWER)
@require_http_methods(["GET", "POST"])
def recovery_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404(f"unknown action {action!r}")
    if not has_role(request.user, spec.role):
        raise PermissionDenied(f"{action} needs the {spec.role} role")
    runtime = known(name)
    if request.method == "POST":
        return _perform(request, runtime, name, spec)
    return _confirm(request, runtime, name, spec)


def _confirm(
    request: HttpRequest, runtime: IdentityRuntime, name: str, spec: ActionSpec, *, error: str = "",
    reason: str = "", status: int = 200,
) -> HttpResponse:
    context = {
        "name": name, "subject": subject("identity", name), "error": error, "reason": reason,
        "preview": build_preview(runtime, name, spec.name, timezone.now()), "last_event_id": event_log().latest_id(),
    }
    # The plan refreshes itself live while the panel is open, leaving the form (and what was typed) alone.
    part = "confirm-plan" if request.htmx and request.htmx.target == "confirm-plan" else "confirm-panel"  # type: ignore[attr-defined]
    template = f"{TEMPLATE}#{part}" if request.htmx else TEMPLATE  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _perform(request: HttpRequest, runtime: IdentityRuntime, name: str, spec: ActionSpec) -> HttpResponse:
    reason, reason_error = clean_text(request.POST.get("reason", ""), 500, "reason")
    error = reason_error or check_typed_name(spec.name, name, request.POST.get("confirm_name", ""))
    if error:
        return _confirm(request, runtime, name, spec, error=error, reason=reason, status=422)
    try:
        spec.run(runtime, name, actor_of(request), reason)
    except UnknownIdentity as exc:
        raise Http404(exc.detail) from exc
    except StorageError as exc:
        return _result(request, name, spec, ok=False, detail=exc.detail, status=409)
    return _result(request, name, spec, ok=True, detail="")


def _result(
    request: HttpRequest, name: str, spec: ActionSpec, *, ok: bool, detail: str, status: int = 200
) -> HttpResponse:
    (messages.success if ok else messages.error)(
        request, f"{name} {spec.verb}." if ok else f"{spec.name} refused: {detail}"
    )
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("identity", name=name)
    events = event_log().recent(limit=10, subject_type="identity", subject_id=name)
    event = next((e for e in events if e.kind == f"identity.{spec.verb}"), None) if ok else None
    context: dict[str, Any] = {"name": name, "spec": spec, "ok": ok, "detail": detail, "event": event}
    return render(request, f"{TEMPLATE}#action-result", context, status=status)


@role_required(OPERATOR)
@require_POST
def send_message(request: HttpRequest, name: str) -> HttpResponse:
    runtime = known(name)
    text, error = clean_text(request.POST.get("text", ""), 10_000, "message", required=True)
    key, key_error = clean_text(request.POST.get("key", ""), 64, "idempotency key")
    outcome: dict[str, Any] = {"error": error or key_error}
    if outcome["error"]:
        return _small_result(request, name, "send-result", outcome)
    # The form's key makes a double submit deliver once.
    idempotency_key = f"dashboard:{key}" if key else None
    try:
        delivery = runtime.send(name, {"type": "text", "text": text}, idempotency_key=idempotency_key)
    except StorageError as exc:
        audit(runtime, request, "message_sent", name, ok=False, result={"error": exc.code, "detail": exc.detail})
        return _small_result(request, name, "send-result", {"error": exc.detail})
    audit(runtime, request, "message_sent", name, ok=True,
          result={"batch_id": delivery.batch_id, "fencing_token": delivery.fencing_token})
    return _small_result(request, name, "send-result", {"delivery": delivery})


@role_required(OPERATOR)
@require_POST
def cancel_batch(request: HttpRequest, name: str, batch_id: str) -> HttpResponse:
    runtime = known(name)
    record = runtime.continuity_record(name)
    cancelled = None
    if record is not None and len(batch_id) <= BATCH_ID_MAX and "\x00" not in batch_id:
        session = str(record.session_id)
        cancelled = runtime_persistence().open(session).cancel_queued_work_batch(session, batch_id)
    ok = cancelled is not None
    detail = "" if ok else "the batch is claimed by a live worker or already gone"
    shown = batch_id[:BATCH_ID_MAX].replace("\x00", "")
    audit(runtime, request, "inbox_cancelled", name, ok=ok, result={"batch_id": shown, "why": detail})
    return _small_result(request, name, "cancel-result", {"cancelled": ok, "batch_id": shown, "error": detail})


def _small_result(request: HttpRequest, name: str, part: str, outcome: dict[str, Any]) -> HttpResponse:
    failed = bool(outcome.get("error"))
    text = outcome.get("error") or ("Message sent." if part == "send-result" else "Inbox work cancelled.")
    (messages.error if failed else messages.success)(request, text)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("identity", name=name)
    return render(request, f"identity/detail.html#{part}", {"name": name, **outcome})


def audit(
    runtime: IdentityRuntime, request: HttpRequest, action: str, identity: str, *, ok: bool, result: dict[str, Any]
) -> None:
    """Audit a dashboard action the runtime does not audit itself (send, cancel)."""
    runtime.registry().record_audit(
        AuditRecord(actor=actor_of(request), action=action, identity=identity, reason="", ok=ok, result=result,
                    created_at=timezone.now())
    )
