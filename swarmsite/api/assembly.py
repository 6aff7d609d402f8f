"""The agent-facing JSON API assembled: one NinjaAPI with bearer auth, the error handlers, the health and
no-op routes, and one router per resource (each in its own module beside this one)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.parser import Parser

from swarmsite.api.agents import agents_router
from swarmsite.api.auth import BearerToken
from swarmsite.api.errors import COMMON_ERRORS, install_error_handlers
from swarmsite.api.identities import identities_router
from swarmsite.api.outputs import outputs_router
from swarmsite.api.roster import roster_router
from swarmsite.api.runtimes import runtimes_router
from swarmsite.api.sessions import sessions_router
from swarmsite.api.threads import threads_router


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
