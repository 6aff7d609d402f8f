"""Values of the identity runtime that cross layers: frozen dataclasses, no ORM objects.

Names follow meerkat-mobkit's `identity_first::types` (semantics.md section 3.2), adapted per SPEC 4."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from identities.errors import InvalidIdentity, SelfEdge

IDENTITY_MAX_LENGTH = 200


def validate_identity(value: str) -> str:
    """An AgentIdentity: non-empty, no whitespace, no `/`, at most 200 characters. Else InvalidIdentity."""
    reason = None
    if not value:
        reason = "must not be empty"
    elif any(ch.isspace() for ch in value):
        reason = "must not contain whitespace"
    elif "/" in value:
        reason = "must not contain slashes"
    elif value in (".", ".."):
        reason = "must not be . or .. (no URL can name it)"
    elif len(value) > IDENTITY_MAX_LENGTH:
        reason = f"must not be longer than {IDENTITY_MAX_LENGTH} characters"
    elif "\x00" in value or not value.isprintable():
        reason = "must not contain control characters"
    if reason is not None:
        raise InvalidIdentity(f"invalid identity {value[:60]!r}: {reason}", input=value[:200], reason=reason)
    return value


class IdentityState(enum.StrEnum):
    ACTIVE = "active"
    RETIRING = "retiring"
    SUSPENDED = "suspended"
    UNINITIALIZED = "uninitialized"
    # Continuity exists but cannot be resumed (restore_flow reported it Broken).
    BROKEN = "broken"


class Addressability(enum.StrEnum):
    ADDRESSABLE = "addressable"
    INTERNAL_ONLY = "internal_only"


class DispatchOrigin(enum.StrEnum):
    CONNECTOR = "connector"
    SCHEDULER = "scheduler"
    POLICY = "policy"
    FLOW = "flow"
    SYSTEM = "system"


@dataclass(frozen=True)
class DurableAgentSpec:
    """What an identity is: its profile and how it may be reached. Edited by operators and rosters."""

    identity: str
    profile: str
    addressability: Addressability = Addressability.ADDRESSABLE
    display_name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    context: Any = None
    additional_instructions: tuple[str, ...] = ()
    initial_message: Any = None
    runtime_mode_override: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "profile": self.profile,
            "addressability": self.addressability.value,
            "display_name": self.display_name,
            "labels": dict(self.labels),
            "context": self.context,
            "additional_instructions": list(self.additional_instructions),
            "initial_message": self.initial_message,
            "runtime_mode_override": self.runtime_mode_override,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DurableAgentSpec:
        return cls(
            identity=validate_identity(str(data["identity"])),
            profile=str(data["profile"]),
            addressability=Addressability(data.get("addressability") or Addressability.ADDRESSABLE),
            display_name=data.get("display_name"),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            context=data.get("context"),
            additional_instructions=tuple(str(s) for s in data.get("additional_instructions") or ()),
            initial_message=data.get("initial_message"),
            runtime_mode_override=data.get("runtime_mode_override"),
        )


@dataclass(frozen=True)
class IdentityEntry:
    """A registered identity as the registry stores it (spec and lifecycle state)."""

    spec: DurableAgentSpec
    state: IdentityState
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime
    state_reason: str = ""

    @property
    def identity(self) -> str:
        return self.spec.identity


# -- continuity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuityRecord:
    """The authoritative durable record of an identity's current incarnation."""

    identity: str
    agent_runtime_id: str
    session_id: UUID
    generation: int
    checkpoint_version: int


class ContinuityFailureKind(enum.StrEnum):
    SNAPSHOT_MISSING = "snapshot_missing"
    SNAPSHOT_CORRUPTED = "snapshot_corrupted"
    GENERATION_MISMATCH = "generation_mismatch"
    STORE_UNAVAILABLE = "store_unavailable"


@dataclass(frozen=True)
class ContinuityFailure:
    identity: str
    kind: ContinuityFailureKind
    record: ContinuityRecord | None
    detail: str


class ResolveKind(enum.StrEnum):
    UNINITIALIZED = "uninitialized"
    READY = "ready"
    BROKEN = "broken"


@dataclass(frozen=True)
class ContinuityResolveState:
    kind: ResolveKind
    record: ContinuityRecord | None = None
    failure: ContinuityFailure | None = None
    # When the record's latest checkpoint was saved (None before the first one).
    checkpointed_at: datetime | None = None

    @classmethod
    def uninitialized(cls) -> ContinuityResolveState:
        return cls(ResolveKind.UNINITIALIZED)

    @classmethod
    def ready(cls, record: ContinuityRecord) -> ContinuityResolveState:
        return cls(ResolveKind.READY, record=record)

    @classmethod
    def broken(cls, failure: ContinuityFailure) -> ContinuityResolveState:
        return cls(ResolveKind.BROKEN, record=failure.record, failure=failure)


@dataclass(frozen=True)
class Checkpoint:
    """One saved session snapshot. `data` is None when listed without its bytes."""

    identity: str
    session_id: UUID
    generation: int
    version: int
    fencing_token: int
    size: int
    created_at: datetime
    archived: bool = False
    data: bytes | None = None


# -- leases --------------------------------------------------------------------------------------


class LeaseState(enum.StrEnum):
    FREE = "free"  # never acquired
    HELD = "held"
    RELEASED = "released"
    LOST = "lost"  # expired, its agent expired, or marked lost
    FENCED = "fenced"  # ended by a recovery action that minted a newer token


class LostReason(enum.StrEnum):
    EXPIRED = "expired"
    AGENT_EXPIRED = "agent_expired"
    MARKED = "marked_lost"
    TAKEN_OVER = "taken_over"


@dataclass(frozen=True)
class Lease:
    """An identity's lease row: who holds it (if anyone), with which token, until when, and why it ended."""

    identity: str
    state: LeaseState
    fencing_token: int
    holder: UUID | None
    acquired_at: datetime | None
    expires_at: datetime | None
    ttl_ms: int
    last_holder: UUID | None = None
    lost_reason: str = ""
    ended_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.state == LeaseState.HELD and self.expires_at is not None and self.expires_at > now

    def effective(self, now: datetime) -> Lease:
        """A held lease past its expiry reads as lost, before any sweep persists it."""
        if self.state == LeaseState.HELD and self.expires_at is not None and self.expires_at <= now:
            return Lease(
                identity=self.identity, state=LeaseState.LOST, fencing_token=self.fencing_token, holder=None,
                acquired_at=self.acquired_at, expires_at=self.expires_at, ttl_ms=self.ttl_ms,
                last_holder=self.holder, lost_reason=LostReason.EXPIRED.value, ended_at=self.expires_at,
            )
        return self


@dataclass(frozen=True)
class LeaseGrant:
    identity: str
    fencing_token: int
    ttl_ms: int
    holder: UUID
    expires_at: datetime


@dataclass(frozen=True)
class LeaseAcquireResult:
    """`acquired` with a grant, or `already_held` naming the live holder and its expiry."""

    result: str
    grant: LeaseGrant | None = None
    holder: UUID | None = None
    expires_at: datetime | None = None
    # The lease as stored before this call (lets the runtime tell an unswept expiry from a takeover).
    previous: Lease | None = None
    lease: Lease | None = None  # as stored after the grant

    @property
    def acquired(self) -> bool:
        return self.result == "acquired"


@dataclass(frozen=True)
class LeaseRenewResult:
    """`renewed` with the extended grant, or `lost`."""

    result: str
    grant: LeaseGrant | None = None
    # Renewals are written to the event log at most every log interval (broadcast live always).
    log_due: bool = False
    lease: Lease | None = None  # as stored after the renewal

    @property
    def renewed(self) -> bool:
        return self.result == "renewed"


# -- status --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseInfo:
    fencing_token: int
    ttl_remaining_ms: int
    healthy: bool
    state: LeaseState
    holder: UUID | None
    expires_at: datetime | None
    last_holder: UUID | None
    lost_reason: str


@dataclass(frozen=True)
class ContinuityHealth:
    store_reachable: bool
    durability_policy: str
    last_checkpoint_version: int | None
    last_checkpoint_at: datetime | None


@dataclass(frozen=True)
class IdentityStatus:
    identity: str
    state: IdentityState
    agent_runtime_id: str | None
    session_id: UUID | None
    profile: str | None
    runtime_mode: str | None
    addressability: Addressability
    display_name: str | None
    labels: Mapping[str, str]
    generation: int | None
    checkpoint_version: int | None
    lease: LeaseInfo | None
    continuity_health: ContinuityHealth | None
    state_reason: str = ""
    # Why the identity cannot make progress right now, in words (None when it can).
    why_stuck: str | None = None


@dataclass(frozen=True)
class MemberInspection:
    output_preview: str | None
    is_final: bool
    peer_reachable_count: int
    output_ref: str | None = None


# -- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchInput:
    content: Any
    origin: DispatchOrigin = DispatchOrigin.SYSTEM
    correlation_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A message enqueued in the identity's inbox under its current lease."""

    identity: str
    fencing_token: int
    batch_id: str | None
    session_id: UUID
    is_durable: bool


# -- roster and topology -------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ManagedPeerEdge:
    """An undirected edge between two identities, canonicalised so that a < b."""

    a: str
    b: str

    @classmethod
    def of(cls, x: str, y: str) -> ManagedPeerEdge:
        if x == y:
            raise SelfEdge(f"an identity cannot be its own peer: {x!r}", identity=x)
        return cls(*sorted((x, y)))

    def other(self, identity: str) -> str:
        return self.b if identity == self.a else self.a


@dataclass(frozen=True)
class AgentBuildContext:
    identity: str
    active_peers: Sequence[str]
    managed_edges: Sequence[ManagedPeerEdge]


@dataclass(frozen=True)
class AgentBuildDraft:
    model: str | None = None
    system_prompt: str | None = None
    additional_instructions: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    app_context: Any = None


class RestoreKind(enum.StrEnum):
    CREATED = "created"
    RESUMED = "resumed"
    BROKEN = "broken"


@dataclass(frozen=True)
class RestoreOutcome:
    kind: RestoreKind
    identity: str
    record: ContinuityRecord | None = None
    snapshot: bytes | None = None
    failure: ContinuityFailure | None = None
    draft: AgentBuildDraft | None = None


@dataclass(frozen=True)
class RestoreFlowResult:
    outcomes: Mapping[str, RestoreOutcome]
    managed_edges: Sequence[ManagedPeerEdge]


class ReconcileKind(enum.StrEnum):
    ACTIVATE = "activate"
    RETIRE = "retire"
    HOT_RELOAD = "hot_reload"
    RESPAWN = "respawn"


@dataclass(frozen=True)
class ReconcileAction:
    kind: ReconcileKind
    identity: str
    spec: DurableAgentSpec | None = None


@dataclass(frozen=True)
class EdgeChanges:
    added: Sequence[ManagedPeerEdge]
    removed: Sequence[ManagedPeerEdge]
    kept: Sequence[ManagedPeerEdge]


# -- audit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord:
    actor: str
    action: str
    identity: str
    reason: str
    ok: bool
    result: Mapping[str, Any]
    created_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class StaleWriteRecord:
    identity: str
    agent_id: UUID | None
    presented_token: int | None
    current_token: int | None
    operation: str
    created_at: datetime
    id: int | None = None
    code: str = "stale_fencing_token"
    caller: str = ""


@dataclass(frozen=True)
class Caller:
    """Who makes a write, as the API edge knows it: the API token's name, and whether its scope is
    operator or admin (privileged writes are not fenced; they are audited)."""

    name: str
    privileged: bool = False


class Owned(enum.StrEnum):
    """The kinds of resource an identity owns (SPEC 4: fencing on every write to what an identity owns)."""

    SESSION = "session"
    RUNTIME = "runtime"
    IDENTITY = "identity"  # the identity itself: its checkpoints, and outputs whose producer is its name
