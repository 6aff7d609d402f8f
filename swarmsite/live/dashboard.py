"""Websocket consumers. Browsers get HTML fragments; anonymous users are rejected."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from stores.events import DASHBOARD_GROUP, resume_gap
from swarmsite.composition import event_log
from swarmsite.live.fragments import render_fragments
from swarmsite.live.publish import event_message
from swarmsite.roles import VIEWER, has_role

REPLAY_LIMIT = 1000


def _replay(after_id: int) -> list[dict[str, Any]]:
    return [event_message(e) for e in event_log().since(after_id, limit=REPLAY_LIMIT)]


def _resync_notice(after_id: int) -> str | None:
    """A banner telling the page to reload when the events it missed were pruned (never a silent gap)."""
    gap = resume_gap(event_log().pruned_through(), after_id)
    return None if gap is None else render_to_string("live/resync.html", {"after": after_id, "pruned_through": gap})


class DashboardConsumer(AsyncWebsocketConsumer):
    """Pushes every swarm event to a dashboard page. The page sends {"resume_after": id} when the
    socket opens (first load and every reconnect) and receives what it missed from the event log."""

    last_sent = 0
    feed = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await database_sync_to_async(has_role)(user, VIEWER):
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.feed = query.get("feed") == ["1"]
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            after = int(json.loads(text_data or "{}").get("resume_after", 0))
        except (ValueError, TypeError, AttributeError):
            return
        notice = await database_sync_to_async(_resync_notice)(after)
        if notice is not None:
            await self.send(text_data=notice)
        missed = await database_sync_to_async(_replay)(max(after, 0))
        missed = [m for m in missed if m["id"] > self.last_sent]
        if missed:
            self.last_sent = max(self.last_sent, missed[-1]["id"])
            await self.send(text_data=render_fragments(missed, feed=self.feed))

    async def swarm_event(self, message: dict[str, Any]) -> None:
        event_id = message.get("id")
        if event_id is not None:
            if event_id <= self.last_sent:
                return  # already delivered by a replay
            self.last_sent = event_id
        await self.send(text_data=render_fragments([message], feed=self.feed))
