"""The identity's JSON event stream: token auth, live events, resume from a last event id."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from identities.types import DurableAgentSpec
from swarmsite.asgi import application
from swarmsite.composition import identity_runtime, lifecycle_store
from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


def setup_identity() -> tuple[str, uuid.UUID]:
    identity_runtime().create_identity(DurableAgentSpec(identity="alpha", profile="worker"))
    agent = uuid.uuid4()
    lifecycle_store().register(agent)
    return ApiToken.issue("stream", "agent")[1], agent


def stream(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    # The full ASGI stack, as agents reach it: no Origin header, token auth.
    return WebsocketCommunicator(application, path, headers=headers or [])


async def receive(comm: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await comm.receive_from(timeout=3))


async def test_stream_without_a_valid_token_is_refused() -> None:
    await database_sync_to_async(setup_identity)()
    for path, headers in [
        ("/ws/identities/alpha/events/", []),
        ("/ws/identities/alpha/events/?token=sws_wrong", []),
        ("/ws/identities/alpha/events/", [(b"authorization", b"Bearer sws_wrong")]),
    ]:
        connected, code = await stream(path, headers).connect()
        assert not connected and code == 4401


async def test_stream_of_an_unknown_identity_is_refused() -> None:
    secret, _ = await database_sync_to_async(setup_identity)()
    connected, code = await stream(f"/ws/identities/ghost/events/?token={secret}").connect()
    assert not connected and code == 4404


async def test_stream_replays_then_delivers_live_events_as_json() -> None:
    secret, agent = await database_sync_to_async(setup_identity)()
    comm = stream("/ws/identities/alpha/events/", [(b"authorization", f"Bearer {secret}".encode())])
    connected, _ = await comm.connect()
    assert connected
    registered = await receive(comm)
    assert registered["kind"] == "identity.registered" and registered["subject_id"] == "alpha"
    grant = await database_sync_to_async(identity_runtime().acquire_lease)("alpha", agent)
    live = await receive(comm)
    assert live["kind"] == "identity.lease_acquired" and live["id"] > registered["id"]
    assert live["payload"]["fencing_token"] == grant.fencing_token
    assert live["payload"]["status"]["lease"]["holder"] == str(agent)
    await comm.disconnect()


async def test_resume_from_a_last_event_id_gets_exactly_what_was_missed() -> None:
    secret, agent = await database_sync_to_async(setup_identity)()
    runtime = identity_runtime()
    grant = await database_sync_to_async(runtime.acquire_lease)("alpha", agent)
    seen = (await database_sync_to_async(runtime.subscribe)("alpha"))[-1].id
    await database_sync_to_async(runtime.checkpoint)("alpha", b"x", token=grant.fencing_token, agent_id=agent)
    await database_sync_to_async(runtime.respawn)("alpha", actor="ops")
    comm = stream(f"/ws/identities/alpha/events/?token={secret}&after={seen}")
    connected, _ = await comm.connect()
    assert connected
    kinds = [(await receive(comm))["kind"] for _ in range(3)]
    assert kinds == ["identity.checkpoint_completed", "identity.lease_lost", "identity.respawned"]
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()
