from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from django.utils import timezone

from swarmclient import AgentExpired, InvalidInput, NotFound, SwarmClient, Unauthorized


def test_register_heartbeat_deregister_round_trip(swarm: SwarmClient) -> None:
    assert swarm.register(name="planner")["state"] == "online"
    assert swarm.heartbeat()["name"] == "planner"
    swarm.deregister()
    with pytest.raises(NotFound) as excinfo:
        swarm.heartbeat()
    assert excinfo.value.code == "not_found" and excinfo.value.status == 404


def test_expired_agent_raises_agent_expired(swarm: SwarmClient) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        swarm.register()
    with time_machine.travel(start + timedelta(minutes=2), tick=False), pytest.raises(AgentExpired):
        swarm.heartbeat()


def test_bad_token_raises_unauthorized(app_transport: httpx.WSGITransport) -> None:
    bad = SwarmClient("http://testserver", "nope", transport=app_transport)
    with pytest.raises(Unauthorized):
        bad.list_agents()


def test_invalid_input_maps_to_invalid_input(swarm: SwarmClient) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        swarm.register(name="x" * 500)
    assert excinfo.value.body["errors"]


def test_idempotent_calls_are_retried_on_transport_errors(token: str, app_transport: httpx.WSGITransport) -> None:
    app = app_transport
    failures = {"left": 2}

    class Flaky(httpx.BaseTransport):
        """A network that drops the first two connections (a process boundary, not our server)."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if failures["left"]:
                failures["left"] -= 1
                raise httpx.ConnectError("connection refused")
            return app.handle_request(request)

    swarm = SwarmClient("http://testserver", token, transport=Flaky(), retries=3)
    assert swarm.register()["state"] == "online"
    assert failures["left"] == 0
