"""SwarmClient (sync) and AsyncSwarmClient: the same API, with background heartbeats, leases that
renew themselves, and an identity's event stream."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from swarmclient.core import Call, backoff_s, clean_params, decode, should_retry, transport_error
from swarmclient.endpoints import Endpoints
from swarmclient.errors import AgentExpired, SwarmError
from swarmclient.lease import AsyncLease, Lease
from swarmclient.stream import async_events, sync_events

log = logging.getLogger("swarmclient")
EVENT_PAGE = 100


def _base(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/api/v1") else f"{url}/api/v1"


def _request_kwargs(call: Call) -> dict[str, Any]:
    return {
        "json": call.json, "params": clean_params(call.params), "headers": call.headers,
        "timeout": call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
    }


class SwarmClient(Endpoints[Any]):
    """A blocking client for one agent process (thread-safe: share it between threads).

    >>> with SwarmClient("http://127.0.0.1:8000", token) as swarm:
    ...     swarm.register(name="planner-1")
    ...     swarm.start_heartbeat()
    ...     with swarm.lease("planner") as lease:
    ...         lease.checkpoint(b"state")
    """

    def __init__(
        self, base_url: str, token: str, *, agent_id: uuid.UUID | str | None = None,
        timeout: float = 10.0, retries: int = 4, transport: httpx.BaseTransport | None = None,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self.agent_id = uuid.UUID(str(agent_id)) if agent_id else uuid.uuid4()
        self.retries = retries
        self._api_base, self._token = _base(base_url), token
        self._http = httpx.Client(
            base_url=_base(base_url), headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
            transport=transport, event_hooks=event_hooks,
        )
        self._heartbeat_stop = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._registration: tuple[str, dict[str, Any] | None] = ("", None)

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, **_request_kwargs(call))
            except httpx.HTTPError as exc:
                if should_retry(call, attempt, self.retries, exc, None):
                    time.sleep(backoff_s(attempt))
                    attempt += 1
                    continue
                raise transport_error(exc) from exc
            if should_retry(call, attempt, self.retries, None, response):
                time.sleep(backoff_s(attempt))
                attempt += 1
                continue
            return decode(response, call)

    def register(self, name: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self._registration = (name, metadata)
        return super().register(name, metadata)

    # -- liveness --------------------------------------------------------------------------------
    def start_heartbeat(self, interval_s: float | None = None) -> None:
        """Heartbeat in a background thread (default: a third of the server's TTL). If the agent
        expired (a long pause), it registers again; leases it held are gone and say so on use."""
        if self._heartbeat_thread is not None:
            return
        if interval_s is None:
            interval_s = float(self.get_agent().get("ttl_s", 30)) / 3
        self._heartbeat_stop.clear()
        self._heartbeat_thread = threading.Thread(
            target=self._heartbeat_loop, args=(interval_s,), name="swarm-heartbeat", daemon=True
        )
        self._heartbeat_thread.start()

    def _heartbeat_loop(self, interval_s: float) -> None:
        while not self._heartbeat_stop.wait(interval_s):
            try:
                self.heartbeat()
            except AgentExpired:
                log.warning("agent %s expired; registering again", self.agent_id)
                try:
                    self.register(*self._registration)
                except SwarmError as exc:
                    log.warning("registering again failed: %s", exc)
            except SwarmError as exc:
                log.warning("heartbeat failed: %s", exc)

    def stop_heartbeat(self) -> None:
        self._heartbeat_stop.set()
        if self._heartbeat_thread is not None:
            self._heartbeat_thread.join(timeout=15)
            self._heartbeat_thread = None

    # -- leases and events -----------------------------------------------------------------------
    def lease(
        self, identity: str, *, ttl_s: float | None = None, renew_every_s: float | None = None,
        on_lost: Callable[[Lease], None] | None = None,
    ) -> Lease:
        """`with swarm.lease(identity) as lease:` acquires (LeaseHeld if someone else holds it), renews
        in the background, sets `lease.lost` when the lease is gone, and releases on exit."""
        return Lease(self, identity, ttl_s=ttl_s, renew_every_s=renew_every_s, on_lost=on_lost)

    def stream_events(
        self, identity: str, *, after: int = 0, stop: threading.Event | None = None
    ) -> Iterator[dict[str, Any]]:
        """The identity's events after event id `after`, oldest first, pushed as they happen over a
        websocket that reconnects by itself without losing or repeating one; ends when `stop` is
        set (or when you break out). UnknownIdentity / Unauthorized up front."""
        self.identity_status(identity)
        yield from sync_events(self._api_base, self._token, identity, after, stop or threading.Event())

    def poll_events(
        self, identity: str, *, after: int = 0, poll_s: float = 1.0, stop: threading.Event | None = None
    ) -> Iterator[dict[str, Any]]:
        """Like stream_events, by polling the HTTP endpoint (for transports without websockets)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            page = self.events(identity, after=after, limit=EVENT_PAGE)
            for event in page:
                after = max(after, int(event.get("id") or after))
                yield event
            if len(page) < EVENT_PAGE:
                stop.wait(poll_s)

    def close(self) -> None:
        self.stop_heartbeat()
        self._http.close()

    def __enter__(self) -> SwarmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSwarmClient(Endpoints[Any]):
    """The asyncio flavour: every API method is awaitable; `async with swarm.lease(...)`."""

    def __init__(
        self, base_url: str, token: str, *, agent_id: uuid.UUID | str | None = None,
        timeout: float = 10.0, retries: int = 4, transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self.agent_id = uuid.UUID(str(agent_id)) if agent_id else uuid.uuid4()
        self.retries = retries
        self._api_base, self._token = _base(base_url), token
        self._http = httpx.AsyncClient(
            base_url=_base(base_url), headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
            transport=transport, event_hooks=event_hooks,
        )
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._registration: tuple[str, dict[str, Any] | None] = ("", None)

    async def _send(self, call: Call) -> Any:  # type: ignore[override]
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **_request_kwargs(call))
            except httpx.HTTPError as exc:
                if should_retry(call, attempt, self.retries, exc, None):
                    await asyncio.sleep(backoff_s(attempt))
                    attempt += 1
                    continue
                raise transport_error(exc) from exc
            if should_retry(call, attempt, self.retries, None, response):
                await asyncio.sleep(backoff_s(attempt))
                attempt += 1
                continue
            return decode(response, call)

    def register(self, name: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self._registration = (name, metadata)
        return super().register(name, metadata)

    # -- liveness --------------------------------------------------------------------------------
    async def start_heartbeat(self, interval_s: float | None = None) -> None:
        if self._heartbeat_task is not None:
            return
        if interval_s is None:
            interval_s = float((await self.get_agent()).get("ttl_s", 30)) / 3
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(interval_s))

    async def _heartbeat_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.heartbeat()
            except AgentExpired:
                log.warning("agent %s expired; registering again", self.agent_id)
                try:
                    await self.register(*self._registration)
                except SwarmError as exc:
                    log.warning("registering again failed: %s", exc)
            except SwarmError as exc:
                log.warning("heartbeat failed: %s", exc)

    async def stop_heartbeat(self) -> None:
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    # -- leases and events -----------------------------------------------------------------------
    def lease(
        self, identity: str, *, ttl_s: float | None = None, renew_every_s: float | None = None,
        on_lost: Callable[[AsyncLease], None] | None = None,
    ) -> AsyncLease:
        """`async with swarm.lease(identity) as lease:` (see SwarmClient.lease)."""
        return AsyncLease(self, identity, ttl_s=ttl_s, renew_every_s=renew_every_s, on_lost=on_lost)

    async def stream_events(
        self, identity: str, *, after: int = 0, stop: asyncio.Event | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The identity's events after `after`, pushed over a self-reconnecting websocket (see
        SwarmClient.stream_events); ends when `stop` is set."""
        await self.identity_status(identity)
        async for event in async_events(self._api_base, self._token, identity, after, stop or asyncio.Event()):
            yield event

    async def poll_events(
        self, identity: str, *, after: int = 0, poll_s: float = 1.0, stop: asyncio.Event | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Like stream_events, by polling the HTTP endpoint (for transports without websockets)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            page = await self.events(identity, after=after, limit=EVENT_PAGE)
            for event in page:
                after = max(after, int(event.get("id") or after))
                yield event
            if len(page) < EVENT_PAGE:
                try:
                    await asyncio.wait_for(stop.wait(), poll_s)
                except TimeoutError:
                    pass

    async def aclose(self) -> None:
        await self.stop_heartbeat()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSwarmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
