"""The runtimes router (/api/v1/runtimes): every RuntimeStore method, thin over the store.

Snapshots travel as JSON values and are stored as their compact UTF-8 encoding; the store checks
they are objects (422 `invalid_snapshot`). Runtime ids are limited here (<= 200 chars; no NUL,
whitespace or "/", so every id is one path segment). The global OAuth-flow snapshot lives under
`/runtimes/-/oauth-flow` and needs an admin token.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema

from identities.types import Owned
from stores.errors import InvalidInput, NotFound, OAuthFlowChanged
from stores.runtime import change_state
from stores.runtime_state import allowed_next
from stores.runtime_types import RuntimeState, RuntimeSummary, SessionDelta
from swarmsite.api.auth import require_scope
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.fencing import FencingTokenHeader, owned_write
from swarmsite.api.runtimes_schemas import (
    ApplyIn,
    Count,
    InputStateSchema,
    OAuthFlowIn,
    OAuthFlowOut,
    OAuthFlowUpdateIn,
    OpsIn,
    OpsOut,
    ReceiptSchema,
    RuntimeFilter,
    RuntimeId,
    RuntimeOut,
    SnapshotIn,
    SnapshotOut,
    StateIn,
    StateOut,
    StoredReceiptOut,
)
from swarmsite.api.schemas import PageOut, PageParams
from swarmsite.composition import runtime_store

runtimes_router = Router(tags=["runtimes"])

WRITE_ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


# -- helpers -------------------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def runtime_out(summary: RuntimeSummary) -> dict[str, Any]:
    return {
        "runtime_id": summary.runtime_id,
        "state": summary.state,
        "allowed_next": allowed_next(summary.state),
        "state_changed_at": summary.state_changed_at,
        "input_count": summary.input_count,
        "receipt_count": summary.receipt_count,
        "has_session_snapshot": summary.has_session_snapshot,
        "snapshot_committed_at": summary.snapshot_committed_at,
        "has_ops_lifecycle": summary.has_ops_lifecycle,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
    }


def state_out(runtime_id: str, state: RuntimeState | None) -> dict[str, Any]:
    """What a commit answers: where the runtime stands now (cheap: no counts)."""
    return {"runtime_id": runtime_id, "state": state, "allowed_next": allowed_next(state)}


def page_out(items: list[Any], total: int, offset: int, limit: int) -> dict[str, Any]:
    return {"items": items, "total": total, "offset": offset, "limit": limit}


def oauth_out(raw: bytes | None) -> dict[str, Any]:
    return {
        "snapshot": json.loads(raw) if raw is not None else None,
        "sha256": hashlib.sha256(raw).hexdigest() if raw is not None else None,
        "authority_key": runtime_store().auth_authority_key(),
    }


# -- the global OAuth-flow snapshot (admin) -------------------------------------------------------
# Registered before the /{runtime_id} routes; "-" cannot clash since no runtime route ends in /oauth-flow.

ADMIN_ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 409: ErrorOut, **COMMON_ERRORS}


@runtimes_router.get("/-/oauth-flow", response={200: OAuthFlowOut, **ADMIN_ERRORS})
def load_oauth_flow(request: HttpRequest) -> dict[str, Any]:
    """The one global OAuth login-flow snapshot (null if none), its sha256 and the store's authority
    key. Admin scope: it holds PKCE verifiers and device codes."""
    require_scope(request, "admin")
    return oauth_out(runtime_store().load_auth_oauth_flow_snapshot())


@runtimes_router.put("/-/oauth-flow", response={200: OAuthFlowOut, **ADMIN_ERRORS})
def persist_oauth_flow(request: HttpRequest, body: OAuthFlowIn) -> dict[str, Any]:
    """Replace the OAuth-flow snapshot unconditionally. Admin scope."""
    require_scope(request, "admin")
    raw = encode(body.snapshot)
    runtime_store().persist_auth_oauth_flow_snapshot(raw)
    return oauth_out(raw)


@runtimes_router.post("/-/oauth-flow/update", response={200: OAuthFlowOut, **ADMIN_ERRORS})
def update_oauth_flow(request: HttpRequest, body: OAuthFlowUpdateIn) -> dict[str, Any]:
    """Compare-and-swap under the store's lock: replace the snapshot only if it still hashes to
    `expected_sha256` (null: only if there is none), else 409 `oauth_flow_changed`. Admin scope."""
    require_scope(request, "admin")
    raw = encode(body.snapshot)

    def swap(current: bytes | None) -> bytes:
        found = hashlib.sha256(current).hexdigest() if current is not None else None
        if found != body.expected_sha256:
            raise OAuthFlowChanged(
                "the OAuth-flow snapshot changed since it was read; read it again and retry",
                expected_sha256=body.expected_sha256,
                current_sha256=found,
            )
        return raw

    return oauth_out(runtime_store().update_auth_oauth_flow_snapshot(swap))


# -- runtimes ------------------------------------------------------------------------------------


@runtimes_router.get("", response={200: PageOut[RuntimeOut], **COMMON_ERRORS})
def list_runtimes(request: HttpRequest, filters: Query[RuntimeFilter]) -> dict[str, Any]:
    """Runtimes with any stored data, most recently updated first, optionally in one state."""
    page = runtime_store().list_runtimes(state=filters.state, offset=filters.offset, limit=filters.limit)
    return page_out([runtime_out(s) for s in page.items], page.total, page.offset, page.limit)


@runtimes_router.get("/{runtime_id}", response={200: RuntimeOut, 404: ErrorOut, **COMMON_ERRORS})
def get_runtime(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """One runtime: state, the states it may move to, counts. 404 if nothing is stored for it."""
    return runtime_out(runtime_store().get_runtime(runtime_id))


@runtimes_router.post("/{runtime_id}/apply", response={200: StateOut, 422: ErrorOut, **WRITE_ERRORS})
def atomic_apply(request: HttpRequest, runtime_id: RuntimeId, body: ApplyIn) -> dict[str, Any]:
    """Commit a run boundary in one step: the session snapshot (if sent), the receipt and the input
    updates, or nothing. 409 `write_failed` if (run_id, sequence) already has a receipt (retries
    are safe: check the receipt); 422 `invalid_snapshot` / `session_key_mismatch`; 409
    `stale_fencing_token` for a fenced commit under a lost lease."""
    store = runtime_store()
    delta = SessionDelta(encode(body.session_snapshot)) if body.session_snapshot is not None else None
    with owned_write(request, Owned.RUNTIME, runtime_id, "runtime.apply", fence=body.fence()) as fence:
        store.atomic_apply(
            runtime_id, delta, body.receipt.receipt(), [s.stored() for s in body.input_updates],
            body.session_store_key, fence=fence,
        )
    return state_out(runtime_id, store.load_runtime_state(runtime_id))


@runtimes_router.get("/{runtime_id}/snapshot", response={200: SnapshotOut, **COMMON_ERRORS})
def load_session_snapshot(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """The latest committed session snapshot (null if none)."""
    raw = runtime_store().load_session_snapshot(runtime_id)
    return {
        "runtime_id": runtime_id,
        "session_snapshot": json.loads(raw) if raw is not None else None,
        "size_bytes": len(raw) if raw is not None else None,
    }


@runtimes_router.put("/{runtime_id}/snapshot", response={200: StateOut, 422: ErrorOut, **WRITE_ERRORS})
def commit_session_snapshot(request: HttpRequest, runtime_id: RuntimeId, body: SnapshotIn) -> dict[str, Any]:
    """Replace the session snapshot outside a run boundary: no receipt, no input changes."""
    store = runtime_store()
    with owned_write(request, Owned.RUNTIME, runtime_id, "runtime.snapshot", fence=body.fence()) as fence:
        store.commit_session_snapshot(runtime_id, SessionDelta(encode(body.session_snapshot)), fence=fence)
    return state_out(runtime_id, store.load_runtime_state(runtime_id))


@runtimes_router.get("/{runtime_id}/state", response={200: StateOut, **COMMON_ERRORS})
def load_runtime_state(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """The last committed state (null before the first commit) and the states it may move to."""
    return state_out(runtime_id, runtime_store().load_runtime_state(runtime_id))


@runtimes_router.put("/{runtime_id}/state", response={200: StateOut, **WRITE_ERRORS})
def commit_machine_lifecycle(request: HttpRequest, runtime_id: RuntimeId, body: StateIn) -> dict[str, Any]:
    """Move the runtime to `state` and upsert `input_states`, in one commit. 409 `invalid_transition`
    if the table forbids the move (see `allowed_next`) or the state changed meanwhile. Sending the
    current state again is allowed (except `destroyed`): it commits only the input states."""
    store = runtime_store()
    with owned_write(request, Owned.RUNTIME, runtime_id, "runtime.state", fence=body.fence()) as fence:
        change_state(store, runtime_id, body.state, [s.stored() for s in body.input_states], fence=fence)
    return state_out(runtime_id, store.load_runtime_state(runtime_id))


@runtimes_router.get("/{runtime_id}/inputs", response={200: PageOut[InputStateSchema], **COMMON_ERRORS},
                     by_alias=True)
def load_input_states(request: HttpRequest, runtime_id: RuntimeId, page: Query[PageParams]) -> dict[str, Any]:
    """Input states in first-insertion order (an update keeps its place); empty if none."""
    states = runtime_store().load_input_states(runtime_id)
    items = [s.to_json() for s in states[page.offset : page.offset + page.limit]]
    return page_out(items, len(states), page.offset, page.limit)


@runtimes_router.get("/{runtime_id}/inputs/{input_id}", response={200: InputStateSchema, 404: ErrorOut,
                                                                  **COMMON_ERRORS}, by_alias=True)
def load_input_state(request: HttpRequest, runtime_id: RuntimeId, input_id: UUID) -> dict[str, Any]:
    """One input state; 404 if the runtime has none with this id."""
    state = runtime_store().load_input_state(runtime_id, input_id)
    if state is None:
        raise NotFound(f"runtime {runtime_id!r} has no input {input_id}", runtime_id=runtime_id,
                       input_id=str(input_id))
    return state.to_json()


@runtimes_router.put("/{runtime_id}/inputs/{input_id}", response={200: InputStateSchema, **WRITE_ERRORS},
                     by_alias=True)
def persist_input_state(
    request: HttpRequest, runtime_id: RuntimeId, input_id: UUID, body: InputStateSchema,
    fencing_token: FencingTokenHeader = None,
) -> dict[str, Any]:
    """Upsert one input state (durable before ack). The body's input_id must match the path."""
    if body.input_id != input_id:
        raise InvalidInput(f"body input_id {body.input_id} differs from the path's {input_id}",
                           input_id=str(input_id))
    state = body.stored()
    with owned_write(request, Owned.RUNTIME, runtime_id, "runtime.input", token=fencing_token):
        runtime_store().persist_input_state(runtime_id, state)
    return state.to_json()


@runtimes_router.get("/{runtime_id}/receipts", response={200: PageOut[StoredReceiptOut], **COMMON_ERRORS})
def list_receipts(request: HttpRequest, runtime_id: RuntimeId, page: Query[PageParams]) -> dict[str, Any]:
    """The runtime's boundary receipts, newest commit first."""
    result = runtime_store().list_receipts(runtime_id, offset=page.offset, limit=page.limit)
    items = [{**r.receipt.to_json(), "committed_at": r.committed_at} for r in result.items]
    return page_out(items, result.total, result.offset, result.limit)


@runtimes_router.get("/{runtime_id}/receipts/{run_id}/{sequence}",
                     response={200: ReceiptSchema, 404: ErrorOut, **COMMON_ERRORS})
def load_boundary_receipt(request: HttpRequest, runtime_id: RuntimeId, run_id: UUID, sequence: Count) -> dict[str, Any]:
    """One receipt; 404 if (run_id, sequence) was never committed for this runtime."""
    receipt = runtime_store().load_boundary_receipt(runtime_id, run_id, sequence)
    if receipt is None:
        raise NotFound(f"runtime {runtime_id!r} has no receipt for run {run_id} sequence {sequence}",
                       runtime_id=runtime_id, run_id=str(run_id), sequence=sequence)
    return receipt.to_json()


@runtimes_router.get("/{runtime_id}/ops", response={200: OpsOut, **COMMON_ERRORS})
def load_ops_lifecycle(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """The ops-lifecycle registry snapshot (null if none)."""
    return {"runtime_id": runtime_id, "snapshot": runtime_store().load_ops_lifecycle(runtime_id)}


@runtimes_router.put("/{runtime_id}/ops", response={200: OpsOut, **WRITE_ERRORS})
def persist_ops_lifecycle(
    request: HttpRequest, runtime_id: RuntimeId, body: OpsIn, fencing_token: FencingTokenHeader = None
) -> dict[str, Any]:
    """Replace the ops-lifecycle registry snapshot (an opaque JSON object)."""
    with owned_write(request, Owned.RUNTIME, runtime_id, "runtime.ops", token=fencing_token):
        runtime_store().persist_ops_lifecycle(runtime_id, body.snapshot)
    return {"runtime_id": runtime_id, "snapshot": body.snapshot}
