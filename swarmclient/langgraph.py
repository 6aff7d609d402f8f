"""A LangGraph checkpointer kept in Swarmsite, fenced by an identity's lease.

    saver = SwarmsiteSaver("http://127.0.0.1:8000", token, identity="planner")
    graph = builder.compile(checkpointer=saver)
    graph.invoke(inputs, {"configurable": {"thread_id": "t-1"}})
    saver.close()

The saver registers an agent, takes the identity's lease (or uses the `lease` you pass) and sends the
lease's fencing token with every write. A worker whose lease was taken over gets StaleFencingToken from
its next `put` or `put_writes`, so two workers can never fork one thread's checkpoint chain.
Needs the `langgraph` extra (`pip install 'swarmsite[langgraph]'`)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from swarmclient.client import SwarmClient
from swarmclient.errors import NotFound, SwarmError, UnknownIdentity
from swarmclient.lease import Lease

__all__ = ["SwarmsiteSaver"]


def _blob(typed: tuple[str, bytes]) -> dict[str, str]:
    return {"type": typed[0], "data": base64.b64encode(typed[1]).decode()}


def _unblob(wire: dict[str, str]) -> tuple[str, bytes]:
    return wire["type"], base64.b64decode(wire["data"])


def _json(metadata: Any) -> dict[str, Any]:
    # Metadata is filtered on by the server, so it travels as JSON (what LangGraph's SQL savers do too).
    return dict(json.loads(json.dumps(metadata, default=str)))


class SwarmsiteSaver(BaseCheckpointSaver[str]):
    """LangGraph's BaseCheckpointSaver over Swarmsite's /threads API, sync and async, with every
    capability of LangGraph's conformance suite (the async methods run the sync calls in a thread)."""

    def __init__(
        self, url: str | None = None, token: str | None = None, identity: str | None = None, *,
        client: SwarmClient | None = None, lease: Lease | None = None, lease_ttl_s: float | None = None,
        create_profile: str | None = "langgraph", serde: SerializerProtocol | None = None, **client_kwargs: Any,
    ) -> None:
        super().__init__(serde=serde)
        self._own_client = False
        if lease is not None:
            self.client, self.lease, self._owns = lease._client, lease, False
        else:
            if identity is None:
                raise ValueError("name the identity whose lease guards the threads (or pass a held lease)")
            if client is None:
                if url is None or token is None:
                    raise ValueError("pass url and token, or a SwarmClient")
                client = SwarmClient(url, token, **client_kwargs)
                self._own_client = True
            self.client, self._owns = client, True
            self.client.register(name=f"langgraph:{identity}")
            # The lease lives only while its agent does: keep the agent alive for as long as the graph runs.
            self.client.start_heartbeat()
            if create_profile is not None:
                self._ensure_identity(identity, create_profile)
            self.lease = self.client.lease(identity, ttl_s=lease_ttl_s).__enter__()
        self._closed = threading.Event()

    def _ensure_identity(self, identity: str, profile: str) -> None:
        try:
            self.client.identity_status(identity)
        except UnknownIdentity:
            self.client.create_identity(identity, profile)

    @property
    def identity(self) -> str:
        return self.lease.identity

    def _fence(self) -> dict[str, Any]:
        return self.lease.fence

    def close(self) -> None:
        """Release the lease this saver took (a held lease you passed stays yours)."""
        if self._owns and not self._closed.is_set():
            self._closed.set()
            self.lease.__exit__(None, None, None)
            # The agent this saver registered goes offline with it (not left to expire).
            self.client.stop_heartbeat()
            try:
                self.client.deregister()
            except SwarmError:
                pass
            if self._own_client:
                self.client.close()

    def __enter__(self) -> SwarmsiteSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the checkpointer ------------------------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None) -> str:  # type: ignore[override]
        number = 0 if current is None else int(str(current).split(".")[0])
        return f"{number + 1:032}"

    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        self.client.put_thread_checkpoint(
            thread_id, _blob(self.serde.dumps_typed(checkpoint)), checkpoint_id=checkpoint["id"], checkpoint_ns=ns,
            parent_checkpoint_id=conf.get("checkpoint_id"), metadata=_json(get_checkpoint_metadata(config, metadata)),
            **self._fence(),
        )
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}}

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = "",
    ) -> None:
        conf = config["configurable"]
        wire = [
            {"task_id": task_id, "idx": WRITES_IDX_MAP.get(channel, i), "channel": channel,
             "value": _blob(self.serde.dumps_typed(value)), "task_path": task_path}
            for i, (channel, value) in enumerate(writes)
        ]
        self.client.put_thread_writes(str(conf["thread_id"]), str(conf["checkpoint_id"]), wire,
                                      checkpoint_ns=str(conf.get("checkpoint_ns", "")), **self._fence())

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        try:
            row = self.client.get_thread_checkpoint(str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")),
                                                    get_checkpoint_id(config))
        except NotFound:
            return None
        return self._tuple(row)

    def list(
        self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None, limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        conf = (config or {}).get("configurable", {})
        rows = self.client.list_thread_checkpoints(
            str(conf["thread_id"]) if conf.get("thread_id") is not None else None,
            checkpoint_ns=conf.get("checkpoint_ns"), checkpoint_id=conf.get("checkpoint_id"),
            metadata=_json(filter) if filter else None,
            before=get_checkpoint_id(before) if before else None, limit=limit,
        )
        for row in rows:
            yield self._tuple(row)

    def delete_thread(self, thread_id: str) -> None:
        self.client.delete_thread(str(thread_id), **self._fence())

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            self.client.delete_thread_runs([str(r) for r in run_ids], **self._fence())

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.client.copy_thread(str(source_thread_id), str(target_thread_id), **self._fence())

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if thread_ids:
            self.client.prune_threads([str(t) for t in thread_ids], strategy, **self._fence())

    def _tuple(self, row: dict[str, Any]) -> CheckpointTuple:
        thread_id, ns = row["thread_id"], row["checkpoint_ns"]
        parent = row.get("parent_checkpoint_id")
        return CheckpointTuple(
            config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                     "checkpoint_id": row["checkpoint_id"]}},
            checkpoint=self.serde.loads_typed(_unblob(row["checkpoint"])),
            metadata=row["metadata"],
            parent_config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent}}
            if parent else None,
            pending_writes=[(w["task_id"], w["channel"], self.serde.loads_typed(_unblob(w["value"])))
                            for w in row["pending_writes"]],
        )

    # -- async: the same calls, off the event loop -------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None, limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        rows = await asyncio.to_thread(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for row in rows:
            yield row

    async def aput(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)
