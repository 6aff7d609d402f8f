"""Publishing events to channel groups (after commit; see stores/backends/orm/events.py)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

from stores.events import event_groups
from stores.types import Event

log = logging.getLogger(__name__)

MESSAGE_TYPE = "swarm.event"


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
    """Fan an event out to the dashboard group and its subject's group. Delivery is best effort:
    the durable log is the source of truth and clients resume from it after a gap."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = event_message(event)

    async def send_all() -> None:
        for group in event_groups(event):
            await layer.group_send(group, message)

    loop = _server_loop()
    if loop is not None:
        # Inside a server: hand the sends to its event loop and return at once, so a write's
        # response never waits for fan-out.
        loop.call_soon_threadsafe(_spawn, send_all)
        return
    try:
        async_to_sync(send_all)()
    except Exception:  # a broken channel layer must not fail a committed write
        log.exception("could not publish event %s", event.kind)


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


def _spawn(send_all: Any) -> None:
    task = asyncio.ensure_future(_logged(send_all()))
    _pending.add(task)  # keep a reference until done (the loop holds tasks only weakly)
    task.add_done_callback(_pending.discard)


async def _logged(coro: Any) -> None:
    try:
        await coro
    except Exception:
        log.exception("could not publish an event")
