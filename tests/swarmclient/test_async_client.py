"""AsyncSwarmClient against the real ASGI app (httpx.ASGITransport): the same endpoints, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

from swarmclient import AsyncSwarmClient, LeaseHeld, StaleFencingToken, final
from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def token() -> str:
    return (await sync_to_async(ApiToken.issue)("async-tests", ApiToken.Scope.ADMIN))[1]


@pytest.fixture
async def swarm(token: str) -> AsyncIterator[AsyncSwarmClient]:
    async with AsyncSwarmClient("http://testserver", token, transport=httpx.ASGITransport(app=ASGIHandler()),
                                retries=0) as client:
        yield client


async def test_async_lease_append_and_stream_round_trip(swarm: AsyncSwarmClient, token: str) -> None:
    await swarm.create_identity("alpha", "worker")
    assert (await swarm.register(name="async-agent"))["state"] == "online"
    await swarm.start_heartbeat(interval_s=0.05)
    async with swarm.lease("alpha", renew_every_s=0.05) as lease:
        other = AsyncSwarmClient("http://testserver", token, transport=httpx.ASGITransport(app=ASGIHandler()))
        await other.register()
        with pytest.raises(LeaseHeld):
            await other.acquire_lease("alpha")
        out = await lease.append_output("task-1", 0, final("from asyncio"))
        assert out["fencing_token"] == lease.token
        saved = await lease.checkpoint(b"async state")
        await asyncio.sleep(0.2)  # let the background renewal and heartbeat run a few times
        assert not lease.lost.is_set() and saved["version"] == 1
        await other.aclose()
    assert (await swarm.latest_checkpoint("alpha"))["data"] == b"async state"
    kinds = []
    async for event in swarm.poll_events("alpha", poll_s=0):
        kinds.append(event["kind"])
        if event["kind"] == "identity.lease_released":
            break
    assert "identity.lease_acquired" in kinds and "identity.checkpoint_completed" in kinds
    await swarm.stop_heartbeat()
    await swarm.deregister()


async def test_async_write_under_a_fenced_lease_marks_it_lost(swarm: AsyncSwarmClient) -> None:
    await swarm.create_identity("alpha", "worker")
    await swarm.register()
    async with swarm.lease("alpha", renew_every_s=60) as lease:
        await swarm.respawn("alpha", reason="test")
        with pytest.raises(StaleFencingToken):
            await lease.checkpoint(b"late")
        assert lease.lost.is_set()
