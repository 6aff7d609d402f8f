"""Runs the periodic liveness sweep and the heartbeat flush inside each server process.

With N workers there are N sweepers. Each expiry is a conditional UPDATE, so two sweeps never expire
an agent twice; on PostgreSQL a pass also skips while another process's pass holds the sweep's
advisory lock, so N workers do not fight over the same rows, and their timers start at a random
offset so they do not tick together.

The flush writes the heartbeats this process answered from memory (stores/backends/orm/beat_buffer.py)
every SWARM_HEARTBEAT_FLUSH_S, on a thread of its own that keeps its database connection, and once more
when the process exits."""

from __future__ import annotations

import asyncio
import atexit
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

log = logging.getLogger(__name__)

SWEEP_LOCK_KEY = 0x5357_5357  # "SWSW": one sweep pass at a time across processes (PostgreSQL)


def _pass() -> int:
    from swarmsite.composition import lifecycle_store
    from swarmsite.expiry_hooks import sweep_leases
    from swarmsite.retention import prune_if_due

    expired = len(lifecycle_store().expire_silent()) + sweep_leases()
    prune_if_due()  # bounded, and only when due (tracked in the database, one process at a time)
    return expired


def sweep_once() -> int:
    """Expire silent agents (which frees what they held, through the expiry hooks), then leases past their
    TTL, then prune what is due."""
    if connection.vendor != "postgresql":
        return _pass()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0  # another process is sweeping right now; the next pass comes soon
        try:
            return _pass()
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK_KEY])


async def sweep_forever(interval_s: float) -> None:
    await asyncio.sleep(random.uniform(0, interval_s))
    while True:
        await asyncio.sleep(interval_s)
        try:
            await database_sync_to_async(sweep_once)()
        except Exception:  # keep sweeping; one failed pass is logged and retried
            log.exception("liveness sweep failed")


def flush_beats() -> int:
    """Write the heartbeats answered from memory (on the flush thread: its connection is kept, and
    replaced when it broke or aged out, as a request's would be)."""
    from swarmsite.composition import lifecycle_store

    close_old_connections()
    return lifecycle_store().flush_heartbeats()


def _flush_at_exit() -> None:
    try:
        flush_beats()
    except Exception:  # the process is going; its last beats are lost, and the agents' next ones repair it
        log.exception("could not write the last heartbeats at exit")


def _start_buffer(interval_s: float) -> None:
    from swarmsite.composition import lifecycle_store

    lifecycle_store().start_heartbeat_buffer(interval_s)
    atexit.register(_flush_at_exit)


async def flush_beats_forever(interval_s: float) -> None:
    """Start the buffer on the flush thread (building the stores there keeps the event loop free while
    the first requests arrive), then flush every interval."""
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1, thread_name_prefix="swarm-beats")
    await loop.run_in_executor(pool, _start_buffer, interval_s)
    while True:
        await asyncio.sleep(interval_s)
        try:
            await loop.run_in_executor(pool, flush_beats)
        except Exception:  # the beats stay pending and the next flush retries them
            log.exception("heartbeat flush failed")


def start_heartbeat_buffer(loop: asyncio.AbstractEventLoop) -> asyncio.Task[None] | None:
    interval = settings.SWARM_HEARTBEAT_FLUSH_S
    if interval <= 0:
        return None
    return loop.create_task(flush_beats_forever(interval))


class SweeperMiddleware:
    """ASGI wrapper that starts the sweep and heartbeat flush tasks on the server's event loop at the first
    connection."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._started = False
        self._flushing = False
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if not self._started:
            self._started = True
            if settings.SWARM_SWEEP_INTERVAL_S > 0:
                self._tasks.append(asyncio.get_running_loop().create_task(sweep_forever(settings.SWARM_SWEEP_INTERVAL_S)))
        if not self._flushing and scope["type"] == "http":  # heartbeats come over HTTP
            self._flushing = True
            flusher = start_heartbeat_buffer(asyncio.get_running_loop())
            if flusher is not None:
                self._tasks.append(flusher)
        return await self.app(scope, receive, send)
