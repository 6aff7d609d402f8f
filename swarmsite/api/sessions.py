"""The sessions router (/api/v1/sessions): RuntimePersistence over HTTP, thin over the store.

A session's graph and head: commit (head CAS, idempotent turn commits, queue completions), load in
either read scope, one node, metadata, tombstones, and admin-only vacuum / GC with a dry run. The
durable inbox and the attachment manifest are in stores/api_sessions_queue.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status

from identities.types import Owned
from stores.errors import NotFound
from stores.persistence_types import (
    ActivePath,
    FullGraph,
    ModelConfig,
    PersistedSessionRead,
    RuntimeCommit,
    RuntimeTurnCommitStamp,
    SessionMeta,
    SessionNodeRecord,
    SessionRelation,
    TokenLedgerEntry,
    TokenUsage,
)
from swarmsite.api.auth import require_scope
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.fencing import FencingTokenHeader, owned_write
from swarmsite.api.schemas import PageOut, PageParams
from swarmsite.api.sessions_queue import idempotency_key, queue_router
from swarmsite.api.sessions_schemas import (
    CommitIn,
    CommitOut,
    GcOut,
    MetaSchema,
    NodeId,
    NodeIdsIn,
    NodeSchema,
    ReadScopeIn,
    SessionId,
    SessionOut,
    SessionSummaryOut,
    VacuumOut,
    b64,
    manifest_out,
)
from swarmsite.composition import runtime_persistence

sessions_router = Router(tags=["sessions"])
sessions_router.add_router("", queue_router)

WRITE_ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


def node_out(node: SessionNodeRecord) -> dict[str, Any]:
    return {"node_id": node.node_id, "parent_node_id": node.parent_node_id, "caused_by": node.caused_by,
            "agent_frame_id": node.agent_frame_id, "timestamp": node.timestamp, "payload": dict(node.payload)}


def session_out(read: PersistedSessionRead) -> dict[str, Any]:
    cp = read.checkpoint
    return {
        "session_id": read.session_id,
        "head_revision": read.head_revision,
        "config": {"provider_id": read.config.provider_id, "model": read.config.model},
        "agent_frames": [dict(f) for f in read.agent_frames],
        "current_agent_frame_id": read.current_agent_frame_id,
        "graph": {"nodes": [node_out(n) for n in read.graph.nodes], "leaf_node_id": read.graph.leaf_node_id},
        "checkpoint_ref": read.checkpoint_ref,
        "checkpoint": None if cp is None else {
            "turn_state": cp.turn_state, "tool_state": b64(cp.tool_state), "plugin_snapshot": b64(cp.plugin_snapshot),
            "plugin_snapshot_revision": cp.plugin_snapshot_revision, "execution_state": b64(cp.execution_state),
        },
        "token_ledger": [{"source": e.source, "model": e.model, **e.usage.__dict__} for e in read.token_ledger],
    }


def meta_out(meta: SessionMeta) -> dict[str, Any]:
    return {"session_name": meta.session_name, "created_at": meta.created_at, "model": meta.model, "cwd": meta.cwd,
            "relation": meta.relation.__dict__}


@sessions_router.get("", response={200: PageOut[SessionSummaryOut], **COMMON_ERRORS})
def list_sessions(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Every known session (committed, described or with queued work), most recently updated first,
    with its head revision, live node count and pending / claimed batch counts."""
    result = runtime_persistence().list_sessions(offset=page.offset, limit=page.limit)
    return {"items": [s.__dict__ for s in result.items], "total": result.total, "offset": result.offset,
            "limit": result.limit}


@sessions_router.post("/{session_id}/commit", response={200: CommitOut, 422: ErrorOut, **WRITE_ERRORS})
def commit(request: HttpRequest, session_id: SessionId, body: CommitIn) -> dict[str, Any]:
    """Commit the session's state atomically. Checked in order: turn idempotency (a retried `turn_id`
    with the same state returns the stored result; different state: 409 `runtime_turn_commit_conflict`),
    head CAS (409 `head_revision_conflict`), the fence (409 `stale_fencing_token`), every completed claim
    (409 `queued_work_claim_expired`); then everything is written, or nothing."""
    change = RuntimeCommit(
        session_id=session_id,
        expected_head_revision=body.expected_head_revision,
        config=ModelConfig(body.config.provider_id, body.config.model),
        agent_frames=tuple(body.agent_frames),
        current_agent_frame_id=body.current_agent_frame_id,
        graph=body.graph.delta(),
        checkpoint=body.checkpoint.hydrated(),
        usage_deltas=tuple(TokenLedgerEntry(u.source, u.model, TokenUsage(
            u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens)) for u in body.usage_deltas),
        completed_queue_claims=tuple(c.completion(session_id) for c in body.completed_queue_claims),
        committed_attachment_ids=tuple(body.committed_attachment_ids),
    )
    turn_id = body.turn_id or idempotency_key(request)
    if turn_id is not None:
        change = change.with_turn_commit(turn_id)
        if body.turn_commit_hash is not None:
            given = RuntimeTurnCommitStamp(session_id, turn_id, body.turn_commit_hash)
            change = replace(change, turn_commit=given)
    with owned_write(request, Owned.SESSION, session_id, "session.commit", fence=body.fence()) as fence:
        result = runtime_persistence().open(session_id).commit_runtime_state(change, fence=fence)
    stamp = change.turn_commit
    return {"session_id": session_id, "head_revision": result.head_revision, "checkpoint_ref": result.checkpoint_ref,
            "manifest": manifest_out(result.manifest), "turn_id": stamp.turn_id if stamp else None,
            "turn_commit_hash": stamp.turn_commit_hash if stamp else None}


@sessions_router.get("/{session_id}", response={200: SessionOut, 404: ErrorOut, **COMMON_ERRORS})
def load_session(request: HttpRequest, session_id: SessionId, scope: Query[ReadScopeIn]) -> dict[str, Any]:
    """The head with its hydrated checkpoint and the graph: `full` (every live node) or `active_path`
    (the ancestor chain of `leaf_node_id`, or of the persisted leaf). 404 before the first commit."""
    read_scope = ActivePath(scope.leaf_node_id) if scope.scope == "active_path" else FullGraph()
    read = runtime_persistence().open(session_id).load_session(read_scope)
    if read is None:
        raise NotFound(f"session {session_id!r} has no committed head", session_id=session_id)
    return session_out(read)


@sessions_router.get("/{session_id}/nodes/{node_id}", response={200: NodeSchema, 404: ErrorOut, **COMMON_ERRORS})
def load_node(request: HttpRequest, session_id: SessionId, node_id: NodeId) -> dict[str, Any]:
    """One live graph node; 404 if missing or tombstoned."""
    found = runtime_persistence().open(session_id).load_node(node_id)
    if found is None:
        raise NotFound(f"node {node_id!r} is not in session {session_id!r}", session_id=session_id, node_id=node_id)
    return node_out(found)


@sessions_router.post("/{session_id}/tombstone", response={204: None, **WRITE_ERRORS})
def tombstone(
    request: HttpRequest, session_id: SessionId, body: NodeIdsIn, fencing_token: FencingTokenHeader = None
) -> Status:
    """Hide nodes from every read (vacuum deletes them later). Unknown ids are ignored."""
    with owned_write(request, Owned.SESSION, session_id, "session.tombstone", token=fencing_token):
        runtime_persistence().open(session_id).tombstone_nodes(body.node_ids)
    return Status(204, None)


@sessions_router.get("/{session_id}/meta", response={200: MetaSchema, 404: ErrorOut, **COMMON_ERRORS})
def load_meta(request: HttpRequest, session_id: SessionId) -> dict[str, Any]:
    """The session's metadata; 404 if none was saved."""
    meta = runtime_persistence().open(session_id).load_session_meta()
    if meta is None:
        raise NotFound(f"session {session_id!r} has no metadata", session_id=session_id)
    return meta_out(meta)


@sessions_router.put("/{session_id}/meta", response={200: MetaSchema, **WRITE_ERRORS})
def save_meta(
    request: HttpRequest, session_id: SessionId, body: MetaSchema, fencing_token: FencingTokenHeader = None
) -> dict[str, Any]:
    """Save the session's metadata (last write wins)."""
    meta = SessionMeta(session_id, body.session_name, body.created_at, body.model, body.cwd,
                       SessionRelation(body.relation.parent_session_id, body.relation.caused_by))
    with owned_write(request, Owned.SESSION, session_id, "session.meta", token=fencing_token):
        runtime_persistence().open(session_id).save_session_meta(meta)
    return meta_out(meta)


@sessions_router.post("/{session_id}/vacuum", response={200: VacuumOut, **WRITE_ERRORS})
def vacuum(request: HttpRequest, session_id: SessionId, dry_run: bool = False) -> dict[str, Any]:
    """Delete tombstoned nodes for good. `dry_run=true` reports what would go and deletes nothing.
    Admin scope."""
    require_scope(request, "admin")
    report = runtime_persistence().open(session_id).vacuum(dry_run=dry_run)
    return {"dry_run": report.dry_run, "removed_node_count": report.removed_node_count,
            "node_ids": list(report.node_ids)}


@sessions_router.post("/{session_id}/gc", response={200: GcOut, **WRITE_ERRORS})
def gc(request: HttpRequest, session_id: SessionId, dry_run: bool = False) -> dict[str, Any]:
    """Delete checkpoint blobs the head no longer reaches. `dry_run=true` reports what would go. An
    unreadable live manifest deletes nothing and says why in `aborted`. Admin scope."""
    require_scope(request, "admin")
    report = runtime_persistence().open(session_id).gc_unreachable(dry_run=dry_run)
    return {"dry_run": report.dry_run, "root_count": report.root_count,
            "retained_blob_count": report.retained_blob_count, "deleted_blob_count": report.deleted_blob_count,
            "deleted_refs": list(report.deleted_refs), "aborted": report.aborted}
