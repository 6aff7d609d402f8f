from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from swarmclient import SwarmClient, spec_fields
from swarmsite.models import ApiToken


@pytest.fixture
def app_transport(db: None) -> Iterator[httpx.WSGITransport]:
    """The real Django app in-process. Like django.test.Client, keep the test's DB connection open
    across requests (the request signals would close it mid-transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield httpx.WSGITransport(app=WSGIHandler())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db: None) -> str:
    return ApiToken.issue("client-tests", ApiToken.Scope.ADMIN)[1]


@pytest.fixture
def swarm(token: str, app_transport: httpx.WSGITransport) -> SwarmClient:
    return SwarmClient("http://testserver", token, transport=app_transport, retries=0)


@pytest.fixture
def live_transport(transactional_db: None) -> httpx.WSGITransport:
    """The real app for tests whose client works from background threads (lease renewal): every
    request commits, so each thread's own connection sees the others' writes."""
    return httpx.WSGITransport(app=WSGIHandler())


@pytest.fixture
def live_token(transactional_db: None) -> str:
    return ApiToken.issue("client-tests", ApiToken.Scope.ADMIN)[1]


@pytest.fixture
def make_swarm(token: str, app_transport: httpx.WSGITransport) -> Callable[..., SwarmClient]:
    """Another agent process talking to the same server."""

    def make(**kwargs: object) -> SwarmClient:
        return SwarmClient("http://testserver", token, transport=app_transport, retries=0, **kwargs)  # type: ignore[arg-type]

    return make


def roster_identity(name: str, **spec: object) -> dict[str, object]:
    return {"identity": name, **spec_fields("worker", **spec)}  # type: ignore[arg-type]
