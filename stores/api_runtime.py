"""The runtimes router (/api/v1/runtimes): every RuntimeStore method, thin over the store.

Snapshots travel as JSON values and are stored as their compact UTF-8 encoding; the store checks
they are objects (422 `invalid_snapshot`). Runtime ids are limited here (<= 200 chars; no NUL,
whitespace or "/", so every id is one path segment). The global OAuth-flow snapshot lives under
`/runtimes/-/oauth-flow` and needs an admin token.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, model_validator

from stores.errors import InvalidInput, NotFound, OAuthFlowChanged
from stores.registry import runtime_store
from stores.runtime import change_state
from stores.runtime_state import allowed_next
from stores.runtime_types import (
    TERMINAL_OUTCOME_TYPES,
    InputLifecycleState,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RuntimeState,
    RuntimeSummary,
    SessionDelta,
    StoredInputState,
)
from stores.types import Fence
from swarmsite.api import COMMON_ERRORS, ErrorOut
from swarmsite.auth import require_scope
from swarmsite.schemas import JsonObject, JsonValue, PageOut, PageParams, ShortText

runtimes_router = Router(tags=["runtimes"])

SEGMENT = r"^[^\s\x00/]+$"
RuntimeId = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
IdentityName = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
MAX_INPUTS_PER_COMMIT = 1000
# Input states come back exactly as sent: full isoformat, never the renderer's millisecond form.
ExactDatetime = Annotated[AwareDatetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str)]

WRITE_ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


# -- schemas -------------------------------------------------------------------------------------


class Fenced(Schema):
    """A commit made under an identity's lease carries both; an unfenced commit neither."""

    identity: IdentityName | None = None
    fencing_token: Count | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.identity is None) != (self.fencing_token is None):
            raise ValueError("identity and fencing_token go together: send both or neither")
        return self

    def fence(self) -> Fence | None:
        if self.identity is None or self.fencing_token is None:
            return None
        return Fence(identity=self.identity, token=self.fencing_token)


class InputTransitionSchema(Schema):
    timestamp: ExactDatetime
    from_state: InputLifecycleState = Field(alias="from")
    to_state: InputLifecycleState = Field(alias="to")
    reason: ShortText(1000) | None = None  # type: ignore[valid-type]


def _known_outcome(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("outcome_type") not in TERMINAL_OUTCOME_TYPES:
        raise ValueError(f"outcome_type must be one of {', '.join(TERMINAL_OUTCOME_TYPES)}")
    return value


# InputTerminalOutcome, tagged by outcome_type; its other members are kept as sent.
TerminalOutcome = Annotated[JsonObject, AfterValidator(_known_outcome)]


class InputStateSchema(Schema):
    """StoredInputState in its flat wire form (what the stores keep, field for field)."""

    input_id: UUID
    current_state: InputLifecycleState
    created_at: ExactDatetime
    updated_at: ExactDatetime
    attempt_count: Count = 0
    recovery_count: Count = 0
    history: list[InputTransitionSchema] = Field(default_factory=list, max_length=1000)
    last_run_id: UUID | None = None
    last_boundary_sequence: Count | None = None
    terminal_outcome: TerminalOutcome | None = None
    policy: JsonObject | None = None
    runtime_semantics: JsonValue = None
    durability: JsonValue = None
    idempotency_key: ShortText(200) | None = None  # type: ignore[valid-type]
    reconstruction_source: JsonObject | None = None
    persisted_input: JsonValue = None

    def stored(self) -> StoredInputState:
        doc = self.model_dump(mode="json", by_alias=True)
        # Absent and null members are the same thing on the wire (None inside JSON values is kept).
        return StoredInputState.from_json({k: v for k, v in doc.items() if v is not None})


class ReceiptSchema(Schema):
    run_id: UUID
    boundary: RunApplyBoundary
    sequence: Count
    contributing_input_ids: list[UUID] = Field(default_factory=list, max_length=10_000)
    conversation_digest: ShortText(128) | None = None  # type: ignore[valid-type]
    message_count: Count = 0

    def receipt(self) -> RunBoundaryReceipt:
        return RunBoundaryReceipt(
            run_id=self.run_id,
            boundary=self.boundary,
            sequence=self.sequence,
            contributing_input_ids=tuple(self.contributing_input_ids),
            conversation_digest=self.conversation_digest,
            message_count=self.message_count,
        )


class StoredReceiptOut(ReceiptSchema):
    committed_at: datetime


class ApplyIn(Fenced):
    session_snapshot: JsonValue = Field(None, description="The session as a JSON object; omit to keep the current one")
    session_store_key: UUID | None = Field(None, description="If given, the snapshot's id must equal it")
    receipt: ReceiptSchema
    input_updates: list[InputStateSchema] = Field(default_factory=list, max_length=MAX_INPUTS_PER_COMMIT)


class SnapshotIn(Fenced):
    session_snapshot: JsonValue


class SnapshotOut(Schema):
    runtime_id: str
    session_snapshot: dict[str, Any] | None
    size_bytes: int | None


class StateIn(Fenced):
    state: RuntimeState
    input_states: list[InputStateSchema] = Field(default_factory=list, max_length=MAX_INPUTS_PER_COMMIT)


class StateOut(Schema):
    runtime_id: str
    state: RuntimeState | None
    allowed_next: list[RuntimeState]


class RuntimeOut(StateOut):
    state_changed_at: datetime | None
    input_count: int
    receipt_count: int
    has_session_snapshot: bool
    snapshot_committed_at: datetime | None
    has_ops_lifecycle: bool
    created_at: datetime
    updated_at: datetime


class OpsIn(Schema):
    snapshot: JsonObject


class OpsOut(Schema):
    runtime_id: str
    snapshot: dict[str, Any] | None


class OAuthFlowIn(Schema):
    snapshot: JsonObject


class OAuthFlowUpdateIn(Schema):
    expected_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        ..., description="sha256 of the snapshot you read (null: you read none); a mismatch is 409"
    )
    snapshot: JsonObject


class OAuthFlowOut(Schema):
    snapshot: dict[str, Any] | None
    sha256: str | None
    authority_key: str | None


class RuntimeFilter(PageParams):
    state: RuntimeState | None = None


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


@runtimes_router.post("/{runtime_id}/apply", response={200: RuntimeOut, 422: ErrorOut, **WRITE_ERRORS})
def atomic_apply(request: HttpRequest, runtime_id: RuntimeId, body: ApplyIn) -> dict[str, Any]:
    """Commit a run boundary in one step: the session snapshot (if sent), the receipt and the input
    updates, or nothing. 409 `write_failed` if (run_id, sequence) already has a receipt (retries
    are safe: check the receipt); 422 `invalid_snapshot` / `session_key_mismatch`; 409
    `stale_fencing_token` for a fenced commit under a lost lease."""
    store = runtime_store()
    delta = SessionDelta(encode(body.session_snapshot)) if body.session_snapshot is not None else None
    store.atomic_apply(
        runtime_id, delta, body.receipt.receipt(), [s.stored() for s in body.input_updates],
        body.session_store_key, fence=body.fence(),
    )
    return runtime_out(store.get_runtime(runtime_id))


@runtimes_router.get("/{runtime_id}/snapshot", response={200: SnapshotOut, **COMMON_ERRORS})
def load_session_snapshot(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """The latest committed session snapshot (null if none)."""
    raw = runtime_store().load_session_snapshot(runtime_id)
    return {
        "runtime_id": runtime_id,
        "session_snapshot": json.loads(raw) if raw is not None else None,
        "size_bytes": len(raw) if raw is not None else None,
    }


@runtimes_router.put("/{runtime_id}/snapshot", response={200: RuntimeOut, 422: ErrorOut, **WRITE_ERRORS})
def commit_session_snapshot(request: HttpRequest, runtime_id: RuntimeId, body: SnapshotIn) -> dict[str, Any]:
    """Replace the session snapshot outside a run boundary: no receipt, no input changes."""
    store = runtime_store()
    store.commit_session_snapshot(runtime_id, SessionDelta(encode(body.session_snapshot)), fence=body.fence())
    return runtime_out(store.get_runtime(runtime_id))


@runtimes_router.get("/{runtime_id}/state", response={200: StateOut, **COMMON_ERRORS})
def load_runtime_state(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    """The last committed state (null before the first commit) and the states it may move to."""
    state = runtime_store().load_runtime_state(runtime_id)
    return {"runtime_id": runtime_id, "state": state, "allowed_next": allowed_next(state)}


@runtimes_router.put("/{runtime_id}/state", response={200: RuntimeOut, **WRITE_ERRORS})
def commit_machine_lifecycle(request: HttpRequest, runtime_id: RuntimeId, body: StateIn) -> dict[str, Any]:
    """Move the runtime to `state` and upsert `input_states`, in one commit. 409 `invalid_transition`
    if the table forbids the move (see `allowed_next`) or the state changed meanwhile. Sending the
    current state again is allowed (except `destroyed`): it commits only the input states."""
    store = runtime_store()
    change_state(store, runtime_id, body.state, [s.stored() for s in body.input_states], fence=body.fence())
    return runtime_out(store.get_runtime(runtime_id))


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
    request: HttpRequest, runtime_id: RuntimeId, input_id: UUID, body: InputStateSchema
) -> dict[str, Any]:
    """Upsert one input state (durable before ack). The body's input_id must match the path."""
    if body.input_id != input_id:
        raise InvalidInput(f"body input_id {body.input_id} differs from the path's {input_id}",
                           input_id=str(input_id))
    state = body.stored()
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
def persist_ops_lifecycle(request: HttpRequest, runtime_id: RuntimeId, body: OpsIn) -> dict[str, Any]:
    """Replace the ops-lifecycle registry snapshot (an opaque JSON object)."""
    runtime_store().persist_ops_lifecycle(runtime_id, body.snapshot)
    return {"runtime_id": runtime_id, "snapshot": body.snapshot}
