"""Following the event log from a websocket consumer, without gaps, repeats or reordering.

A push through the channel layer is only a doorbell: it says "the log has something new". What a
client receives always comes from the durable log, read after the last id it was sent, in id order,
below the log's committed horizon (stores/backends/orm/events.py). So:
- an event whose push was dropped (a full channel, a server killed between commit and publish, a
  Redis hiccup) still arrives, on the next push or at the latest after FALLBACK_S;
- an event that commits after one with a higher id (PostgreSQL sequences) is sent before it, never
  dropped as "already seen";
- a replay on (re)connect and the live pushes share one cursor, so nothing is sent twice.
Events that are not durable (a heartbeat between two logged ones) have no id and go out as pushed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from stores.types import Event
from swarmsite.composition import event_log
from swarmsite.live.publish import event_message

PAGE = 500
FALLBACK_S = 2.0  # the longest a lost push can delay an event

Reader = Callable[[int, int], list[Event]]
Sender = Callable[[list[dict[str, Any]]], Awaitable[None]]


def log_reader(subject_type: str | None = None, subject_id: str | None = None) -> Reader:
    def read(after: int, limit: int) -> list[Event]:
        return event_log().since(after, limit=limit, subject_type=subject_type, subject_id=subject_id)

    return read


class PushReceiver:
    """The channel-layer handlers of a consumer that follows the log: a push with an id rings the
    follower; one without (not durable) is sent as it came. `swarm.events` carries several pushes of one
    batch write in order (swarmsite/live/publish.py)."""

    follower: LogFollower | None = None

    async def _send_events(self, events: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def swarm_event(self, message: dict[str, Any]) -> None:
        await self.swarm_events({"events": [message]})

    async def swarm_events(self, message: dict[str, Any]) -> None:
        follower = self.follower
        if follower is None:
            return
        pushed = [m for m in message["events"] if not follower.ring(m.get("id"))]
        if pushed:
            await self._send_events(pushed)


class LogFollower:
    """One consumer's cursor into the log. `start(after)` replays from `after` and then follows;
    `ring()` (a push arrived) and the fallback timer trigger a catch-up; catch-ups never overlap."""

    def __init__(self, read: Reader, send: Sender) -> None:
        self._read = read
        self._send = send
        self.cursor: int | None = None  # None: not started (pushes before the replay wait for it)
        self.sent_any = False
        self.start_from_now: int | None = None  # where an unstarted follower starts at the first push
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, after: int) -> None:
        """Follow from `after`. Asking again never repeats what was sent: the cursor only moves back
        while nothing has been sent yet (a follower started from "now" that the client rewinds)."""
        if self.cursor is None or (after < self.cursor and not self.sent_any):
            self.cursor = max(0, after)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        self._wanted.set()

    def ring(self, event_id: int | None) -> bool:
        """A push arrived; False if it carries no id (not in the log: the caller sends it as is)."""
        if event_id is None:
            return False
        if self.cursor is None and self.start_from_now is not None:
            self.start(self.start_from_now)
        if self.cursor is not None and event_id > self.cursor:
            self._wanted.set()
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), FALLBACK_S)
            self._wanted.clear()
            await self.catch_up()

    async def catch_up(self) -> None:
        while self.cursor is not None:
            page = await database_sync_to_async(self._read)(self.cursor, PAGE)
            if not page:
                return
            self.cursor = page[-1].id or self.cursor
            self.sent_any = True
            await self._send([event_message(e) for e in page])
            if len(page) < PAGE:
                return
