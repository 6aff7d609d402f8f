"""With REDIS_URL set (CI's second pass), events reach websocket clients through Redis."""

from __future__ import annotations

import os
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from swarmsite.composition import lifecycle_store
from swarmsite.live.routing import websocket_urlpatterns
from tests.conftest import user_with_role

REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (CI runs the suite a second time with Redis)"),
]


async def test_events_fan_out_to_websockets_through_redis(settings: object) -> None:
    settings.CHANNEL_LAYERS = {  # type: ignore[attr-defined]
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    channel_layers.backends.clear()
    user = await database_sync_to_async(user_with_role)("viewer")
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/dashboard/?feed=1")
    comm.scope["user"] = user
    assert (await comm.connect(timeout=5))[0]  # the first Redis connection of a busy test process
    name = f"redis-{uuid.uuid4().hex[:6]}"
    await database_sync_to_async(lifecycle_store().register)(uuid.uuid4(), name=name)
    html = await comm.receive_from(timeout=5)
    assert name in html and "agent.online" in html
    await comm.disconnect()
    channel_layers.backends.clear()
