"""What every in-memory RuntimePersistence opened from one factory shares: the sessions, heads and queued
work (the in-memory 'database'), in a module of its own so the store and its mixins all import it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stores.persistence_types import (
    AttachmentManifestEntry,
    BlobRef,
    ModelConfig,
    RuntimeCommitResult,
    SessionMeta,
    SessionNodeRecord,
    TokenLedgerEntry,
)
from stores.queue_types import QueuedWorkBatch


@dataclass
class HeadState:
    revision: int
    config: ModelConfig
    agent_frames: Sequence[Any]
    current_agent_frame_id: str | None
    checkpoint_ref: BlobRef
    leaf_node_id: str | None
    ledger: list[TokenLedgerEntry]


@dataclass
class SessionState:
    created_at: datetime
    updated_at: datetime
    head: HeadState | None = None
    nodes: list[SessionNodeRecord] = field(default_factory=list)
    tombstoned: set[str] = field(default_factory=set)
    blobs: dict[BlobRef, bytes] = field(default_factory=dict)
    turns: dict[str, tuple[str, RuntimeCommitResult]] = field(default_factory=dict)
    meta: SessionMeta | None = None
    attachments: dict[str, AttachmentManifestEntry] = field(default_factory=dict)

    def live_nodes(self) -> list[SessionNodeRecord]:
        return [n for n in self.nodes if n.node_id not in self.tombstoned]


class InMemoryPersistenceState:
    """What every store opened from one factory shares (the in-memory 'database')."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sessions: dict[str, SessionState] = {}
        self.batches: dict[str, QueuedWorkBatch] = {}  # insertion order is enqueue order
        self.lease_tokens: dict[str, str] = {}
        self.source_keys: dict[tuple[str, str], str] = {}
        self.last_seq = 0

    def session(self, session_id: str, now: datetime) -> SessionState:
        if session_id not in self.sessions:
            self.sessions[session_id] = SessionState(created_at=now, updated_at=now)
        return self.sessions[session_id]
