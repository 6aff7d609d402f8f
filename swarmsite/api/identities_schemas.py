"""In/Out schemas of the identities API: every input is bounded here so storage never sees bad input."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field, StrictBool, field_validator

from identities.roster import FullMeshTopology, StaticTopology, TopologyProvider
from identities.types import (
    Addressability,
    DispatchOrigin,
    DurableAgentSpec,
    IdentityState,
    ManagedPeerEdge,
    validate_identity,
)
from swarmsite.api.schemas import JsonValue, PageParams, ShortText

# Bigint columns: anything larger would be a database error, not a conflict.
TokenInt = Annotated[int, Field(ge=0, le=2**63 - 1)]
TtlSeconds = Annotated[float, Field(ge=0.1, le=86_400)]
IdentityName = Annotated[str, Field(min_length=1, max_length=200)]
LabelKey = ShortText(100)
LabelValue = ShortText(500)
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64)]  # type: ignore[valid-type]


class SpecFields(Schema):
    profile: ShortText(200)  # type: ignore[valid-type]
    addressability: Addressability = Addressability.ADDRESSABLE
    display_name: ShortText(200) | None = None  # type: ignore[valid-type]
    labels: Labels = {}  # type: ignore[valid-type]
    context: JsonValue | None = None
    additional_instructions: Annotated[list[ShortText(4000)], Field(max_length=50)] = []  # type: ignore[valid-type]
    initial_message: JsonValue | None = None
    runtime_mode_override: ShortText(64) | None = None  # type: ignore[valid-type]

    def to_spec(self, identity: str) -> DurableAgentSpec:
        return DurableAgentSpec(
            identity=validate_identity(identity), profile=self.profile, addressability=self.addressability,
            display_name=self.display_name, labels=dict(self.labels), context=self.context,
            additional_instructions=tuple(self.additional_instructions), initial_message=self.initial_message,
            runtime_mode_override=self.runtime_mode_override,
        )


class SpecIn(SpecFields):
    identity: IdentityName

    @field_validator("identity")
    @classmethod
    def _valid_identity(cls, value: str) -> str:
        from identities.errors import InvalidIdentity

        try:
            return validate_identity(value)
        except InvalidIdentity as exc:
            raise ValueError(exc.detail) from exc


class SpecOut(Schema):
    identity: str
    profile: str
    addressability: Addressability
    display_name: str | None
    labels: dict[str, str]
    context: Any
    additional_instructions: list[str]
    initial_message: Any
    runtime_mode_override: str | None


class LeaseInfoOut(Schema):
    fencing_token: int
    ttl_remaining_ms: int
    healthy: bool
    state: str
    holder: UUID | None
    expires_at: datetime | None
    last_holder: UUID | None
    lost_reason: str


class ContinuityHealthOut(Schema):
    store_reachable: bool
    durability_policy: str
    last_checkpoint_version: int | None
    last_checkpoint_at: datetime | None


class StatusOut(Schema):
    identity: str
    state: IdentityState
    state_reason: str
    why_stuck: str | None = Field(description="Why the identity cannot take work now; null when it can.")
    agent_runtime_id: str | None
    session_id: UUID | None
    profile: str | None
    runtime_mode: str | None
    addressability: Addressability
    display_name: str | None
    labels: dict[str, str]
    generation: int | None
    checkpoint_version: int | None
    lease: LeaseInfoOut | None
    continuity_health: ContinuityHealthOut | None


class IdentityFilter(PageParams):
    state: IdentityState | None = None
    profile: ShortText(200) | None = None  # type: ignore[valid-type]
    label: ShortText(300) | None = Field(None, description="`key=value`: only identities with that label")  # type: ignore[valid-type]
    q: ShortText(200) | None = Field(None, description="Search in identity names and display names")  # type: ignore[valid-type]


class LeaseAcquireIn(Schema):
    agent_id: UUID
    ttl_s: TtlSeconds | None = None


class LeaseRenewIn(Schema):
    agent_id: UUID
    fencing_token: TokenInt
    ttl_s: TtlSeconds | None = None


class LeaseReleaseIn(Schema):
    agent_id: UUID
    fencing_token: TokenInt


class LeaseOut(Schema):
    identity: str
    fencing_token: int
    ttl_ms: int
    holder: UUID
    expires_at: datetime


class SendIn(Schema):
    content: JsonValue
    idempotency_key: ShortText(200) | None = None  # type: ignore[valid-type]


class DispatchIn(SendIn):
    origin: DispatchOrigin = DispatchOrigin.SYSTEM
    correlation_id: ShortText(200) | None = None  # type: ignore[valid-type]


class DeliveryOut(Schema):
    identity: str
    fencing_token: int
    batch_id: str | None
    session_id: UUID
    is_durable: bool


class CheckpointIn(Schema):
    fencing_token: TokenInt | None = Field(None, description="The identity's current token (required from agents).")
    agent_id: UUID | None = None
    # At most 2**53 - 1 (exact in every JSON client), so the version after it always fits the column.
    version: Annotated[int, Field(ge=1, le=2**53 - 1, strict=True)] | None = Field(
        None, description="Expected version (optimistic): 409 `stale_checkpoint_version` unless it advances"
    )
    data: str = Field(description="The session snapshot, base64-encoded", max_length=4 * 1024 * 1024)

    def snapshot(self) -> bytes:
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            from stores.errors import InvalidInput

            raise InvalidInput("data is not valid base64", field="data") from exc


class CheckpointOut(Schema):
    identity: str
    session_id: UUID
    generation: int
    version: int
    fencing_token: int
    size: int
    created_at: datetime
    archived: bool


class CheckpointDataOut(CheckpointOut):
    data: str = Field(description="The snapshot, base64-encoded")


class InspectOut(Schema):
    output_preview: str | None
    is_final: bool
    peer_reachable_count: int
    output_ref: str | None


class WaitParams(Schema):
    timeout_s: float = Field(25.0, ge=0, le=60)
    contains: ShortText(500) | None = None  # type: ignore[valid-type]


class PeersOut(Schema):
    identity: str
    peers: list[str]
    reachable_count: int


class ActionIn(Schema):
    reason: ShortText(1000) = ""  # type: ignore[valid-type]


class RecoveryOut(Schema):
    identity: str
    action: str
    fencing_token: int
    generation: int | None
    session_id: UUID | None
    status: StatusOut


class EventOut(Schema):
    id: int | None
    kind: str
    subject_id: str
    payload: dict[str, Any]
    created_at: datetime


class EventParams(Schema):
    after: int = Field(0, ge=0, le=2**63 - 1)
    limit: int = Field(100, ge=1, le=500)


class RejectionOut(Schema):
    id: int | None
    identity: str
    agent_id: UUID | None = Field(description="The agent the presented token was granted to (or that sent it).")
    presented_token: int | None = Field(description="None when the write carried no fencing token.")
    current_token: int | None
    operation: str
    created_at: datetime
    code: str = Field(description="Why: stale_fencing_token, fence_mismatch or fencing_token_required.")
    caller: str = Field(description="The name of the API token that made the write.")


class AuditOut(Schema):
    id: int | None
    actor: str
    action: str
    identity: str
    reason: str
    ok: bool
    result: dict[str, Any]
    created_at: datetime


# -- roster --------------------------------------------------------------------------------------
MAX_ROSTER = 1000
Edge = Annotated[list[IdentityName], Field(min_length=2, max_length=2)]


class EdgesIn(Schema):
    edges: Annotated[list[Edge], Field(max_length=10_000)]

    def to_edges(self) -> list[ManagedPeerEdge]:
        return [ManagedPeerEdge.of(validate_identity(a), validate_identity(b)) for a, b in self.edges]


class RosterIn(Schema):
    identities: Annotated[list[SpecIn], Field(max_length=MAX_ROSTER)]
    topology: Literal["none", "full_mesh"] | EdgesIn = "none"

    def specs(self) -> list[Any]:
        return [s.to_spec(s.identity) for s in self.identities]

    def provider(self) -> TopologyProvider | None:
        if isinstance(self.topology, EdgesIn):
            return StaticTopology(self.topology.to_edges())
        return FullMeshTopology() if self.topology == "full_mesh" else None


class ReconcileIn(Schema):
    identities: Annotated[list[SpecIn], Field(max_length=MAX_ROSTER)]
    dry_run: StrictBool = True
    reason: ShortText(1000) = "reconcile"  # type: ignore[valid-type]


def checkpoint_out(checkpoint: Any, *, with_data: bool = False) -> dict[str, Any]:
    out = {
        "identity": checkpoint.identity, "session_id": checkpoint.session_id, "generation": checkpoint.generation,
        "version": checkpoint.version, "fencing_token": checkpoint.fencing_token, "size": checkpoint.size,
        "created_at": checkpoint.created_at, "archived": checkpoint.archived,
    }
    if with_data:
        out["data"] = base64.b64encode(checkpoint.data or b"").decode()
    return out
