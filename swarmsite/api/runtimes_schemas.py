"""Schemas of the runtimes router: the wire forms of the RuntimeStore values, limited at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, model_validator

from stores.runtime_types import (
    TERMINAL_OUTCOME_TYPES,
    InputLifecycleState,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RuntimeState,
    StoredInputState,
)
from stores.types import Fence
from swarmsite.api.schemas import JsonObject, JsonValue, PageParams, ShortText

SEGMENT = r"^[^\s\x00/]+$"
RuntimeId = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
IdentityName = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
MAX_INPUTS_PER_COMMIT = 1000
# Input states come back exactly as sent: full isoformat, never the renderer's millisecond form.
ExactDatetime = Annotated[AwareDatetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str)]


class Fenced(Schema):
    """A write to what an identity owns carries the owner's current fencing token (`identity` may name
    the owner, and must then be it); a write to something no identity owns may leave both out."""

    identity: IdentityName | None = None
    fencing_token: Count | None = None

    @model_validator(mode="after")
    def _token_with_identity(self) -> Self:
        if self.identity is not None and self.fencing_token is None:
            raise ValueError("identity needs its fencing_token")
        return self

    def fence(self) -> Fence | None:
        if self.fencing_token is None:
            return None
        return Fence(identity=self.identity or "", token=self.fencing_token)


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
