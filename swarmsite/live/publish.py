"""Publishing events to channel groups (after commit; see stores/backends/orm/events.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

from stores.events import event_groups
from stores.types import Event

log = logging.getLogger(__name__)

MESSAGE_TYPE = "swarm.event"
BATCH_TYPE = "swarm.events"  # {"events": [swarm.event message, ...]}


def event_message(event: Event) -> dict[str, Any]:
    return {
        "type": MESSAGE_TYPE,
        "id": event.id,
        "kind": event.kind,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


def publish(event: Event) -> None:
    """Fan an event out to the dashboard group and, for a followed subject, its subject's group. Delivery
    is best effort: the durable log is the source of truth and clients resume from it after a gap."""
    publish_many([event])


def publish_many(events: Sequence[Event]) -> None:
    """The events of one write or batch write (a batch heartbeat, the heartbeat buffer's flush): each group
    gets them in order, several in one `swarm.events` message instead of one message per event."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    by_group: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        message = event_message(event)
        for group in event_groups(event):
            by_group.setdefault(group, []).append(message)
    sends = [(group, {"type": BATCH_TYPE, "events": messages} if len(messages) > 1 else messages[0])
             for group, messages in by_group.items()]
    loop = _server_loop()
    if loop is not None:
        # Inside a server: hand the sends to its event loop and return at once, so a write's
        # response never waits for fan-out.
        outbox = _outbox_for(loop)
        for group, message in sends:
            outbox.put(layer, message, group)
        return

    async def send_all() -> None:
        for group, message in sends:
            await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:  # a broken channel layer must not fail a committed write
        log.exception("could not publish %s", ", ".join(e.kind for e in events))


_pending: set[asyncio.Task[None]] = set()


_bound: tuple[asyncio.AbstractEventLoop, int] | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The HTTP bridge (swarmsite/http_bridge.py) names the server's loop, so its pool threads publish
    there: one loop and one channel-layer connection for every event the process publishes."""
    global _bound
    if _bound is None or _bound[0] is not loop:
        _bound = (loop, os.getpid())


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The running server's event loop when called from one of its sync worker threads."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        loop = _bound[0] if _bound is not None and _bound[1] == os.getpid() else None
    return loop if loop is not None and loop.is_running() else None


class _Outbox:
    """Events waiting for one event loop, sent in order by one task at a time: a thread that publishes
    while that task is scheduled or running only appends, so a busy server wakes its loop once per batch
    of events instead of once per event (each wake-up is a write to the loop's self-pipe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.items: deque[tuple[Any, dict[str, Any], str]] = deque()
        self.draining = False

    def put(self, layer: Any, message: dict[str, Any], group: str) -> None:
        with self.lock:
            self.items.append((layer, message, group))
            if self.draining:
                return
            self.draining = True
        try:
            self.loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the loop closed meanwhile: nothing can send for it any more
            with self.lock:
                self.items.clear()
                self.draining = False

    def _start(self) -> None:
        task = asyncio.ensure_future(self._drain())
        _pending.add(task)  # keep a reference until done (the loop holds tasks only weakly)
        task.add_done_callback(_pending.discard)

    async def _drain(self) -> None:
        while True:
            with self.lock:
                if not self.items:
                    self.draining = False
                    return
                batch = list(self.items)
                self.items.clear()
            for layer, message, group in batch:
                try:
                    await layer.group_send(group, message)
                except Exception:  # one failed send must not stop the ones after it
                    log.exception("could not publish to %s", group)


_outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
_outboxes_lock = threading.Lock()


def _outbox_for(loop: asyncio.AbstractEventLoop) -> _Outbox:
    with _outboxes_lock:
        outbox = _outboxes.get(loop)
        if outbox is None:
            for stale in [old for old in _outboxes if old.is_closed()]:
                del _outboxes[stale]
            outbox = _outboxes[loop] = _Outbox(loop)
        return outbox
