"""Values of the RuntimePersistence contract (semantics 5.2): the session graph, head commits and
checkpoints. Queued-work values live in stores/queue_types.py.

Opaque agent data (turn state, agent frames, node payloads) is JSON; snapshot blobs are bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from stores.queue_types import QueuedWorkCompletion

# A session's key. The API limits it (<= 200 chars, no NUL or whitespace).
SessionId = str
# A content address: the SHA-256 hex digest of the blob's bytes.
BlobRef = str


class DurabilityTier(enum.StrEnum):
    INLINE = "inline"
    DURABLE = "durable"


@dataclass(frozen=True)
class SessionRelation:
    """Root when parent_session_id is None; otherwise a child session spawned by its parent."""

    parent_session_id: str | None = None
    caused_by: str | None = None


@dataclass(frozen=True)
class SessionMeta:
    session_id: SessionId
    session_name: str
    created_at: str  # RFC 3339, as the agent reported it
    model: str
    cwd: str | None = None
    relation: SessionRelation = field(default_factory=SessionRelation)

    @property
    def parent_session_id(self) -> str | None:
        return self.relation.parent_session_id


@dataclass(frozen=True)
class SessionNodeRecord:
    """One node of the session graph. `payload` is opaque JSON: {"type": "event", "event": ...} or
    {"type": "plugin", "plugin_type": ..., "body": ...}."""

    node_id: str
    parent_node_id: str | None = None
    caused_by: str | None = None
    agent_frame_id: str | None = None
    timestamp: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionGraph:
    nodes: Sequence[SessionNodeRecord] = ()
    leaf_node_id: str | None = None

    @property
    def node_ids(self) -> list[str]:
        return [n.node_id for n in self.nodes]


@dataclass(frozen=True)
class FullGraph:
    """Read scope: every live node in stored order, with the persisted leaf."""


@dataclass(frozen=True)
class ActivePath:
    """Read scope: the ancestor chain of leaf_node_id (the persisted leaf when None), root first."""

    leaf_node_id: str | None = None


SessionReadScope = FullGraph | ActivePath
FULL_GRAPH = FullGraph()


@dataclass(frozen=True)
class ModelConfig:
    provider_id: str = ""
    model: str = ""


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    @property
    def is_zero(self) -> bool:
        return not (self.input_tokens or self.output_tokens or self.cached_input_tokens or self.reasoning_tokens)


@dataclass(frozen=True)
class TokenLedgerEntry:
    source: str
    model: str
    usage: TokenUsage = field(default_factory=TokenUsage)


@dataclass(frozen=True)
class SessionCheckpoint:
    """The stored checkpoint manifest: turn state inline, snapshots by content address."""

    turn_state: Any = None
    tool_state_ref: BlobRef | None = None
    plugin_snapshot_ref: BlobRef | None = None
    plugin_snapshot_revision: int | None = None
    execution_state_ref: BlobRef | None = None

    @property
    def blob_refs(self) -> list[BlobRef]:
        refs = (self.tool_state_ref, self.plugin_snapshot_ref, self.execution_state_ref)
        return [r for r in refs if r is not None]


@dataclass(frozen=True)
class HydratedSessionCheckpoint:
    """A checkpoint with its snapshot blobs loaded (what commits carry and loads return)."""

    turn_state: Any = None
    tool_state: bytes | None = None
    plugin_snapshot: bytes | None = None
    plugin_snapshot_revision: int | None = None
    execution_state: bytes | None = None


@dataclass(frozen=True)
class PersistedSessionRead:
    session_id: SessionId
    head_revision: int
    config: ModelConfig
    agent_frames: Sequence[Mapping[str, Any]]
    current_agent_frame_id: str | None
    graph: SessionGraph
    checkpoint_ref: BlobRef | None
    checkpoint: HydratedSessionCheckpoint | None
    token_ledger: Sequence[TokenLedgerEntry]


@dataclass(frozen=True)
class Unchanged:
    """Graph delta: keep the nodes, move the leaf."""

    leaf_node_id: str | None = None


@dataclass(frozen=True)
class Append:
    """Graph delta: add nodes (a node id that already exists is rejected) and move the leaf."""

    nodes: Sequence[SessionNodeRecord] = ()
    leaf_node_id: str | None = None


@dataclass(frozen=True)
class ReplaceFull:
    """Graph delta: drop every node and store this graph."""

    graph: SessionGraph = field(default_factory=SessionGraph)


GraphCommitDelta = Unchanged | Append | ReplaceFull


@dataclass(frozen=True)
class RuntimeTurnCommitStamp:
    session_id: SessionId
    turn_id: str
    turn_commit_hash: str


@dataclass(frozen=True)
class RuntimeCommit:
    """One atomic commit of a session's visible state (semantics 5.4)."""

    session_id: SessionId
    expected_head_revision: int | None = None  # None: a blind write, no CAS
    config: ModelConfig = field(default_factory=ModelConfig)
    agent_frames: Sequence[Mapping[str, Any]] = ()
    current_agent_frame_id: str | None = None
    graph: GraphCommitDelta = field(default_factory=Unchanged)
    checkpoint: HydratedSessionCheckpoint = field(default_factory=HydratedSessionCheckpoint)
    usage_deltas: Sequence[TokenLedgerEntry] = ()
    turn_commit: RuntimeTurnCommitStamp | None = None
    completed_queue_claims: Sequence[QueuedWorkCompletion] = ()
    committed_attachment_ids: Sequence[str] = ()

    def with_turn_commit(self, turn_id: str) -> RuntimeCommit:
        """Stamp the commit as turn `turn_id`'s final commit, hashed independently of the CAS revision."""
        from stores.persistence import turn_commit_hash

        stamp = RuntimeTurnCommitStamp(self.session_id, turn_id, turn_commit_hash(self))
        return replace(self, turn_commit=stamp)

    def completing_queue_claim(self, completion: QueuedWorkCompletion) -> RuntimeCommit:
        return replace(self, completed_queue_claims=(*self.completed_queue_claims, completion))

    def completing_queue_claims(self, completions: Sequence[QueuedWorkCompletion]) -> RuntimeCommit:
        return replace(self, completed_queue_claims=(*self.completed_queue_claims, *completions))

    def with_committed_attachments(self, attachment_ids: Sequence[str]) -> RuntimeCommit:
        return replace(self, committed_attachment_ids=(*self.committed_attachment_ids, *attachment_ids))


@dataclass(frozen=True)
class RuntimeCommitResult:
    head_revision: int
    checkpoint_ref: BlobRef
    manifest: SessionCheckpoint


@dataclass(frozen=True)
class VacuumReport:
    removed_node_count: int
    node_ids: Sequence[str] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class GcReport:
    """`aborted` says why nothing was deleted when GC refused to run (an unreadable live manifest)."""

    root_count: int = 0
    retained_blob_count: int = 0
    deleted_blob_count: int = 0
    deleted_refs: Sequence[BlobRef] = ()
    dry_run: bool = False
    aborted: str | None = None


@dataclass(frozen=True)
class AttachmentIntent:
    attachment_id: str
    session_id: SessionId
    canonical_uri: str
    intent_at_epoch_ms: int


@dataclass(frozen=True)
class AttachmentManifestEntry:
    attachment_id: str
    session_id: SessionId
    canonical_uri: str
    intent_at_epoch_ms: int
    committed_at_epoch_ms: int | None = None


@dataclass(frozen=True)
class SessionSummary:
    """One row of the Sessions page: the head and the queue at a glance."""

    session_id: SessionId
    session_name: str | None
    head_revision: int | None
    graph_node_count: int
    pending_count: int
    claimed_count: int
    created_at: datetime
    updated_at: datetime
