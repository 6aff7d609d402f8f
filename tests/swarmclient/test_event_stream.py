"""stream_events over the server's websocket: live pushes, resume after an id, and a dropped
connection that reconnects without losing or repeating an event."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from swarmclient import AsyncSwarmClient, SwarmClient, UnknownIdentity
from tests.swarmclient.live import Served, served, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module (each test uses its own identity)."""
    with served(tmp_path_factory.mktemp("stream")) as live:
        yield live


class CuttableProxy:
    """A TCP relay in front of the server whose connections the test can cut (a network drop)."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.open = []


def collect(swarm: SwarmClient, identity: str, after: int, stop: threading.Event) -> list[dict[str, Any]]:
    """Events as they arrive, appended one by one from a thread (the test watches the list grow)."""
    seen: list[dict[str, Any]] = []

    def run() -> None:
        for event in swarm.stream_events(identity, after=after, stop=stop):
            seen.append(event)

    threading.Thread(target=run, daemon=True).start()
    return seen


def test_stream_events_pushes_live_and_survives_a_dropped_connection(server: Served) -> None:
    admin = SwarmClient(server.url, server.token)
    admin.create_identity("dropped", "worker")
    admin.register()
    proxy = CuttableProxy(int(server.url.rsplit(":", 1)[1]))
    watcher = SwarmClient(f"http://127.0.0.1:{proxy.port}", server.token)
    stop = threading.Event()
    seen = collect(watcher, "dropped", 0, stop)
    try:
        wait_until(lambda: [e["kind"] for e in seen] == ["identity.registered"], 10, "the replayed event")
        grant = admin.acquire_lease("dropped")
        wait_until(lambda: len(seen) == 2, 10, "the live lease_acquired push")
        proxy.cut()
        admin.release_lease("dropped", grant["fencing_token"])  # happens while the stream is down
        admin.acquire_lease("dropped")
        wait_until(lambda: len(seen) >= 4, 20, "the events missed during the drop")
    finally:
        stop.set()
    kinds = [e["kind"] for e in seen]
    assert kinds == ["identity.registered", "identity.lease_acquired", "identity.lease_released",
                     "identity.lease_acquired"], kinds
    ids = [e["id"] for e in seen]
    assert ids == sorted(set(ids))


def test_stream_events_resumes_after_an_event_id_and_refuses_unknown_identities(server: Served) -> None:
    swarm = SwarmClient(server.url, server.token)
    swarm.create_identity("resumed", "worker")
    swarm.register()
    swarm.release_lease("resumed", swarm.acquire_lease("resumed")["fencing_token"])
    history = swarm.events("resumed")
    resumed = []
    for event in swarm.stream_events("resumed", after=history[0]["id"]):
        resumed.append(event["id"])
        if len(resumed) == len(history) - 1:
            break
    assert resumed == [e["id"] for e in history[1:]]
    with pytest.raises(UnknownIdentity):
        next(iter(swarm.stream_events("ghost")))


def test_async_stream_events_pushes_live(server: Served) -> None:
    async def scenario() -> list[str]:
        async with AsyncSwarmClient(server.url, server.token) as swarm:
            await swarm.create_identity("pushed", "worker")
            await swarm.register()
            kinds: list[str] = []

            async def watch() -> None:
                async for event in swarm.stream_events("pushed"):
                    kinds.append(event["kind"])
                    if event["kind"] == "identity.lease_released":
                        return

            watcher = asyncio.create_task(watch())
            async with swarm.lease("pushed", renew_every_s=60):
                pass
            await asyncio.wait_for(watcher, 10)
            return kinds

    assert asyncio.run(scenario()) == ["identity.registered", "identity.lease_acquired", "identity.lease_released"]
