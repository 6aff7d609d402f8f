"""The threads router (/api/v1/threads): checkpoint threads as LangGraph's checkpointer keeps them
(swarmclient.langgraph.SwarmsiteSaver is the client). Writes to a thread an identity owns carry that
identity's current fencing token, checked in the write's own transaction: 409 `stale_fencing_token`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status

from stores.errors import InvalidInput, NotFound
from stores.thread_types import CheckpointPut, CheckpointQuery
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.schemas import PageOut
from swarmsite.api.threads_schemas import (
    CheckpointQueryIn,
    CopyIn,
    FenceQuery,
    GetQuery,
    PruneIn,
    RunsIn,
    ThreadCheckpointIn,
    ThreadCheckpointOut,
    ThreadId,
    ThreadOut,
    ThreadsQuery,
    WritesIn,
    checkpoint_out,
    thread_out,
)
from swarmsite.composition import thread_store

threads_router = Router(tags=["threads"])

READ_ERRORS: dict[int, type[Schema]] = {404: ErrorOut, **COMMON_ERRORS}
WRITE_ERRORS: dict[int, type[Schema]] = {404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


def _query(thread_id: str | None, q: CheckpointQueryIn) -> CheckpointQuery:
    try:
        metadata = q.metadata()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return CheckpointQuery(thread_id=thread_id, checkpoint_ns=q.checkpoint_ns, checkpoint_id=q.checkpoint_id,
                           metadata=metadata, before=q.before, limit=q.limit)


@threads_router.get("", response={200: PageOut[ThreadOut], **COMMON_ERRORS})
def list_threads(request: HttpRequest, query: Query[ThreadsQuery]) -> dict[str, Any]:
    """Threads (of one owning identity, or all), most recently written first."""
    page = thread_store().list_threads(identity=query.identity, offset=query.offset, limit=query.limit)
    return {"items": [thread_out(s) for s in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


@threads_router.get("/checkpoints", response={200: list[ThreadCheckpointOut], **COMMON_ERRORS})
def list_all_checkpoints(request: HttpRequest, query: Query[CheckpointQueryIn]) -> list[dict[str, Any]]:
    """Checkpoints of every thread matching the filters, newest first."""
    return [checkpoint_out(r) for r in thread_store().list_checkpoints(_query(None, query))]


@threads_router.post("/delete-for-runs", response={204: None, **WRITE_ERRORS})
def delete_for_runs(request: HttpRequest, body: RunsIn) -> Status:
    """Delete every checkpoint (and its writes) whose metadata `run_id` is listed, in every thread."""
    thread_store().delete_for_runs(body.run_ids, fence=body.fence())
    return Status(204, None)


@threads_router.post("/prune", response={204: None, **WRITE_ERRORS})
def prune(request: HttpRequest, body: PruneIn) -> Status:
    """`keep_latest`: keep each namespace's newest checkpoint; `delete`: remove the threads."""
    thread_store().prune(body.thread_ids, body.strategy, fence=body.fence())
    return Status(204, None)


@threads_router.post("/{thread_id}/checkpoints", response={201: ThreadCheckpointOut, **WRITE_ERRORS})
def put_checkpoint(request: HttpRequest, thread_id: ThreadId, body: ThreadCheckpointIn) -> Status:
    """Store a checkpoint (same id again replaces it). The first fenced write makes the identity the owner."""
    put = CheckpointPut(thread_id, body.checkpoint_ns, body.checkpoint_id, body.parent_checkpoint_id,
                        body.checkpoint.blob(), dict(body.metadata))
    return Status(201, checkpoint_out(thread_store().put_checkpoint(put, fence=body.fence())))


@threads_router.get("/{thread_id}/checkpoints", response={200: list[ThreadCheckpointOut], **COMMON_ERRORS})
def list_checkpoints(
    request: HttpRequest, thread_id: ThreadId, query: Query[CheckpointQueryIn]
) -> list[dict[str, Any]]:
    """The thread's checkpoints, newest first, with their pending writes; filter, before and limit page."""
    return [checkpoint_out(r) for r in thread_store().list_checkpoints(_query(thread_id, query))]


@threads_router.get("/{thread_id}/checkpoint", response={200: ThreadCheckpointOut, **READ_ERRORS})
def get_checkpoint(request: HttpRequest, thread_id: ThreadId, query: Query[GetQuery]) -> dict[str, Any]:
    """One checkpoint (or the namespace's newest) with its pending writes. 404 `not_found` if absent."""
    record = thread_store().get_checkpoint(thread_id, query.checkpoint_ns, query.checkpoint_id)
    if record is None:
        raise NotFound(f"no such checkpoint in thread {thread_id!r}", thread_id=thread_id)
    return checkpoint_out(record)


@threads_router.post("/{thread_id}/writes", response={204: None, **WRITE_ERRORS})
def put_writes(request: HttpRequest, thread_id: ThreadId, body: WritesIn) -> Status:
    """Pending writes of a checkpoint; a repeated (task_id, idx) is kept once."""
    thread_store().put_writes(thread_id, body.checkpoint_ns, body.checkpoint_id, [w.write() for w in body.writes],
                              fence=body.fence())
    return Status(204, None)


@threads_router.post("/{thread_id}/copy", response={204: None, **WRITE_ERRORS})
def copy_thread(request: HttpRequest, thread_id: ThreadId, body: CopyIn) -> Status:
    """Copy every checkpoint and write to `target_thread_id` (a missing source copies nothing)."""
    thread_store().copy_thread(thread_id, body.target_thread_id, fence=body.fence())
    return Status(204, None)


@threads_router.delete("/{thread_id}", response={204: None, **WRITE_ERRORS})
def delete_thread(request: HttpRequest, thread_id: ThreadId, fence: Query[FenceQuery]) -> Status:
    """Delete the thread in every namespace (no-op if absent). Owned threads: pass identity and fencing_token."""
    thread_store().delete_thread(thread_id, fence=fence.fence())
    return Status(204, None)
