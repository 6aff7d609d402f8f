"""Values of the RuntimeStore contract (semantics 4.2): frozen dataclasses, with their JSON wire form.

Both backends store the flat JSON form of an input state and a receipt, so what one backend writes
the other reads back identically, and the API speaks the same shape.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

# A runtime's key. A non-empty string; the API limits it (<= 200 chars, no NUL, whitespace or "/").
LogicalRuntimeId = str

MAX_STAGE_ATTEMPTS = 3


def runtime_id_for_session(session_id: UUID) -> LogicalRuntimeId:
    return f"rt:session:{session_id}"


def legacy_session_uuid_alias(session_id: UUID) -> LogicalRuntimeId:
    """The bare-uuid runtime id old callers used; a session_store_key must never create it."""
    return str(session_id)


class RuntimeState(enum.StrEnum):
    INITIALIZING = "initializing"
    IDLE = "idle"
    ATTACHED = "attached"
    RUNNING = "running"
    RETIRED = "retired"
    STOPPED = "stopped"
    DESTROYED = "destroyed"

    @property
    def is_terminal(self) -> bool:
        return self is RuntimeState.DESTROYED

    @property
    def can_accept_input(self) -> bool:
        return self in (RuntimeState.IDLE, RuntimeState.ATTACHED, RuntimeState.RUNNING)

    @property
    def can_process_queue(self) -> bool:
        return self in (RuntimeState.IDLE, RuntimeState.ATTACHED, RuntimeState.RETIRED)


class RunApplyBoundary(enum.StrEnum):
    IMMEDIATE = "immediate"
    RUN_START = "run_start"
    RUN_CHECKPOINT = "run_checkpoint"


class InputLifecycleState(enum.StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    STAGED = "staged"
    APPLIED = "applied"
    APPLIED_PENDING_CONSUMPTION = "applied_pending_consumption"
    CONSUMED = "consumed"
    SUPERSEDED = "superseded"
    COALESCED = "coalesced"
    ABANDONED = "abandoned"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_INPUT_STATES


_TERMINAL_INPUT_STATES = frozenset(
    {
        InputLifecycleState.CONSUMED,
        InputLifecycleState.SUPERSEDED,
        InputLifecycleState.COALESCED,
        InputLifecycleState.ABANDONED,
    }
)

# InputTerminalOutcome is tagged by "outcome_type"; these are its variants.
TERMINAL_OUTCOME_TYPES = ("consumed", "superseded", "coalesced", "abandoned")


@dataclass(frozen=True)
class SessionDelta:
    """A session snapshot: UTF-8 JSON object bytes (its "id", if present, is the session id)."""

    session_snapshot: bytes


@dataclass(frozen=True)
class RunBoundaryReceipt:
    """Proof that a run boundary was applied; unique per (runtime, run_id, sequence)."""

    run_id: UUID
    boundary: RunApplyBoundary
    sequence: int
    contributing_input_ids: tuple[UUID, ...] = ()
    conversation_digest: str | None = None
    message_count: int = 0

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run_id": str(self.run_id),
            "boundary": self.boundary.value,
            "contributing_input_ids": [str(i) for i in self.contributing_input_ids],
            "message_count": self.message_count,
            "sequence": self.sequence,
        }
        if self.conversation_digest is not None:
            doc["conversation_digest"] = self.conversation_digest
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunBoundaryReceipt:
        return cls(
            run_id=UUID(str(doc["run_id"])),
            boundary=RunApplyBoundary(doc["boundary"]),
            sequence=int(doc["sequence"]),
            contributing_input_ids=tuple(UUID(str(i)) for i in doc.get("contributing_input_ids", ())),
            conversation_digest=doc.get("conversation_digest"),
            message_count=int(doc.get("message_count", 0)),
        )


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt as listed for people: when it was committed, and where."""

    runtime_id: LogicalRuntimeId
    receipt: RunBoundaryReceipt
    committed_at: datetime


@dataclass(frozen=True)
class InputTransition:
    """One entry of an input's history, written by the runtime that moved it."""

    timestamp: datetime
    from_state: InputLifecycleState
    to_state: InputLifecycleState
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "timestamp": self.timestamp.isoformat(),
            "from": self.from_state.value,
            "to": self.to_state.value,
        }
        if self.reason is not None:
            doc["reason"] = self.reason
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> InputTransition:
        return cls(
            timestamp=datetime.fromisoformat(doc["timestamp"]),
            from_state=InputLifecycleState(doc["from"]),
            to_state=InputLifecycleState(doc["to"]),
            reason=doc.get("reason"),
        )


# Optional members of the flat wire form that the store keeps verbatim (semantics 4.2).
_OPAQUE_INPUT_FIELDS = (
    "policy",
    "runtime_semantics",
    "terminal_outcome",
    "durability",
    "idempotency_key",
    "reconstruction_source",
    "persisted_input",
)


@dataclass(frozen=True)
class StoredInputState:
    """One input's lifecycle record. The store upserts it by (runtime, input_id) and keeps the rest
    as the runtime wrote it; the opaque members are JSON values."""

    input_id: UUID
    current_state: InputLifecycleState
    created_at: datetime
    updated_at: datetime
    attempt_count: int = 0
    recovery_count: int = 0
    history: tuple[InputTransition, ...] = ()
    last_run_id: UUID | None = None
    last_boundary_sequence: int | None = None
    terminal_outcome: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    runtime_semantics: Any = None
    durability: Any = None
    idempotency_key: str | None = None
    reconstruction_source: dict[str, Any] | None = None
    persisted_input: Any = None

    @classmethod
    def new_accepted(cls, input_id: UUID, now: datetime) -> StoredInputState:
        return cls(input_id=input_id, current_state=InputLifecycleState.ACCEPTED, created_at=now, updated_at=now)

    def to_json(self) -> dict[str, Any]:
        """The flat wire object: None members and an empty history are left out."""
        doc: dict[str, Any] = {
            "input_id": str(self.input_id),
            "current_state": self.current_state.value,
            "attempt_count": self.attempt_count,
            "recovery_count": self.recovery_count,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        if self.history:
            doc["history"] = [h.to_json() for h in self.history]
        if self.last_run_id is not None:
            doc["last_run_id"] = str(self.last_run_id)
        if self.last_boundary_sequence is not None:
            doc["last_boundary_sequence"] = self.last_boundary_sequence
        for name in _OPAQUE_INPUT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                doc[name] = value
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StoredInputState:
        last_run = doc.get("last_run_id")
        last_seq = doc.get("last_boundary_sequence")
        return cls(
            input_id=UUID(str(doc["input_id"])),
            current_state=InputLifecycleState(doc["current_state"]),
            created_at=datetime.fromisoformat(doc["created_at"]),
            updated_at=datetime.fromisoformat(doc["updated_at"]),
            attempt_count=int(doc.get("attempt_count", 0)),
            recovery_count=int(doc.get("recovery_count", 0)),
            history=tuple(InputTransition.from_json(h) for h in doc.get("history", ())),
            last_run_id=UUID(str(last_run)) if last_run is not None else None,
            last_boundary_sequence=int(last_seq) if last_seq is not None else None,
            **{name: doc.get(name) for name in _OPAQUE_INPUT_FIELDS},
        )


@dataclass(frozen=True)
class RuntimeSummary:
    """What a list or a detail page shows about one runtime (any runtime with stored data)."""

    runtime_id: LogicalRuntimeId
    state: RuntimeState | None
    state_changed_at: datetime | None
    input_count: int
    receipt_count: int
    has_session_snapshot: bool
    snapshot_committed_at: datetime | None
    has_ops_lifecycle: bool
    created_at: datetime
    updated_at: datetime


# A caller's read-modify-write of the OAuth-flow blob: current bytes (or None) -> next bytes.
# Raising aborts the update and nothing changes.
OAuthFlowUpdate = Callable[[bytes | None], bytes]
