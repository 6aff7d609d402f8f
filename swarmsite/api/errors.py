"""The one table mapping domain errors to HTTP, and the handlers that render every error as
`{"detail": ..., "code": ...}`. Routers import the schemas from here; the NinjaAPI assembly installs the
handlers, so no router imports the assembly back."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from stores import errors as store_errors
from swarmsite.api.auth import InsufficientScope
from swarmsite.composition import identity_runtime


class ErrorOut(Schema):
    detail: str
    code: str


# Domain error class -> HTTP status. Lookup walks the exception's MRO, so subclasses inherit
# their parent's status unless listed. Later issues add their error roots here.
ERROR_STATUS: dict[type[Exception], int] = {
    store_errors.NotFound: 404,
    store_errors.Conflict: 409,
    store_errors.InvalidInput: 422,
    store_errors.Serialization: 422,
    store_errors.Backend: 503,
    store_errors.StorageError: 500,
}

# What every operation may answer besides its success, so the OpenAPI documents it.
COMMON_ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut}


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    raise exc


def _location(loc: Any) -> list[str]:
    """Where the problem is, as a client names it: `body.<field>` (ninja adds the body parameter's name,
    `body` in every router, after the source)."""
    parts = [str(part) for part in loc]
    if parts[:2] == ["body", "body"]:
        del parts[1]
    return parts


def install_error_handlers(api: NinjaAPI) -> None:
    """Render every error the API raises through `api`'s renderer."""

    def error_response(request: HttpRequest, status: int, detail: str, code: str, **context: Any) -> HttpResponse:
        return api.create_response(request, {"detail": detail, "code": code, **context}, status=status)

    @api.exception_handler(store_errors.StorageError)
    def on_domain_error(request: HttpRequest, exc: store_errors.StorageError) -> HttpResponse:
        return error_response(request, status_for(exc), exc.detail, exc.code, **exc.context)

    @api.exception_handler(store_errors.StaleFencingToken)
    def on_stale_write(request: HttpRequest, exc: store_errors.StaleFencingToken) -> HttpResponse:
        """Every fenced write of every router (outputs, runtimes, sessions, checkpoints) that is refused
        for a stale token is recorded here, after its transaction rolled back, then answered as usual."""
        caller = getattr(getattr(request, "auth", None), "name", None)
        if caller:
            exc.context.setdefault("caller", caller)
        identity_runtime().record_stale_write(exc)
        return on_domain_error(request, exc)

    @api.exception_handler(ValidationError)
    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        problems = [
            {"loc": _location(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors
        ]
        summary = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems[:5])
        return error_response(request, 422, f"invalid input: {summary}", "invalid_input", errors=problems)

    @api.exception_handler(AuthenticationError)
    def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(request, 401, "missing or invalid bearer token", "unauthorized")

    @api.exception_handler(InsufficientScope)
    def on_scope_error(request: HttpRequest, exc: InsufficientScope) -> HttpResponse:
        return error_response(request, 403, str(exc), "forbidden", needed_scope=exc.needed)

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, ValidationError):  # the body parser's checks (ninja wraps them in a 400)
            return on_validation_error(request, exc.__cause__)
        codes = {400: "malformed_request", 404: "not_found", 413: "payload_too_large"}
        return error_response(request, exc.status_code, str(exc), codes.get(exc.status_code, "http_error"))

    @api.exception_handler(Http404)
    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(request, 404, str(exc) or "not found", "not_found")
