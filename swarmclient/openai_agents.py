"""An OpenAI Agents SDK `Session` kept in Swarmsite, optionally fenced by an identity's lease.

    session = SwarmsiteSession("chat-42", url="http://127.0.0.1:8000", token=token, identity="helper")
    result = await Runner.run(agent, "hello", session=session)

The conversation is a Swarmsite checkpoint thread (id = the session id): every change stores the whole
item list as the thread's next checkpoint, so the history is versioned and shows on the identity page,
and `prune_history()` keeps only the newest version. With an identity, the session takes its lease and
every write carries the lease's token: a worker whose lease was taken over gets StaleFencingToken
instead of interleaving its turns with the new owner's. Needs the `openai-agents` extra."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

from swarmclient.client import SwarmClient
from swarmclient.errors import NotFound, SwarmError, UnknownIdentity
from swarmclient.lease import Lease

__all__ = ["SwarmsiteSession"]

ITEMS_TYPE = "json"


class SwarmsiteSession:
    """Implements the SDK's `agents.memory.Session` protocol (get_items, add_items, pop_item, clear_session)."""

    session_settings: Any = None

    def __init__(
        self, session_id: str, *, url: str | None = None, token: str | None = None, identity: str | None = None,
        client: SwarmClient | None = None, lease: Lease | None = None, lease_ttl_s: float | None = None,
        create_profile: str | None = "openai-agents", **client_kwargs: Any,
    ) -> None:
        self.session_id = session_id
        if client is None and lease is None:
            if url is None or token is None:
                raise ValueError("pass url and token, a SwarmClient, or a held lease")
            client = SwarmClient(url, token, **client_kwargs)
        self.client: SwarmClient = lease._client if lease is not None else client  # type: ignore[assignment]
        self.lease, self._owns = lease, False
        if lease is None and identity is not None:
            self.client.register(name=f"openai-agents:{identity}")
            self.client.start_heartbeat()  # the lease lives only while its agent does
            if create_profile is not None:
                try:
                    self.client.identity_status(identity)
                except UnknownIdentity:
                    self.client.create_identity(identity, create_profile)
            self.lease, self._owns = self.client.lease(identity, ttl_s=lease_ttl_s).__enter__(), True
        # One writer per session object: read-modify-write of the item list must not interleave.
        self._lock = threading.Lock()

    def _fence(self) -> dict[str, Any]:
        return self.lease.fence if self.lease is not None else {}

    def close(self) -> None:
        if self._owns and self.lease is not None:
            self._owns = False
            self.lease.__exit__(None, None, None)
            self.client.stop_heartbeat()
            try:
                self.client.deregister()  # the agent this session registered goes offline with it
            except SwarmError:
                pass

    # -- sync core -----------------------------------------------------------------------------------

    def _latest(self) -> tuple[str | None, list[Any]]:
        try:
            row = self.client.get_thread_checkpoint(self.session_id)
        except NotFound:
            return None, []
        return row["checkpoint_id"], list(json.loads(base64.b64decode(row["checkpoint"]["data"])))

    def _save(self, parent: str | None, items: list[Any]) -> None:
        # Ids sort in write order (the thread's "newest" is the highest id).
        next_id = f"{(int(parent) if parent else 0) + 1:020d}"
        data = base64.b64encode(json.dumps(items).encode()).decode()
        self.client.put_thread_checkpoint(
            self.session_id, {"type": ITEMS_TYPE, "data": data}, checkpoint_id=next_id, parent_checkpoint_id=parent,
            metadata={"source": "openai-agents", "step": int(next_id), "items": len(items)}, **self._fence(),
        )

    def get_items_sync(self, limit: int | None = None) -> list[Any]:
        items = self._latest()[1]
        return items[-limit:] if limit else items

    def add_items_sync(self, items: list[Any]) -> None:
        if not items:
            return
        with self._lock:
            parent, current = self._latest()
            self._save(parent, current + [dict(i) if isinstance(i, dict) else i for i in items])

    def pop_item_sync(self) -> Any:
        with self._lock:
            parent, current = self._latest()
            if not current:
                return None
            self._save(parent, current[:-1])
            return current[-1]

    def clear_session_sync(self) -> None:
        self.client.delete_thread(self.session_id, **self._fence())

    def prune_history(self) -> None:
        """Keep only the newest version of the conversation (older checkpoints are deleted)."""
        self.client.prune_threads([self.session_id], "keep_latest", **self._fence())

    # -- the SDK's async protocol ----------------------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[Any]:
        return await asyncio.to_thread(self.get_items_sync, limit)

    async def add_items(self, items: list[Any]) -> None:
        await asyncio.to_thread(self.add_items_sync, items)

    async def pop_item(self) -> Any:
        return await asyncio.to_thread(self.pop_item_sync)

    async def clear_session(self) -> None:
        await asyncio.to_thread(self.clear_session_sync)
