"""The dashboard websocket: anonymous users are rejected; a resuming client gets exactly what it missed."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from swarmsite.asgi import application
from swarmsite.composition import event_log, lifecycle_store
from swarmsite.live.routing import websocket_urlpatterns
from tests.conftest import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(user: Any, path: str = "/ws/dashboard/") -> WebsocketCommunicator:
    app = URLRouter(websocket_urlpatterns)
    comm = WebsocketCommunicator(app, path)
    comm.scope["user"] = user
    return comm


def marker_ids(html: str) -> int:
    match = re.search(r'data-last-event-id="(\d*)"', html)
    assert match, html
    return int(match.group(1) or 0)


async def test_anonymous_websocket_is_rejected() -> None:
    comm = communicator(AnonymousUser())
    connected, _ = await comm.connect()
    assert not connected


async def test_websocket_through_the_full_stack_without_a_session_is_rejected() -> None:
    comm = WebsocketCommunicator(application, "/ws/dashboard/", headers=[(b"origin", b"http://localhost")])
    connected, _ = await comm.connect()
    assert not connected


async def test_user_without_a_role_is_rejected() -> None:
    from django.contrib.auth.models import User

    user = await database_sync_to_async(User.objects.create_user)("nobody", password="x-password-1")
    connected, _ = await communicator(user).connect()
    assert not connected


async def test_viewer_receives_live_events_as_html_fragments() -> None:
    user = await database_sync_to_async(user_with_role)("viewer")
    comm = communicator(user, "/ws/dashboard/?feed=1")
    connected, _ = await comm.connect()
    assert connected
    agent = uuid.uuid4()
    await database_sync_to_async(lifecycle_store().register)(agent, name="scout")
    html = await comm.receive_from(timeout=3)
    assert 'id="live-marker"' in html
    assert "agent.online" in html
    assert 'id="event-feed" hx-swap-oob="afterbegin"' in html
    assert "scout" in html
    await comm.disconnect()


async def test_resuming_client_receives_exactly_the_events_it_missed() -> None:
    user = await database_sync_to_async(user_with_role)("viewer")
    store = lifecycle_store()
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await database_sync_to_async(store.register)(first, name="seen-before")
    seen = await database_sync_to_async(event_log().latest_id)()
    # The page was rendered at `seen`; these happen while it is disconnected.
    await database_sync_to_async(store.register)(second, name="missed-one")
    await database_sync_to_async(store.deregister)(second)
    await database_sync_to_async(store.register)(third, name="missed-two")

    comm = communicator(user, "/ws/dashboard/?feed=1")
    assert (await comm.connect())[0]
    await comm.send_json_to({"resume_after": seen})
    html = await comm.receive_from(timeout=3)
    assert "seen-before" not in html
    assert html.count("<li") == 3
    assert "missed-one" in html and "missed-two" in html
    assert "agent.offline" in html
    assert marker_ids(html) == await database_sync_to_async(event_log().latest_id)()
    assert await comm.receive_nothing(timeout=0.2)

    # A second resume from the same cursor sends nothing twice.
    await comm.send_json_to({"resume_after": seen})
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_a_batch_write_reaches_the_viewer_as_one_message_with_every_agent() -> None:
    user = await database_sync_to_async(user_with_role)("viewer")
    store = lifecycle_store()
    agents = [uuid.uuid4() for _ in range(3)]
    for n, agent in enumerate(agents):
        await database_sync_to_async(store.register)(agent, name=f"batch-{n}")
    comm = communicator(user, "/ws/dashboard/?feed=1")
    connected, _ = await comm.connect()
    assert connected
    await database_sync_to_async(store.heartbeat_many)(agents)  # live-only heartbeats: one push per group
    html = await comm.receive_from(timeout=3)
    assert all(f"agent:{agent}" in html for agent in agents), html  # the page's live marker names each
    assert html.count("agent.heartbeat") == 3
    assert await comm.receive_nothing(timeout=0.3)  # nothing left: all three came in that one message
    await comm.disconnect()
