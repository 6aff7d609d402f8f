"""A replay or resume from an event id that retention has pruned reports the gap (resync), on the agents'
stream, the dashboard socket, the HTTP events API and in swarmclient; it never silently starts later."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from identities.types import DurableAgentSpec
from swarmclient.errors import EventsPruned, error_for
from swarmclient.stream import _advance
from swarmsite.asgi import application
from swarmsite.composition import event_log, identity_runtime, lifecycle_store
from swarmsite.live.routing import websocket_urlpatterns
from swarmsite.models import ApiToken
from tests.conftest import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


def history_with_a_pruned_start() -> dict[str, Any]:
    """alpha's events, of which the first two are pruned; returns the ids a client may have seen."""
    runtime = identity_runtime()
    runtime.create_identity(DurableAgentSpec(identity="alpha", profile="worker"))
    agent = uuid.uuid4()
    lifecycle_store().register(agent)
    runtime.acquire_lease("alpha", agent)
    runtime.respawn("alpha", actor="ops")
    ids = [e.id for e in runtime.subscribe("alpha")]
    log = event_log()
    # Prune the two oldest events of the whole log (whatever their subject) in one batch.
    oldest = log.since(0, limit=2)
    assert log.prune_events(timezone.now() + timedelta(seconds=1), limit=2) == 2
    return {"ids": ids, "watermark": oldest[-1].id, "secret": ApiToken.issue("s", "agent")[1]}


async def test_identity_stream_resumed_from_a_pruned_id_says_resync_first() -> None:
    h = await database_sync_to_async(history_with_a_pruned_start)()
    before = h["watermark"] - 1
    comm = WebsocketCommunicator(application, f"/ws/identities/alpha/events/?token={h['secret']}&after={before}")
    connected, _ = await comm.connect()
    assert connected
    first = json.loads(await comm.receive_from(timeout=3))
    assert first["type"] == "resync" and first["code"] == "events_pruned"
    assert (first["after"], first["pruned_through"]) == (before, h["watermark"])
    following = json.loads(await comm.receive_from(timeout=3))
    assert following["id"] > h["watermark"]  # then what is kept, never pretending nothing was missed
    await comm.disconnect()


async def test_identity_stream_resumed_after_the_watermark_has_no_resync() -> None:
    h = await database_sync_to_async(history_with_a_pruned_start)()
    path = f"/ws/identities/alpha/events/?token={h['secret']}&after={h['watermark']}"
    comm = WebsocketCommunicator(application, path)
    connected, _ = await comm.connect()
    assert connected
    assert "type" not in json.loads(await comm.receive_from(timeout=3))
    await comm.disconnect()


async def test_dashboard_resumed_from_a_pruned_id_shows_a_resync_banner() -> None:
    h = await database_sync_to_async(history_with_a_pruned_start)()
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/dashboard/")
    comm.scope["user"] = await database_sync_to_async(user_with_role)("viewer")
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(text_data=json.dumps({"resume_after": 1}))
    banner = await comm.receive_from(timeout=3)
    assert 'id="live-resync"' in banner and f'data-pruned-through="{h["watermark"]}"' in banner
    assert "Reload the page" in banner
    await comm.disconnect()


def test_events_api_from_a_pruned_id_is_a_409_events_pruned() -> None:
    h = history_with_a_pruned_start()
    api = Client(headers={"Authorization": f"Bearer {h['secret']}"})
    gone = api.get(f"/api/v1/identities/alpha/events?after={h['watermark'] - 1}")
    assert gone.status_code == 409
    assert gone.json()["code"] == "events_pruned" and gone.json()["pruned_through"] == h["watermark"]
    ok = api.get(f"/api/v1/identities/alpha/events?after={h['watermark']}")
    assert ok.status_code == 200 and all(e["id"] > h["watermark"] for e in ok.json())
    # swarmclient turns the answer into EventsPruned with the watermark to resume after.
    error = error_for(409, gone.json())
    assert isinstance(error, EventsPruned) and error.pruned_through == h["watermark"]


def test_swarmclient_stream_raises_events_pruned_on_a_resync_message() -> None:
    with pytest.raises(EventsPruned) as caught:
        _advance(3, json.dumps({"type": "resync", "code": "events_pruned", "after": 3, "pruned_through": 9}))
    assert caught.value.pruned_through == 9
