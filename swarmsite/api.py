"""The agent-facing JSON API: one NinjaAPI, bearer auth, and the one table mapping errors to HTTP."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from stores import errors as store_errors
from swarmsite.auth import BearerToken, InsufficientScope


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


class EmptyBodyParser(Parser):
    """An empty body reads as {} so optional bodies may simply be left out (curl -X POST)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        return super().parse_body(request)


api = NinjaAPI(
    parser=EmptyBodyParser(),
    title="Swarmsite API",
    version="1",
    description=(
        "The control plane for a swarm of agents. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `manage.py create_api_token NAME --scope agent`). Errors are "
        '`{"detail": ..., "code": ...}`; act on `code`.'
    ),
    auth=BearerToken(),
    urls_namespace="api",
)


def error_response(request: HttpRequest, status: int, detail: str, code: str, **context: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": code, **context}, status=status)


@api.exception_handler(store_errors.StorageError)
def on_domain_error(request: HttpRequest, exc: store_errors.StorageError) -> HttpResponse:
    return error_response(request, status_for(exc), exc.detail, exc.code, **exc.context)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
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
    codes = {400: "malformed_request", 404: "not_found", 413: "payload_too_large"}
    return error_response(request, exc.status_code, str(exc), codes.get(exc.status_code, "http_error"))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, str(exc) or "not found", "not_found")


class HealthOut(Schema):
    status: str


@api.get("/health", auth=None, response=HealthOut, tags=["health"])
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness of the server itself. The only route that needs no token."""
    return {"status": "ok"}


class NoopOut(Schema):
    ok: bool


@api.get("/noop", response={200: NoopOut, **COMMON_ERRORS}, tags=["health"])
def noop(request: HttpRequest) -> dict[str, bool]:
    """Does nothing after authentication: the baseline the benchmarks compare against."""
    return {"ok": True}


@api.post("/noop", response={200: NoopOut, **COMMON_ERRORS}, tags=["health"])
def noop_post(request: HttpRequest) -> dict[str, bool]:
    """The POST flavour of the no-op baseline."""
    return {"ok": True}


def _register_routers() -> None:
    from identities.api import identities_router
    from identities.api_roster import roster_router
    from stores.api import agents_router
    from stores.api_outputs import outputs_router
    from stores.api_runtime import runtimes_router

    api.add_router("/agents", agents_router)
    api.add_router("/outputs", outputs_router)
    api.add_router("/runtimes", runtimes_router)
    api.add_router("/identities", identities_router)
    api.add_router("/roster", roster_router)
    from stores.api_sessions import sessions_router

    api.add_router("/sessions", sessions_router)


_register_routers()
