"""The runtime's shared core: its collaborators and the helpers every operation module uses.

`IdentityRuntime` (identities/runtime.py) is assembled from operation modules that all extend this
class: leases, continuity (checkpoints), delivery, recovery, roster."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction

from identities.contracts import ContinuityStore, IdentityRegistry, Inbox, LeaseProvider
from identities.errors import LeaseLost, NoActiveLease, UnknownIdentity
from identities.status import build_status, status_json
from identities.types import (
    AuditRecord,
    ContinuityResolveState,
    IdentityEntry,
    IdentityState,
    IdentityStatus,
    Lease,
    LeaseState,
    LostReason,
    StaleWriteRecord,
)
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, LifecycleStore, OutputStore
from stores.errors import StaleFencingToken

Atomic = Callable[[], AbstractContextManager[Any]]
SUBJECT = "identity"


def lock_atomic() -> Atomic:
    """The unit of work for in-memory backends: one re-entrant lock around each operation."""
    lock = threading.RLock()

    @contextlib.contextmanager
    def atomic() -> Iterator[None]:
        with lock:
            yield

    return atomic


class RuntimeCore:
    def __init__(
        self,
        *,
        registry: IdentityRegistry,
        continuity: ContinuityStore,
        leases: LeaseProvider,
        lifecycle: LifecycleStore,
        events: EventSink,
        atomic: Atomic = transaction.atomic,
        inbox: Inbox | None = None,
        outputs: OutputStore | None = None,
        clock: Clock = system_clock,
        lease_ttl_s: float = 30.0,
        durability_policy: str = "sync_write_through",
        runtime_instance_id: str = "swarmsite",
        default_timeout_s: float = 90.0,
    ) -> None:
        self._registry = registry
        self._continuity = continuity
        self._leases = leases
        self._lifecycle = lifecycle
        self._events = events
        self._atomic = atomic
        self._inbox = inbox
        self._outputs = outputs
        self._clock = clock
        self._lease_ttl = timedelta(seconds=lease_ttl_s)
        self._durability_policy = durability_policy
        self._runtime_instance_id = runtime_instance_id
        self._default_timeout_s = default_timeout_s

    # -- accessors (the seed's) ------------------------------------------------------------------
    def continuity_store(self) -> ContinuityStore:
        return self._continuity

    def lease_provider(self) -> LeaseProvider:
        return self._leases

    def registry(self) -> IdentityRegistry:
        return self._registry

    def runtime_instance_id(self) -> str:
        return self._runtime_instance_id

    def durability_policy(self) -> str:
        return self._durability_policy

    def has_runtime_store(self) -> bool:
        return self._inbox is not None and self._inbox.durable

    def default_timeout(self) -> float:
        return self._default_timeout_s

    def default_lease_ttl_ms(self) -> int:
        return int(self._lease_ttl.total_seconds() * 1000)

    # -- helpers ---------------------------------------------------------------------------------
    def _entry(self, identity: str) -> IdentityEntry:
        entry = self._registry.find(identity)
        if entry is None:
            raise UnknownIdentity(f"unknown identity: {identity}", identity=identity)
        return entry

    def _status(
        self, entry: IdentityEntry, now: datetime, *, resolved: ContinuityResolveState | None = None,
        lease: Lease | None = None,
    ) -> IdentityStatus:
        """The status, reading only what the caller did not already hold."""
        identity = entry.identity
        if resolved is None:
            resolved = self._continuity.resolve_many([identity])[identity]
        if lease is None:
            lease = self._leases.get(identity)
        return build_status(entry, resolved, lease.effective(now), now, self._durability_policy)

    def _emit(
        self, kind: str, identity: str, now: datetime, *, durable: bool = True, entry: IdentityEntry | None = None,
        resolved: ContinuityResolveState | None = None, lease: Lease | None = None, **detail: Any,
    ) -> None:
        """Append `identity.<kind>` with a fresh status snapshot, inside the caller's unit of work.
        Pass what the operation already read (entry, continuity, lease) after its change."""
        entry = entry or self._registry.find(identity)
        payload: dict[str, Any] = {k: _jsonable(v) for k, v in detail.items()}
        if entry is not None:
            payload["status"] = status_json(self._status(entry, now, resolved=resolved, lease=lease))
        self._events.emit(f"{SUBJECT}.{kind}", SUBJECT, identity, payload, now, durable=durable)

    def _emit_lost(self, lease: Lease, now: datetime, reason: str) -> None:
        """A lease ended (timeout, agent expiry, marked, fenced): its holder's inbox claims end with it, in
        the same transaction, so the next owner can claim those batches at once."""
        released = self._revoke_claims(lease.identity, f"lease lost ({reason})")
        self._emit(
            "lease_lost", lease.identity, now, fencing_token=lease.fencing_token, holder=lease.holder,
            reason=reason, expires_at=lease.expires_at, claims_released=released,
        )

    def _revoke_claims(self, identity: str, why: str) -> int:
        if self._inbox is None:
            return 0
        record = self._continuity.resolve_many([identity])[identity].record
        return self._inbox.release_claims(record.session_id, why) if record is not None else 0

    def _check_lease(self, identity: str, now: datetime) -> int:
        """The current token of a live lease; NoActiveLease, or LeaseLost when it ran out (mobkit's check)."""
        return self._live_lease(identity, now).fencing_token

    def _live_lease(self, identity: str, now: datetime) -> Lease:
        lease = self._leases.get(identity)
        if lease.is_live(now):
            return lease
        lease_error(lease)
        raise AssertionError("unreachable")

    def _audit(
        self, actor: str, action: str, identity: str, reason: str, now: datetime, *, ok: bool,
        result: Mapping[str, Any],
    ) -> None:
        self._registry.record_audit(
            AuditRecord(actor=actor, action=action, identity=identity, reason=reason, ok=ok,
                        result={k: _jsonable(v) for k, v in result.items()}, created_at=now)
        )

    # -- stale writes ----------------------------------------------------------------------------
    def record_stale_write(self, exc: StaleFencingToken) -> None:
        """Store a rejection and emit identity.stale_write_rejected, in a unit of work of its own
        (the rejected write's transaction has rolled back, taking anything written in it along)."""
        if getattr(exc, "recorded", False):
            return
        now = self._clock.now()
        ctx = exc.context
        identity = str(ctx.get("identity") or "")
        presented = ctx.get("presented_token")
        if not identity or (presented is None and exc.code == StaleFencingToken.code):
            return
        if self._registry.find(identity) is None:
            return  # no identity, nothing it owns: a refusal there protects nothing worth a record
        exc.recorded = True  # type: ignore[attr-defined]  # one record, however many layers see it
        agent = ctx.get("agent_id")
        if agent is None and presented is not None:
            granted = self._leases.grant_of(int(presented))
            agent = granted[1] if granted is not None else None
        with self._atomic():
            record = self._registry.record_rejection(
                StaleWriteRecord(
                    identity=identity, agent_id=UUID(str(agent)) if agent else None,
                    presented_token=int(presented) if presented is not None else None,
                    current_token=ctx.get("current_token"), operation=str(ctx.get("operation") or "write"),
                    created_at=now, code=exc.code, caller=str(ctx.get("caller") or ""),
                )
            )
            self._emit(
                "stale_write_rejected", identity, now, operation=record.operation, agent_id=record.agent_id,
                presented_token=record.presented_token, current_token=record.current_token, rejection_id=record.id,
                code=record.code, caller=record.caller,
            )

    @contextlib.contextmanager
    def recording_rejections(self) -> Iterator[None]:
        """Wrap a fenced write: a StaleFencingToken is recorded, then re-raised unchanged."""
        try:
            yield
        except StaleFencingToken as exc:
            self.record_stale_write(exc)
            raise


def lease_error(lease: Lease) -> None:
    """Raise why a lease cannot be used: LeaseLost when it ran out (its TTL or its agent's), else NoActiveLease."""
    identity = lease.identity
    context = {"identity": identity, "current_token": lease.fencing_token, "lease_state": lease.state.value,
               "last_holder": str(lease.last_holder) if lease.last_holder else None}
    if lease.state == LeaseState.LOST and lease.lost_reason in (LostReason.EXPIRED, LostReason.AGENT_EXPIRED):
        raise LeaseLost(f"lease lost for {identity}", **context, lost_reason=lease.lost_reason)
    raise NoActiveLease(f"no active lease for {identity}", **context)


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, IdentityState | LeaseState):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
