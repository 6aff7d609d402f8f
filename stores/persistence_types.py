"""Values of the RuntimePersistence contract (semantics 5.2): the session graph, head commits and
checkpoints. Queued-work values live in stores/queue_types.py.

Opaque agent data (turn state, agent frames, node payloads) is JSON; snapshot blobs are bytes.
"""

from __future__ import annotations

import enum
import hashlib
import json
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


# --- the turn commit hash (semantics 5.2): a value's own fingerprint, so it lives beside the values ---

VOLATILE_KEYS = frozenset({"node_id", "parent_node_id", "leaf_node_id", "timestamp"})


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def ledger_json(entry: TokenLedgerEntry) -> dict[str, Any]:
    u = entry.usage
    return {"source": entry.source, "model": entry.model, "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens, "cached_input_tokens": u.cached_input_tokens,
            "reasoning_tokens": u.reasoning_tokens}


def _node_json(node: SessionNodeRecord) -> dict[str, Any]:
    return {"node_id": node.node_id, "parent_node_id": node.parent_node_id, "caused_by": node.caused_by,
            "agent_frame_id": node.agent_frame_id, "timestamp": node.timestamp, "payload": dict(node.payload)}


def _graph_json(commit: RuntimeCommit) -> dict[str, Any]:
    delta = commit.graph
    if isinstance(delta, Append):
        return {"append": {"nodes": [_node_json(n) for n in delta.nodes], "leaf_node_id": delta.leaf_node_id}}
    if isinstance(delta, ReplaceFull):
        graph = delta.graph
        return {"replace_full": {"nodes": [_node_json(n) for n in graph.nodes], "leaf_node_id": graph.leaf_node_id}}
    assert isinstance(delta, Unchanged)
    return {"unchanged": {"leaf_node_id": delta.leaf_node_id}}


def _strip_volatile(value: Any, *, in_message: bool = False) -> Any:
    """Drop what differs between retries of the same turn: node ids, timestamps, message ids."""
    if isinstance(value, Mapping):
        is_message = "role" in value
        out = {}
        for key, item in value.items():
            if key in VOLATILE_KEYS or (key == "id" and (is_message or in_message)):
                continue
            # Parts of a message (its content/parts lists) lose their ids too.
            out[key] = _strip_volatile(item, in_message=is_message and key in ("content", "parts"))
        return out
    if isinstance(value, list | tuple):
        return [_strip_volatile(item, in_message=in_message) for item in value]
    return value


def turn_commit_hash(commit: RuntimeCommit) -> str:
    """SHA-256 of the commit without its CAS revision, its stamp and volatile keys (semantics 5.2)."""
    cp = commit.checkpoint
    body = {
        "session_id": commit.session_id,
        "config": {"provider_id": commit.config.provider_id, "model": commit.config.model},
        "agent_frames": [dict(f) for f in commit.agent_frames],
        "current_agent_frame_id": commit.current_agent_frame_id,
        "graph": _graph_json(commit),
        "checkpoint": {"turn_state": cp.turn_state, "tool_state": cp.tool_state, "plugin_snapshot": cp.plugin_snapshot,
                       "plugin_snapshot_revision": cp.plugin_snapshot_revision, "execution_state": cp.execution_state},
        "usage_deltas": [ledger_json(e) for e in commit.usage_deltas],
        "completed_queue_claims": [
            {"session_id": c.session_id, "claim_id": c.claim_id, "lease_token": c.lease_token,
             "batch_ids": list(c.batch_ids)}
            for c in commit.completed_queue_claims
        ],
        "committed_attachment_ids": list(commit.committed_attachment_ids),
    }
    return hashlib.sha256(canonical_json(_strip_volatile(json.loads(canonical_json(body))))).hexdigest()
