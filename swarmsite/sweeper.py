"""Runs the periodic liveness sweep inside each server process.

With N workers there are N sweepers. Each expiry is a conditional UPDATE, so two sweeps never expire
an agent twice; on PostgreSQL a pass also skips while another process's pass holds the sweep's
advisory lock, so N workers do not fight over the same rows, and their timers start at a random
offset so they do not tick together."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

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


class SweeperMiddleware:
    """ASGI wrapper that starts the sweep task on the server's event loop at the first connection."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if self._task is None and settings.SWARM_SWEEP_INTERVAL_S > 0:
            self._task = asyncio.get_running_loop().create_task(sweep_forever(settings.SWARM_SWEEP_INTERVAL_S))
        return await self.app(scope, receive, send)
