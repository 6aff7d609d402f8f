"""Runs the periodic liveness sweep inside each server process (idempotent across processes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)


def sweep_once() -> int:
    """Expire silent agents (which frees what they held, through the expiry hooks), then leases past their TTL."""
    from swarmsite.composition import lifecycle_store
    from swarmsite.expiry_hooks import sweep_leases
    from swarmsite.retention import prune_if_due

    expired = len(lifecycle_store().expire_silent()) + sweep_leases()
    prune_if_due()  # bounded, and only when due (tracked in the database, one process at a time)
    return expired


async def sweep_forever(interval_s: float) -> None:
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
