"""Values of a session's durable inbox, the queued work of RuntimePersistence (semantics 5.2, 5.6)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# How long a claim lives unless the caller says otherwise (semantics: 15 minutes).
QUEUED_WORK_CLAIM_TTL_MS = 900_000


class DeliveryPolicy(enum.StrEnum):
    EARLIEST_SAFE_BOUNDARY = "earliest_safe_boundary"
    AFTER_CURRENT_TURN_COMMIT = "after_current_turn_commit"


class SlotPolicy(enum.StrEnum):
    JOIN = "join"
    EXCLUSIVE = "exclusive"


class QueuedWorkClaimBoundary(enum.StrEnum):
    ACTIVE_TURN_CHECKPOINT = "active_turn_checkpoint"
    IDLE = "idle"


class BatchOutcome(enum.StrEnum):
    """How a batch left the queue. Only batches with a source key keep a record (their idempotency)."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PayloadKind(enum.StrEnum):
    TURN_INPUT = "turn_input"
    PROCESS_WAKE = "process_wake"
    SESSION_COMMAND = "session_command"


# The field that carries each payload kind's body in the wire form {"type": kind, <field>: body}.
PAYLOAD_FIELD = {
    PayloadKind.TURN_INPUT: "input",
    PayloadKind.PROCESS_WAKE: "wake",
    PayloadKind.SESSION_COMMAND: "command",
}


@dataclass(frozen=True)
class MergeKey:
    """Which join batches may be claimed together: equal keys only. kind: never | payload_default | group."""

    kind: str = "never"
    group: str | None = None

    @classmethod
    def never(cls) -> MergeKey:
        return cls("never")

    @classmethod
    def payload_default(cls) -> MergeKey:
        return cls("payload_default")

    @classmethod
    def named(cls, group: str) -> MergeKey:
        return cls("group", group)

    def encode(self) -> str:
        return f"group:{self.group}" if self.kind == "group" else self.kind

    @classmethod
    def decode(cls, value: str) -> MergeKey:
        if value.startswith("group:"):
            return cls.named(value[len("group:") :])
        if value not in ("never", "payload_default"):
            raise ValueError(f"unknown merge key {value!r}")
        return cls(value)


@dataclass(frozen=True)
class QueuedWorkPayload:
    """One unit of work; `body` is opaque JSON (the input, the wake or the command)."""

    kind: PayloadKind
    body: Any = None

    @classmethod
    def turn_input(cls, body: Any) -> QueuedWorkPayload:
        return cls(PayloadKind.TURN_INPUT, body)

    @classmethod
    def process_wake(cls, body: Any) -> QueuedWorkPayload:
        return cls(PayloadKind.PROCESS_WAKE, body)

    @classmethod
    def session_command(cls, body: Any) -> QueuedWorkPayload:
        return cls(PayloadKind.SESSION_COMMAND, body)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind.value, PAYLOAD_FIELD[self.kind]: self.body}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> QueuedWorkPayload:
        kind = PayloadKind(value["type"])
        return cls(kind, value.get(PAYLOAD_FIELD[kind]))


def session_command_source_key(command_kind: str, idempotency_key: str) -> str:
    return f"command:{command_kind}:{idempotency_key}"


def process_wake_source_key(dedupe_key: str) -> str:
    """Wakes with the same dedupe key share a source key, so a repeated wake queues once."""
    return f"wake:{dedupe_key}"


@dataclass(frozen=True)
class QueuedWorkBatchDraft:
    """What a producer enqueues. A repeated source_key returns the originally stored batch."""

    session_id: str
    payloads: Sequence[QueuedWorkPayload]
    source_key: str | None = None
    delivery_policy: DeliveryPolicy = DeliveryPolicy.AFTER_CURRENT_TURN_COMMIT
    slot_policy: SlotPolicy = SlotPolicy.EXCLUSIVE
    merge_key: MergeKey = field(default_factory=MergeKey.never)
    available_at_ms: int = 0  # 0: available at once


@dataclass(frozen=True)
class QueuedWorkItem:
    item_id: str  # "<batch_id>:item:<index>"
    payload: QueuedWorkPayload


@dataclass(frozen=True)
class BatchClaimState:
    """Who holds a batch (the lease token is a secret of the claimant and never shown)."""

    claim_id: str
    owner_id: str
    claimed_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True)
class QueuedWorkBatch:
    batch_id: str
    session_id: str
    enqueue_seq: int
    source_key: str | None
    delivery_policy: DeliveryPolicy
    slot_policy: SlotPolicy
    merge_key: MergeKey
    available_at_ms: int
    enqueued_at_ms: int
    items: Sequence[QueuedWorkItem]
    claim: BatchClaimState | None = None
    claim_fencing_token: int = 0
    outcome: BatchOutcome | None = None  # set only on the record a finished keyed batch leaves

    def is_held(self, now_ms: int) -> bool:
        """Held by a live claim; an expired claim counts as unclaimed."""
        return self.claim is not None and self.claim.expires_at_ms > now_ms

    def is_ready(self, now_ms: int) -> bool:
        return self.available_at_ms <= now_ms


@dataclass(frozen=True)
class QueuedWorkCompletion:
    """Proof of a claim: what completes, renews or abandons it."""

    session_id: str
    claim_id: str
    lease_token: str
    batch_ids: Sequence[str]


@dataclass(frozen=True)
class QueuedWorkClaim:
    session_id: str
    claim_id: str
    owner_id: str
    lease_token: str
    fencing_token: int
    claimed_at_epoch_ms: int
    expires_at_epoch_ms: int
    batches: Sequence[QueuedWorkBatch]

    @property
    def batch_ids(self) -> list[str]:
        return [b.batch_id for b in self.batches]

    def completion(self) -> QueuedWorkCompletion:
        return QueuedWorkCompletion(self.session_id, self.claim_id, self.lease_token, tuple(self.batch_ids))


class CompletionOutcome(enum.StrEnum):
    """What one completion of a batch call did: done, or the error code the single call would raise."""

    COMPLETED = "completed"
    # The claim no longer holds every batch it names (it expired and was taken, was abandoned, was
    # already completed, or the lease token is wrong): nothing of it was completed.
    CLAIM_EXPIRED = "queued_work_claim_expired"


@dataclass(frozen=True)
class CompletionResult:
    claim_id: str
    outcome: CompletionOutcome
    batches: Sequence[QueuedWorkBatch] = ()  # what it completed


# At most this many batches are read to form the claims of one batch claim (a bound on what it locks).
MAX_CLAIM_CANDIDATES = 1000

# What renew and abandon accept: the claim itself, or the proof an API caller sends back.
ClaimHandle = QueuedWorkClaim | QueuedWorkCompletion
