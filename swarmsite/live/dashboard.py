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
from swarmsite.live.follow import LogFollower, PushReceiver, log_reader
from swarmsite.live.fragments import render_fragments
from swarmsite.roles import VIEWER, has_role


def _resync_notice(after_id: int) -> str | None:
    """A banner telling the page to reload when the events it missed were pruned (never a silent gap)."""
    gap = resume_gap(event_log().pruned_through(), after_id)
    return None if gap is None else render_to_string("live/resync.html", {"after": after_id, "pruned_through": gap})


class DashboardConsumer(PushReceiver, AsyncWebsocketConsumer):
    """Pushes every swarm event to a dashboard page. The page sends {"resume_after": id} when the
    socket opens (first load and every reconnect); from then on it gets every event after that id
    from the log, in order, once (see live/follow.py). Pushes are only the doorbell."""

    feed = False
    follower: LogFollower | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await database_sync_to_async(has_role)(user, VIEWER):
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.feed = query.get("feed") == ["1"]
        self.follower = LogFollower(log_reader(), self._send_events)
        # A client that never sends resume_after follows from now on.
        self.follower.start_from_now = await database_sync_to_async(event_log().latest_id)()
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)
        if self.follower is not None:
            await self.follower.stop()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            after = int(json.loads(text_data or "{}").get("resume_after", 0))
        except (ValueError, TypeError, AttributeError):
            return
        notice = await database_sync_to_async(_resync_notice)(after)
        if notice is not None:
            await self.send(text_data=notice)
        self.resume_from(after)

    def resume_from(self, after: int) -> None:
        """The replay point: everything in the log after `after` is sent, then live events follow."""
        if self.follower is not None:
            self.follower.start(max(after, 0))

    async def _send_events(self, events: list[dict[str, Any]]) -> None:
        await self.send(text_data=render_fragments(events, feed=self.feed))

