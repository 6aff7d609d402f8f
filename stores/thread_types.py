"""Values of the ThreadStore: checkpoint threads (LangGraph's checkpointer model), kept under an identity's lease.

A thread has checkpoints per namespace (root namespace ""), each with an optional parent, an opaque typed
payload (the checkpointer's serializer decides its bytes), JSON metadata that lists can filter on, and
pending writes keyed by (task_id, idx)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# Limits the API enforces as well, so the database never sees what it would reject.
MAX_THREAD_ID = 200
MAX_NAMESPACE = 255
MAX_CHECKPOINT_ID = 64
MAX_TASK_ID = 200
MAX_CHANNEL = 255
# Metadata filter keys: one JSON member name (no "__", which the ORM would read as a path).
FILTER_KEY_PATTERN = r"^(?!.*__)[A-Za-z0-9_\-.:]{1,100}$"


@dataclass(frozen=True)
class Blob:
    """A serialized value: the serializer's type tag and its bytes."""

    type: str
    data: bytes


@dataclass(frozen=True)
class PendingWrite:
    task_id: str
    idx: int
    channel: str
    value: Blob
    task_path: str = ""


@dataclass(frozen=True)
class CheckpointPut:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    checkpoint: Blob
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CheckpointRecord:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    checkpoint: Blob
    metadata: dict[str, Any]
    created_at: datetime
    identity: str | None
    fencing_token: int | None
    pending_writes: tuple[PendingWrite, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ThreadSummary:
    """A thread as the identity page shows it: its owner, size and latest root checkpoint."""

    thread_id: str
    identity: str | None
    checkpoints: int
    latest_checkpoint_id: str | None
    latest_step: int | None
    latest_source: str | None
    updated_at: datetime


class PruneStrategy(StrEnum):
    KEEP_LATEST = "keep_latest"
    DELETE = "delete"


@dataclass(frozen=True)
class CheckpointQuery:
    """What `list_checkpoints` selects: newest first (descending checkpoint id)."""

    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    before: str | None = None
    limit: int | None = None


def metadata_matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    # `type(...) is` keeps True from matching 1, as JSON equality does in the ORM backends.
    return all(k in metadata and metadata[k] == v and type(metadata[k]) is type(v) for k, v in wanted.items())
