"""InMemoryLeaseProvider: leases with a real TTL for tests and embedding. Also the in-memory FenceGuard."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from identities.backends import lease_rules as rules
from identities.types import Lease, LeaseAcquireResult, LeaseRenewResult, LeaseState, LostReason
from stores.clock import Clock, system_clock
from stores.retention_types import TableRetention
from stores.types import Fence


class InMemoryLeaseProvider:
    def __init__(self, *, clock: Clock = system_clock, floor: int = 0, log_interval_s: float = 60.0) -> None:
        self._clock = clock
        self._log_interval = timedelta(seconds=log_interval_s)
        self._renew_logged: dict[str, datetime] = {}
        self._last_token = floor
        self._leases: dict[str, Lease] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._grants: dict[int, tuple[str, UUID]] = {}
        self._granted_at: dict[int, datetime] = {}
        self._lock = threading.RLock()

    def _next_token(self) -> int:
        self._last_token += 1
        return self._last_token

    def _row(self, identity: str) -> Lease:
        return self._leases.get(identity) or rules.free(identity)

    def acquire(self, identity: str, holder: UUID, ttl_ms: int) -> LeaseAcquireResult:
        now = self._clock.now()
        with self._lock:
            current = self._row(identity)
            blocked = rules.blocked_by(current, holder, now)
            if blocked is not None:
                return blocked
            lease = rules.granted(current, holder, self._next_token(), ttl_ms, now)
            self._leases[identity] = lease
            self._renew_logged[identity] = now
            self._grants[lease.fencing_token] = (identity, holder)
            self._granted_at[lease.fencing_token] = now
            return LeaseAcquireResult("acquired", grant=rules.grant_of(lease), previous=current, lease=lease)

    def renew(self, identity: str, holder: UUID, token: int, ttl_ms: int) -> LeaseRenewResult:
        now = self._clock.now()
        with self._lock:
            current = self._row(identity)
            if not rules.renewable(current, holder, token, now):
                return LeaseRenewResult("lost")
            lease = replace(current, expires_at=now + timedelta(milliseconds=ttl_ms), ttl_ms=ttl_ms)
            self._leases[identity] = lease
            due = self._renew_logged.get(identity, now - self._log_interval) <= now - self._log_interval
            if due:
                self._renew_logged[identity] = now
            return LeaseRenewResult("renewed", grant=rules.grant_of(lease), log_due=due, lease=lease)

    def release(self, identity: str, holder: UUID, token: int) -> bool:
        now = self._clock.now()
        with self._lock:
            current = self._row(identity)
            if current.state != LeaseState.HELD or current.holder != holder or current.fencing_token != token:
                return False
            self._leases[identity] = rules.ended(current, LeaseState.RELEASED, "", now)
            return True

    def get(self, identity: str) -> Lease:
        now = self._clock.now()
        with self._lock:
            return self._row(identity).effective(now)

    def get_many(self, identities: Iterable[str]) -> dict[str, Lease]:
        now = self._clock.now()
        with self._lock:
            return {i: self._row(i).effective(now) for i in identities}

    def mark_lost(self, identity: str, reason: str) -> Lease | None:
        now = self._clock.now()
        with self._lock:
            current = self._row(identity)
            if current.state != LeaseState.HELD:
                return None
            self._leases[identity] = rules.ended(current, LeaseState.LOST, reason, now)
            return current

    def fence(self, identity: str) -> tuple[int, Lease | None]:
        now = self._clock.now()
        with self._lock:
            current = self._row(identity)
            token = self._next_token()
            self._leases[identity] = rules.ended(current, LeaseState.FENCED, "", now, token=token)
            return token, current if current.state == LeaseState.HELD else None

    def release_held_by(self, holders: Sequence[UUID], reason: str) -> list[Lease]:
        now = self._clock.now()
        wanted = set(holders)
        with self._lock:
            ended = [
                lease for lease in self._leases.values() if lease.state == LeaseState.HELD and lease.holder in wanted
            ]
            for lease in ended:
                self._leases[lease.identity] = rules.ended(lease, LeaseState.LOST, reason, now)
            return ended

    def expire_due(self, limit: int = 1000) -> list[Lease]:
        now = self._clock.now()
        with self._lock:
            due = [
                lease for lease in self._leases.values()
                if lease.state == LeaseState.HELD and lease.expires_at is not None and lease.expires_at <= now
            ][:limit]
            for lease in due:
                self._leases[lease.identity] = rules.ended(lease, LeaseState.LOST, LostReason.EXPIRED, now)
            return due

    def check(self, fence: Fence, *, operation: str) -> None:
        self.check_and_get(fence, operation=operation)

    def check_and_get(self, fence: Fence, *, operation: str) -> Lease:
        now = self._clock.now()
        with self._lock:
            lease = self._leases.get(fence.identity)
            rules.check_fence(lease, fence, operation, now)
            assert lease is not None
            return lease

    def raise_floor(self, floor: int) -> None:
        with self._lock:
            self._last_token = max(self._last_token, floor)

    def ensure(self, identity: str) -> None:
        """Create the identity's lease row (free) so later grants can lock it."""

    def own(self, identity: str, kind: str, resource_ids: Sequence[str]) -> None:
        with self._lock:
            for resource_id in resource_ids:
                self._owners.setdefault((kind, resource_id), identity)

    def owner_of(self, kind: str, resource_id: str) -> str | None:
        with self._lock:
            return self._owners.get((kind, resource_id))

    def owner_and_grant(
        self, kind: str, resource_id: str, token: int | None
    ) -> tuple[str | None, tuple[str, UUID] | None]:
        with self._lock:
            return self._owners.get((kind, resource_id)), self._grants.get(token) if token is not None else None

    def owners_of(self, kind: str, resource_ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return {r: self._owners[(kind, r)] for r in resource_ids if (kind, r) in self._owners}

    def grant_of(self, token: int) -> tuple[str, UUID] | None:
        with self._lock:
            return self._grants.get(token)

    def grants_retention(self, before: datetime) -> TableRetention:
        with self._lock:
            times = list(self._granted_at.values())
        return TableRetention("lease grants", len(times), None, min(times, default=None),
                              sum(1 for t in times if t < before))

    def prune_grants(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            old = sorted(t for t, at in self._granted_at.items() if at < before)[:limit]
            for token in old:
                self._grants.pop(token, None)
                self._granted_at.pop(token, None)
            return len(old)
