"""The identity runtime's storage contracts (semantics.md 3.7 with the hardened rules of SPEC 4).

Every backend (InMemory*, Orm*) passes the same conformance suite. Contracts are synchronous; the
runtime composes them inside one unit of work (a database transaction, or one lock in memory)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from identities.audit_filter import AuditFilter
from identities.types import (
    AuditRecord,
    Checkpoint,
    ContinuityRecord,
    ContinuityResolveState,
    DurableAgentSpec,
    IdentityEntry,
    IdentityState,
    Lease,
    LeaseAcquireResult,
    LeaseRenewResult,
    ManagedPeerEdge,
    StaleWriteRecord,
)
from stores.retention_types import TableRetention
from stores.types import Fence, Page


class ContinuityStore(Protocol):
    """Continuity records and session snapshots, guarded by compare-and-set on fencing tokens."""

    def resolve_many(self, identities: Sequence[str]) -> dict[str, ContinuityResolveState]:
        """Exactly one state per requested identity: ready, uninitialized, or broken (snapshot missing)."""
        ...

    def upsert_continuity_record(self, record: ContinuityRecord, token: int) -> None:
        """Write the record. StaleFencingToken if token < stored; StaleContinuityGeneration if the
        generation goes back; within one generation checkpoint_version never rewinds."""
        ...

    def save_session_snapshot(
        self, identity: str, session_id: UUID, generation: int, version: int, token: int, snapshot: bytes
    ) -> Checkpoint:
        """Store a checkpoint. StaleFencingToken if token < stored (a higher token advances it);
        StaleCheckpointVersion unless version > stored; SessionNotCurrent if session or generation
        is not the record's current one; with no record the save is accepted unchecked."""
        ...

    def load_session_snapshot(self, session_id: UUID) -> bytes | None:
        """The newest snapshot bytes saved for the session, or None."""
        ...

    def latest_checkpoint(self, identity: str) -> Checkpoint | None:
        """The newest checkpoint (with its bytes) of the identity's current session and generation."""
        ...

    def list_checkpoints(self, identity: str, *, offset: int = 0, limit: int = 50) -> Page[Checkpoint]:
        """Every kept checkpoint of the identity (archived generations too), newest first, without bytes."""
        ...

    def archive_generations_before(self, identity: str, generation: int) -> int:
        """Mark snapshots of older generations archived (kept, never loaded as latest). Returns how many."""
        ...

    def delete_continuity_record(self, identity: str, token: int) -> None:
        """Delete the record and all its snapshots. StaleFencingToken if token < stored; absent is fine."""
        ...

    def max_fencing_token(self) -> int:
        """The highest token any record holds (0 if none): a floor for a restarted lease counter."""
        ...


class LeaseProvider(Protocol):
    """Who owns an identity now. Tokens come from one counter: strictly increasing, never reused."""

    def acquire(self, identity: str, holder: UUID, ttl_ms: int) -> LeaseAcquireResult:
        """Grant a new, strictly higher token, even to the current holder (re-acquiring fences), unless
        another holder's lease is live: then already_held with that holder and its expiry."""
        ...

    def renew(self, identity: str, holder: UUID, token: int, ttl_ms: int) -> LeaseRenewResult:
        """Extend the live lease named by (holder, token): renewed with the same token, else lost."""
        ...

    def release(self, identity: str, holder: UUID, token: int) -> bool:
        """End the lease if (holder, token) is current. False (a no-op) otherwise."""
        ...

    def get(self, identity: str) -> Lease:
        """The identity's lease row with its effective state (never acquired: state free, token 0)."""
        ...

    def get_many(self, identities: Iterable[str]) -> dict[str, Lease]:
        """get() for several identities in one read."""
        ...

    def mark_lost(self, identity: str, reason: str) -> Lease | None:
        """End a held lease as lost; returns it, or None if none was held."""
        ...

    def fence(self, identity: str) -> tuple[int, Lease | None]:
        """Mint a new token for the identity and end any lease on it (recovery actions fence first).
        Returns the token and the lease that was held, if any."""
        ...

    def release_held_by(self, holders: Sequence[UUID], reason: str) -> list[Lease]:
        """Mark every lease of these holders lost (their agents expired). Returns the ended leases."""
        ...

    def expire_due(self, limit: int = 1000) -> list[Lease]:
        """Persist the loss of held leases past their expiry. Returns the ended leases."""
        ...

    def check(self, fence: Fence, *, operation: str) -> None:
        """The FenceGuard: StaleFencingToken unless the token is current and its lease live."""
        ...

    def check_and_get(self, fence: Fence, *, operation: str) -> Lease:
        """check(), returning the (locked) live lease it verified."""
        ...

    def raise_floor(self, floor: int) -> None:
        """Make every later token greater than `floor` (restart after a counter was lost)."""
        ...

    def ensure(self, identity: str) -> None:
        """Create the identity's (free) lease row, so concurrent grants have a row to lock."""
        ...

    def own(self, identity: str, kind: str, resource_ids: Sequence[str]) -> None:
        """Record that `identity` owns these resources of `kind` (session, runtime, producer); a resource
        already owned keeps its first owner. Runs in the caller's transaction."""
        ...

    def owner_of(self, kind: str, resource_id: str) -> str | None:
        """The identity that owns the resource, or None (unowned resources are unfenced)."""
        ...

    def owners_of(self, kind: str, resource_ids: Sequence[str]) -> dict[str, str]:
        """The owning identity of each owned resource among `resource_ids` (unowned ones are absent), in
        one read: what a batch write checks."""
        ...

    def grant_of(self, token: int) -> tuple[str, UUID] | None:
        """(identity, agent) the token was granted to by acquire; None for tokens minted by a fence."""
        ...

    def owner_and_grant(
        self, kind: str, resource_id: str, token: int | None
    ) -> tuple[str | None, tuple[str, UUID] | None]:
        """owner_of and grant_of (None without a token) at once: what every owned write looks up first."""
        ...


class IdentityRegistry(Protocol):
    """The roster in storage: specs and lifecycle states, managed peer edges, audit and rejections."""

    def create(self, spec: DurableAgentSpec, state: IdentityState, now: datetime) -> IdentityEntry:
        """Insert a new identity. DuplicateIdentity if it exists in any state but uninitialized."""
        ...

    def put(self, spec: DurableAgentSpec, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        """Insert or replace spec and state (register semantics)."""
        ...

    def find(self, identity: str) -> IdentityEntry | None:
        ...

    def find_many(self, identities: Iterable[str]) -> dict[str, IdentityEntry]:
        ...

    def update_spec(self, spec: DurableAgentSpec, now: datetime) -> IdentityEntry:
        """Replace the spec of an existing identity. UnknownIdentity."""
        ...

    def set_state(self, identity: str, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        """Set the lifecycle state (no transition table, as in the original). UnknownIdentity."""
        ...

    def list_identities(
        self,
        *,
        state: IdentityState | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        search: str | None = None,
        identities: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[IdentityEntry]:
        """Identities sorted by name, filtered."""
        ...

    def managed_edges(self) -> list[ManagedPeerEdge]:
        ...

    def replace_managed_edges(self, edges: Sequence[ManagedPeerEdge]) -> None:
        ...

    def peers_of(self, identity: str) -> list[str]:
        ...

    def record_audit(self, record: AuditRecord) -> AuditRecord:
        ...

    def list_audit(
        self, *, identity: str | None = None, offset: int = 0, limit: int = 50, where: AuditFilter | None = None
    ) -> Page[AuditRecord]:
        """Audit entries newest first, for one subject and matching `where` (actor, action, time range)."""
        ...

    def record_rejection(self, record: StaleWriteRecord) -> StaleWriteRecord:
        ...

    def list_rejections(
        self, *, identity: str | None = None, since: datetime | None = None, until: datetime | None = None,
        offset: int = 0, limit: int = 50,
    ) -> Page[StaleWriteRecord]:
        """Rejected stale writes, newest first; of one identity, and from `since` (inclusive) to `until`
        (exclusive) when given."""
        ...

    def prune_audit(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` audit entries written before `before`, oldest first; how many."""
        ...

    def audit_retention(self, before: datetime) -> TableRetention:
        """Audit rows, size, the oldest entry, and how many predate `before`."""
        ...

    def prune_rejections(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` rejections recorded before `before` or naming an identity that does not
        exist (whatever their age), oldest first; how many."""
        ...

    def rejections_retention(self, before: datetime) -> TableRetention:
        """Rejection rows, size, the oldest, and how many a prune at `before` would remove."""
        ...


class Inbox(Protocol):
    """The bridge: enqueue a turn_input batch in a session's inbox (RuntimePersistence queued work)."""

    durable: bool

    def deliver(
        self, session_id: UUID, identity: str, payload: Mapping[str, Any], source_key: str, now: datetime
    ) -> tuple[str, bool]:
        """Enqueue; return (batch id, whether it is new). A repeated source_key returns the original."""
        ...

    def release_claims(self, session_id: UUID, why: str) -> int:
        """End every claim on the session (its owner was fenced out); the batches are claimable at once."""
        ...

    def counts(self, session_id: UUID) -> tuple[int, int]:
        """(batches waiting, batches held by a claim) in the session's inbox."""
        ...

    def cancel_pending(self, session_id: UUID, why: str) -> list[str]:
        """Cancel every batch left in the session's inbox (the session is being left behind); their ids."""
        ...
