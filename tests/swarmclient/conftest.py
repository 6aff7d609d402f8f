from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from swarmclient import SwarmClient
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
