"""The agent-facing JSON API assembled: one NinjaAPI with bearer auth, the error handlers, the health and
no-op routes, and one router per resource (each in its own module beside this one)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from csp.decorators import csp_exempt
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError
from ninja.operation import Operation
from ninja.parser import Parser

from swarmsite.api.agents import agents_router
from swarmsite.api.auth import BearerToken
from swarmsite.api.errors import COMMON_ERRORS, install_error_handlers
from swarmsite.api.identities import identities_router
from swarmsite.api.outputs import outputs_router
from swarmsite.api.rendering import FastJSONRenderer
from swarmsite.api.roster import roster_router
from swarmsite.api.runtimes import runtimes_router
from swarmsite.api.schemas import unstorable_text
from swarmsite.api.sessions import sessions_router
from swarmsite.api.threads import threads_router


class EmptyBodyParser(Parser):
    """An empty body reads as {} so optional bodies may simply be left out (curl -X POST). Every body is
    a JSON object (as documented) and no string in it holds what PostgreSQL cannot store (NUL) or what is
    not Unicode text (a lone surrogate such as "\\ud800"): refused with 422 at the edge, for every route."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        parsed = super().parse_body(request)
        if not isinstance(parsed, dict):
            raise ValidationError([{"loc": ("body",), "msg": "the body must be a JSON object", "type": "object_type"}])
        problem = unstorable_text(parsed)
        if problem is not None:
            path, why = problem
            raise ValidationError([{"loc": ("body", *path), "msg": why, "type": "string_unicode"}])
        return parsed


def for_people_and_tokens(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API docs and the OpenAPI document: for logged-in dashboard users and for holders of an API
    token (so clients can be generated from it), not for anonymous visitors. The docs page renders
    Swagger UI with inline script, so it is exempt from the dashboard's Content-Security-Policy."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bearer = request.headers.get("Authorization", "")
        has_token = bearer.startswith("Bearer ") and BearerToken().authenticate(request, bearer[7:]) is not None
        if not (request.user.is_authenticated or has_token):
            return JsonResponse({"detail": "log in to the dashboard or send an API token to read the API docs",
                                 "code": "unauthorized"}, status=401)
        return view(request, *args, **kwargs)

    return cast(Callable[..., HttpResponse], csp_exempt()(guarded))


class SwarmsiteAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        """`<resource>_<function>` (`identities_acquire_lease`, `sessions_commit`): stable, readable names
        for generated clients, unique because each resource's routes live in one module."""
        module = operation.view_func.__module__.rsplit(".", 1)[-1]
        name = operation.view_func.__name__
        return name if module == "assembly" else f"{module}_{name}"


api = SwarmsiteAPI(
    docs_decorator=for_people_and_tokens,
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
    renderer=FastJSONRenderer(),
)
install_error_handlers(api)


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


# One router per resource, each in its own module; none of them imports this one.
api.add_router("/agents", agents_router)
api.add_router("/outputs", outputs_router)
api.add_router("/runtimes", runtimes_router)
api.add_router("/identities", identities_router)
api.add_router("/roster", roster_router)
api.add_router("/sessions", sessions_router)
api.add_router("/threads", threads_router)
