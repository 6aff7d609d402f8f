"""Schemas of the sessions router: the wire forms of the RuntimePersistence values, limited at the edge.

Snapshot blobs (tool state, plugin snapshot, execution state) travel as base64 strings; opaque agent
data (turn state, frames, node payloads, work payloads) as JSON, NUL-free and depth-limited."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from ninja import Schema
from pydantic import Base64Bytes, Field, model_validator

from stores.persistence_types import (
    Append,
    GraphCommitDelta,
    HydratedSessionCheckpoint,
    ReplaceFull,
    SessionCheckpoint,
    SessionGraph,
    SessionNodeRecord,
    Unchanged,
)
from stores.queue_types import (
    PAYLOAD_FIELD,
    CompletionOutcome,
    DeliveryPolicy,
    MergeKey,
    PayloadKind,
    QueuedWorkBatch,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
    QueuedWorkPayload,
    SlotPolicy,
)
from swarmsite.api.runtimes_schemas import Fenced
from swarmsite.api.schemas import NO_NUL, JsonObject, JsonValue, ShortText

SEGMENT = r"^[^\s\x00/]+$"
# Session, node, batch and attachment ids are single path segments: no whitespace, NUL or "/".
SessionId = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
NodeId = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
BatchId = Annotated[str, Field(min_length=1, max_length=80, pattern=SEGMENT)]
AttachmentId = Annotated[str, Field(min_length=1, max_length=200, pattern=SEGMENT)]
Token = Annotated[str, Field(min_length=1, max_length=64, pattern=SEGMENT)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
EpochMs = Annotated[int, Field(ge=0, le=2**53)]
# In a JSON body a number is a number: `false` or "5" is not an epoch (query parameters stay lax).
BodyEpochMs = Annotated[int, Field(ge=0, le=2**53, strict=True)]
TtlMs = Annotated[int, Field(ge=0, le=7 * 24 * 3600 * 1000)]
MergeKeyText = Annotated[str, Field(pattern=r"^(never|payload_default|group:[^\x00]{1,200})$")]


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


# -- the session graph and commits ----------------------------------------------------------------


class NodeSchema(Schema):
    node_id: NodeId
    parent_node_id: NodeId | None = None
    caused_by: ShortText(200) | None = None  # type: ignore[valid-type]
    agent_frame_id: ShortText(200) | None = None  # type: ignore[valid-type]
    timestamp: ShortText(64) = ""  # type: ignore[valid-type]
    payload: JsonObject = Field(default_factory=dict)

    def record(self) -> SessionNodeRecord:
        return SessionNodeRecord(self.node_id, self.parent_node_id, self.caused_by, self.agent_frame_id,
                                 self.timestamp, self.payload)


class GraphIn(Schema):
    """`unchanged` moves only the leaf; `append` adds nodes; `replace_full` replaces the whole graph."""

    mode: Literal["unchanged", "append", "replace_full"] = "unchanged"
    nodes: list[NodeSchema] = Field(default_factory=list, max_length=10_000)
    leaf_node_id: NodeId | None = None

    @model_validator(mode="after")
    def _no_nodes_when_unchanged(self) -> Self:
        if self.mode == "unchanged" and self.nodes:
            raise ValueError("an unchanged graph carries no nodes; use mode 'append' or 'replace_full'")
        return self

    def delta(self) -> GraphCommitDelta:
        nodes = tuple(n.record() for n in self.nodes)
        if self.mode == "append":
            return Append(nodes, self.leaf_node_id)
        if self.mode == "replace_full":
            return ReplaceFull(SessionGraph(nodes, self.leaf_node_id))
        return Unchanged(self.leaf_node_id)


class SessionCheckpointIn(Schema):
    turn_state: JsonValue = None
    tool_state: Base64Bytes | None = Field(default=None, description="base64")
    plugin_snapshot: Base64Bytes | None = Field(default=None, description="base64")
    plugin_snapshot_revision: Count | None = None
    execution_state: Base64Bytes | None = Field(default=None, description="base64")

    def hydrated(self) -> HydratedSessionCheckpoint:
        return HydratedSessionCheckpoint(self.turn_state, self.tool_state, self.plugin_snapshot,
                                         self.plugin_snapshot_revision, self.execution_state)


class ConfigSchema(Schema):
    provider_id: ShortText(200) = ""  # type: ignore[valid-type]
    model: ShortText(200) = ""  # type: ignore[valid-type]


class UsageSchema(Schema):
    source: ShortText(200)  # type: ignore[valid-type]
    model: ShortText(200)  # type: ignore[valid-type]
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_input_tokens: Count = 0
    reasoning_tokens: Count = 0


class ClaimRefIn(Schema):
    """The proof of a claim, as the claim answer returned it."""

    claim_id: Token
    lease_token: Token
    batch_ids: list[BatchId] = Field(min_length=1, max_length=100)

    def completion(self, session_id: str) -> QueuedWorkCompletion:
        return QueuedWorkCompletion(session_id, self.claim_id, self.lease_token, tuple(self.batch_ids))


class CommitIn(Fenced):
    expected_head_revision: Count | None = Field(
        None, description="The head revision this commit builds on; 409 head_revision_conflict if it moved. "
                          "Null: a blind write."
    )
    config: ConfigSchema = Field(default_factory=ConfigSchema)
    agent_frames: list[JsonObject] = Field(default_factory=list, max_length=100)
    current_agent_frame_id: ShortText(200) | None = None  # type: ignore[valid-type]
    graph: GraphIn = Field(default_factory=GraphIn)
    checkpoint: SessionCheckpointIn = Field(default_factory=SessionCheckpointIn)
    usage_deltas: list[UsageSchema] = Field(default_factory=list, max_length=100)
    turn_id: ShortText(200) | None = Field(  # type: ignore[valid-type]
        None, description="Makes this the turn's final commit: a retry returns the stored result. "
                          "The Idempotency-Key header is used when this is absent."
    )
    turn_commit_hash: Sha256Hex | None = Field(None, description="Computed from the commit when absent.")
    completed_queue_claims: list[ClaimRefIn] = Field(default_factory=list, max_length=20)
    committed_attachment_ids: list[AttachmentId] = Field(default_factory=list, max_length=1000)


class ManifestOut(Schema):
    turn_state: Any = None
    tool_state_ref: str | None
    plugin_snapshot_ref: str | None
    plugin_snapshot_revision: int | None
    execution_state_ref: str | None


class CommitOut(Schema):
    session_id: str
    head_revision: int
    checkpoint_ref: str
    manifest: ManifestOut
    turn_id: str | None = None
    turn_commit_hash: str | None = None


def manifest_out(manifest: SessionCheckpoint) -> dict[str, Any]:
    return {"turn_state": manifest.turn_state, "tool_state_ref": manifest.tool_state_ref,
            "plugin_snapshot_ref": manifest.plugin_snapshot_ref,
            "plugin_snapshot_revision": manifest.plugin_snapshot_revision,
            "execution_state_ref": manifest.execution_state_ref}


class GraphOut(Schema):
    nodes: list[NodeSchema]
    leaf_node_id: str | None


class SessionCheckpointOut(Schema):
    turn_state: Any = None
    tool_state: str | None = Field(None, description="base64")
    plugin_snapshot: str | None = Field(None, description="base64")
    plugin_snapshot_revision: int | None
    execution_state: str | None = Field(None, description="base64")


class SessionOut(Schema):
    session_id: str
    head_revision: int
    config: ConfigSchema
    agent_frames: list[dict[str, Any]]
    current_agent_frame_id: str | None
    graph: GraphOut
    checkpoint_ref: str | None
    checkpoint: SessionCheckpointOut | None
    token_ledger: list[UsageSchema]


class ReadScopeIn(Schema):
    scope: Literal["full", "active_path"] = "full"
    leaf_node_id: NodeId | None = Field(None, description="active_path only: the leaf (default: the persisted one)")


class SessionSummaryOut(Schema):
    session_id: str
    session_name: str | None
    head_revision: int | None
    graph_node_count: int
    pending_count: int
    claimed_count: int
    created_at: Any
    updated_at: Any


class RelationSchema(Schema):
    parent_session_id: SessionId | None = None
    caused_by: ShortText(200) | None = None  # type: ignore[valid-type]


class MetaSchema(Schema):
    session_name: ShortText(200)  # type: ignore[valid-type]
    created_at: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    model: ShortText(200)  # type: ignore[valid-type]
    cwd: ShortText(2000) | None = None  # type: ignore[valid-type]
    relation: RelationSchema = Field(default_factory=RelationSchema)


class NodeIdsIn(Schema):
    node_ids: list[NodeId] = Field(min_length=1, max_length=10_000)


class VacuumOut(Schema):
    dry_run: bool
    removed_node_count: int
    node_ids: list[str]


class GcOut(Schema):
    dry_run: bool
    root_count: int
    retained_blob_count: int
    deleted_blob_count: int
    deleted_refs: list[str]
    aborted: str | None


# -- queued work ----------------------------------------------------------------------------------


class PayloadSchema(Schema):
    """{"type": "turn_input", "input": ...} | {"type": "process_wake", "wake": ...} |
    {"type": "session_command", "command": ...}"""

    type: PayloadKind
    input: JsonValue = None
    wake: JsonValue = None
    command: JsonValue = None

    def payload(self) -> QueuedWorkPayload:
        return QueuedWorkPayload(self.type, getattr(self, PAYLOAD_FIELD[self.type]))


class EnqueueIn(Schema):
    payloads: list[PayloadSchema] = Field(min_length=1, max_length=100)
    source_key: ShortText(300) | None = Field(  # type: ignore[valid-type]
        None, description="Idempotency: a repeat returns the original batch. Defaults to the Idempotency-Key header."
    )
    delivery_policy: DeliveryPolicy = DeliveryPolicy.AFTER_CURRENT_TURN_COMMIT
    slot_policy: SlotPolicy = SlotPolicy.EXCLUSIVE
    merge_key: MergeKeyText = "never"
    available_at_ms: BodyEpochMs = 0


class BatchClaimOut(Schema):
    claim_id: str
    owner_id: str
    claimed_at_ms: int
    expires_at_ms: int


class ItemOut(Schema):
    item_id: str
    payload: dict[str, Any]


class BatchOut(Schema):
    batch_id: str
    session_id: str
    enqueue_seq: int
    source_key: str | None
    delivery_policy: DeliveryPolicy
    slot_policy: SlotPolicy
    merge_key: str
    available_at_ms: int
    enqueued_at_ms: int
    items: list[ItemOut]
    claim: BatchClaimOut | None
    claim_fencing_token: int
    outcome: str | None = Field(None, description="completed/cancelled: the record a finished keyed batch left")


def batch_out(batch: QueuedWorkBatch) -> dict[str, Any]:
    claim = batch.claim
    return {
        "batch_id": batch.batch_id, "session_id": batch.session_id, "enqueue_seq": batch.enqueue_seq,
        "source_key": batch.source_key, "delivery_policy": batch.delivery_policy, "slot_policy": batch.slot_policy,
        "merge_key": batch.merge_key.encode(), "available_at_ms": batch.available_at_ms,
        "enqueued_at_ms": batch.enqueued_at_ms,
        "items": [{"item_id": i.item_id, "payload": i.payload.to_json()} for i in batch.items],
        "claim": claim.__dict__ if claim else None,
        "claim_fencing_token": batch.claim_fencing_token,
        "outcome": batch.outcome.value if batch.outcome else None,
    }


class ClaimIn(Schema):
    agent_id: UUID = Field(description="The claiming agent; it must be online. Its expiry frees the claim.")
    boundary: QueuedWorkClaimBoundary = QueuedWorkClaimBoundary.IDLE
    lease_ttl_ms: TtlMs | None = Field(None, description="Default: the server's claim TTL")
    max_batches: int = Field(16, ge=1, le=100)
    batch_ids: list[BatchId] | None = Field(
        None, min_length=1, max_length=100,
        description="Claim exactly these batches, which must be the next ready group in order",
    )


class ClaimOut(Schema):
    session_id: str
    claim_id: str
    owner_id: str
    lease_token: str = Field(description="Secret: send it back to renew, abandon or complete")
    fencing_token: int
    claimed_at_ms: int
    expires_at_ms: int
    batches: list[BatchOut]


def claim_out(claim: QueuedWorkClaim) -> dict[str, Any]:
    return {
        "session_id": claim.session_id, "claim_id": claim.claim_id, "owner_id": claim.owner_id,
        "lease_token": claim.lease_token, "fencing_token": claim.fencing_token,
        "claimed_at_ms": claim.claimed_at_epoch_ms, "expires_at_ms": claim.expires_at_epoch_ms,
        "batches": [batch_out(b) for b in claim.batches],
    }


# Batch calls of the inbox: how many claims one call takes or completes.
MAX_CLAIMS = 100


class ClaimManyIn(Schema):
    agent_id: UUID = Field(description="The claiming agent; it must be online. Its expiry frees the claims.")
    boundary: QueuedWorkClaimBoundary = QueuedWorkClaimBoundary.IDLE
    lease_ttl_ms: TtlMs | None = Field(None, description="Default: the server's claim TTL")
    max_claims: int = Field(16, ge=1, le=MAX_CLAIMS, description="At most this many claims (each its own lease token)")
    max_batches: int = Field(16, ge=1, le=100, description="Per claim, as in `/queue/claim`: a join group of up "
                                                           "to this many batches; an exclusive batch goes alone")


class ClaimsOut(Schema):
    claims: list[ClaimOut] = Field(description="In enqueue order; empty when nothing is ready")


class CompleteManyIn(Fenced):
    claims: list[ClaimRefIn] = Field(min_length=1, max_length=MAX_CLAIMS,
                                     description="The claims to complete, each named once, as their claim answers "
                                                 "returned them")


class CompletionOut(Schema):
    claim_id: str
    outcome: CompletionOutcome = Field(
        description="`completed`, or `queued_work_claim_expired` (what the single completion would answer: the "
        "claim no longer holds every batch it names, so nothing of it was completed)"
    )
    completed_batch_ids: list[str]


class CompletionsOut(Schema):
    results: list[CompletionOut] = Field(description="One per claim, in the order sent")
    completed_batch_ids: list[str] = Field(description="Every batch completed by this call")


class RenewIn(ClaimRefIn):
    lease_ttl_ms: TtlMs | None = None


class CompleteIn(ClaimRefIn, Fenced):
    pass


class CompletedOut(Schema):
    completed_batch_ids: list[str]


class QueueFilter(Schema):
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(100, ge=1, le=500)


# -- attachments ----------------------------------------------------------------------------------


class IntentIn(Schema):
    attachment_id: AttachmentId
    canonical_uri: ShortText(2000)  # type: ignore[valid-type]
    intent_at_epoch_ms: BodyEpochMs | None = Field(None, description="Default: now")


class AttachmentIdsIn(Schema):
    attachment_ids: list[AttachmentId] = Field(min_length=1, max_length=1000)


class AttachmentOut(Schema):
    attachment_id: str
    session_id: str
    canonical_uri: str
    intent_at_epoch_ms: int
    committed_at_epoch_ms: int | None


def merge_key(text: str) -> MergeKey:
    return MergeKey.decode(text)
