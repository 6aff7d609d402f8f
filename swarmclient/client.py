"""SwarmClient (sync) and AsyncSwarmClient: the same API, with background heartbeats and leases."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

import httpx

from swarmclient.core import Call, backoff_s, clean_params, decode, should_retry, transport_error
from swarmclient.endpoints import Endpoints
from swarmclient.errors import AgentExpired, SwarmError

log = logging.getLogger("swarmclient")


def _base(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/api/v1") else f"{url}/api/v1"


class SwarmClient(Endpoints[Any]):
    """A blocking client for one agent process.

    >>> with SwarmClient("http://127.0.0.1:8000", token) as swarm:
    ...     swarm.register(name="planner-1")
    ...     swarm.start_heartbeat()
    """

    def __init__(
        self, base_url: str, token: str, *, agent_id: uuid.UUID | str | None = None,
        timeout: float = 10.0, retries: int = 4, transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.agent_id = uuid.UUID(str(agent_id)) if agent_id else uuid.uuid4()
        self.retries = retries
        self._http = httpx.Client(
            base_url=_base(base_url), headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
            transport=transport,
        )
        self._heartbeat_stop = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._registration: tuple[str, dict[str, Any] | None] = ("", None)

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, params=clean_params(call.params), headers=call.headers,
                    timeout=call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
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
            return decode(response)

    def register(self, name: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self._registration = (name, metadata)
        return super().register(name, metadata)

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
                self.register(*self._registration)
            except SwarmError as exc:
                log.warning("heartbeat failed: %s", exc)

    def stop_heartbeat(self) -> None:
        self._heartbeat_stop.set()
        if self._heartbeat_thread is not None:
            self._heartbeat_thread.join(timeout=5)
            self._heartbeat_thread = None

    def close(self) -> None:
        self.stop_heartbeat()
        self._http.close()

    def __enter__(self) -> SwarmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSwarmClient(Endpoints[Any]):
    """The asyncio flavour: every API method is awaitable."""

    def __init__(
        self, base_url: str, token: str, *, agent_id: uuid.UUID | str | None = None,
        timeout: float = 10.0, retries: int = 4, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.agent_id = uuid.UUID(str(agent_id)) if agent_id else uuid.uuid4()
        self.retries = retries
        self._http = httpx.AsyncClient(
            base_url=_base(base_url), headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
            transport=transport,
        )
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._registration: tuple[str, dict[str, Any] | None] = ("", None)

    async def _send(self, call: Call) -> Any:  # type: ignore[override]
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, params=clean_params(call.params), headers=call.headers,
                    timeout=call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
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
            return decode(response)

    def register(self, name: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self._registration = (name, metadata)
        return super().register(name, metadata)

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
                await self.register(*self._registration)
            except SwarmError as exc:
                log.warning("heartbeat failed: %s", exc)

    async def stop_heartbeat(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            self._heartbeat_task = None

    async def aclose(self) -> None:
        await self.stop_heartbeat()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSwarmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
