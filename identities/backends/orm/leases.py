"""OrmLeaseProvider and OrmFenceGuard: leases on SQLite or PostgreSQL, fenced by one token counter.

Every grant, renewal and fenced write locks the identity's lease row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the IMMEDIATE transaction already serialises writers), so a check and the
write it guards are one atomic step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Max

from identities.backends import lease_rules as rules
from identities.models import ContinuityRow, FencingCounter, LeaseGrant, LeaseRow, OwnedResource
from identities.types import Lease, LeaseAcquireResult, LeaseRenewResult, LeaseState, LostReason
from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.clock import Clock, system_clock
from stores.fencing import already_checked
from stores.retention_types import TableRetention
from stores.types import Fence

SEQUENCE = "identities_fencing_token_seq"
COUNTER_TABLE = FencingCounter._meta.db_table


def to_lease(row: LeaseRow) -> Lease:
    return Lease(
        identity=row.identity, state=LeaseState(row.state), fencing_token=row.fencing_token, holder=row.holder,
        acquired_at=row.acquired_at, expires_at=row.expires_at, ttl_ms=row.ttl_ms, last_holder=row.last_holder,
        lost_reason=row.lost_reason, ended_at=row.ended_at,
    )


def write(lease: Lease, **extra: object) -> None:
    LeaseRow.objects.filter(identity=lease.identity).update(
        state=lease.state.value, fencing_token=lease.fencing_token, holder=lease.holder,
        acquired_at=lease.acquired_at, expires_at=lease.expires_at, ttl_ms=lease.ttl_ms,
        last_holder=lease.last_holder, lost_reason=lease.lost_reason, ended_at=lease.ended_at, **extra,
    )


def _token_floor() -> int:
    leases = LeaseRow.objects.aggregate(m=Max("fencing_token"))["m"] or 0
    records = ContinuityRow.objects.aggregate(m=Max("fencing_token"))["m"] or 0
    return max(leases, records)


def next_token() -> int:
    """The next fencing token from the one database counter: strictly increasing, never reused."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
            return int(cursor.fetchone()[0])
        # The UPDATE takes the counter row's write lock until commit; RETURNING reads it in one step.
        cursor.execute(f"UPDATE {COUNTER_TABLE} SET value = value + 1 WHERE id = 1 RETURNING value")
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
    # The counter row is gone (a fresh or flushed database): restart above every token on record.
    FencingCounter.objects.bulk_create([FencingCounter(id=1, value=_token_floor())], ignore_conflicts=True)
    return next_token()


def raise_token_floor(floor: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM " + SEQUENCE + ")))", [SEQUENCE, floor]
            )
        return
    FencingCounter.objects.bulk_create([FencingCounter(id=1, value=_token_floor())], ignore_conflicts=True)
    FencingCounter.objects.filter(id=1, value__lt=floor).update(value=floor)


def locked_row(identity: str, *, create: bool = True) -> LeaseRow | None:
    row = LeaseRow.objects.select_for_update().filter(identity=identity).first()
    if row is None and create:
        LeaseRow.objects.bulk_create([LeaseRow(identity=identity)], ignore_conflicts=True)
        row = LeaseRow.objects.select_for_update().get(identity=identity)
    return row


class OrmFenceGuard:
    """The FenceGuard every store calls inside the transaction of a fenced write."""

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock

    def check(self, fence: Fence, *, operation: str) -> None:
        self.check_and_get(fence, operation=operation)

    @translate_db_errors
    def check_and_get(self, fence: Fence, *, operation: str) -> Lease:
        checked = already_checked(fence)
        if checked is not None:
            return cast(Lease, checked)
        now = self._clock.now()
        # Inside the caller's transaction (no savepoint: the row stays locked until it ends); the verdict
        # is given after the block, so a refusal leaves that transaction usable for reading why.
        with transaction.atomic(savepoint=False):
            row = locked_row(fence.identity, create=False)
        lease = to_lease(row) if row is not None else None
        rules.check_fence(lease, fence, operation, now)
        assert lease is not None
        return lease


class OrmLeaseProvider:
    def __init__(self, *, clock: Clock = system_clock, floor: int = 0, log_interval_s: float = 60.0) -> None:
        self._clock = clock
        self._log_interval_s = log_interval_s
        self._guard = OrmFenceGuard(clock=clock)
        self._floor = floor
        self._floor_applied = floor == 0

    def _token(self) -> int:
        if not self._floor_applied:
            raise_token_floor(self._floor)
            self._floor_applied = True
        return next_token()

    @translate_db_errors
    def ensure(self, identity: str) -> None:
        LeaseRow.objects.bulk_create([LeaseRow(identity=identity)], ignore_conflicts=True)

    @translate_db_errors
    def acquire(self, identity: str, holder: UUID, ttl_ms: int) -> LeaseAcquireResult:
        now = self._clock.now()
        with transaction.atomic(savepoint=False):
            row = locked_row(identity)
            assert row is not None
            current = to_lease(row)
            blocked = rules.blocked_by(current, holder, now)
            if blocked is not None:
                return blocked
            lease = rules.granted(current, holder, self._token(), ttl_ms, now)
            write(lease, renew_logged_at=now)
            LeaseGrant.objects.create(token=lease.fencing_token, identity=identity, holder=holder, granted_at=now)
            return LeaseAcquireResult("acquired", grant=rules.grant_of(lease), previous=current, lease=lease)

    @translate_db_errors
    def renew(self, identity: str, holder: UUID, token: int, ttl_ms: int) -> LeaseRenewResult:
        now = self._clock.now()
        with transaction.atomic(savepoint=False):
            row = locked_row(identity, create=False)
            if row is None or not rules.renewable(to_lease(row), holder, token, now):
                return LeaseRenewResult("lost")
            due = row.renew_logged_at is None or row.renew_logged_at <= now - timedelta(seconds=self._log_interval_s)
            row.expires_at, row.ttl_ms = now + timedelta(milliseconds=ttl_ms), ttl_ms
            if due:
                row.renew_logged_at = now
            row.save(update_fields=["expires_at", "ttl_ms", "renew_logged_at"])
        lease = to_lease(row)
        return LeaseRenewResult("renewed", grant=rules.grant_of(lease), log_due=due, lease=lease)

    @translate_db_errors
    def release(self, identity: str, holder: UUID, token: int) -> bool:
        now = self._clock.now()
        with transaction.atomic(savepoint=False):
            row = locked_row(identity, create=False)
            if row is None or row.state != LeaseState.HELD or row.holder != holder or row.fencing_token != token:
                return False
            write(rules.ended(to_lease(row), LeaseState.RELEASED, "", now))
            return True

    @translate_db_errors
    def get(self, identity: str) -> Lease:
        now = self._clock.now()
        row = LeaseRow.objects.filter(identity=identity).first()
        return to_lease(row).effective(now) if row is not None else rules.free(identity)

    @translate_db_errors
    def get_many(self, identities: Iterable[str]) -> dict[str, Lease]:
        now = self._clock.now()
        wanted = list(identities)
        rows = {r.identity: r for r in LeaseRow.objects.filter(identity__in=wanted)}
        return {i: to_lease(rows[i]).effective(now) if i in rows else rules.free(i) for i in wanted}

    @translate_db_errors
    def mark_lost(self, identity: str, reason: str) -> Lease | None:
        now = self._clock.now()
        with transaction.atomic(savepoint=False):
            row = locked_row(identity, create=False)
            if row is None or row.state != LeaseState.HELD:
                return None
            current = to_lease(row)
            write(rules.ended(current, LeaseState.LOST, reason, now))
            return current

    @translate_db_errors
    def fence(self, identity: str) -> tuple[int, Lease | None]:
        now = self._clock.now()
        with transaction.atomic(savepoint=False):
            row = locked_row(identity)
            assert row is not None
            current = to_lease(row)
            token = self._token()
            write(rules.ended(current, LeaseState.FENCED, "", now, token=token))
            return token, current if current.state == LeaseState.HELD else None

    @translate_db_errors
    def release_held_by(self, holders: Sequence[UUID], reason: str) -> list[Lease]:
        now = self._clock.now()
        ended = []
        with transaction.atomic(savepoint=False):
            for row in LeaseRow.objects.select_for_update().filter(holder__in=list(holders), state=LeaseState.HELD):
                current = to_lease(row)
                write(rules.ended(current, LeaseState.LOST, reason, now))
                ended.append(current)
        return ended

    @translate_db_errors
    def expire_due(self, limit: int = 1000) -> list[Lease]:
        now = self._clock.now()
        ended = []
        with transaction.atomic(savepoint=False):
            due = LeaseRow.objects.filter(state=LeaseState.HELD, expires_at__lte=now).order_by("expires_at")[:limit]
            for row in due:
                current = to_lease(row)
                # Guarded like a claim: a renewal or re-grant that landed meanwhile wins.
                lost = rules.ended(current, LeaseState.LOST, LostReason.EXPIRED, now)
                if LeaseRow.objects.filter(
                    identity=row.identity, state=LeaseState.HELD, fencing_token=row.fencing_token, expires_at__lte=now
                ).update(state=lost.state.value, holder=None, last_holder=lost.last_holder,
                         lost_reason=lost.lost_reason, ended_at=lost.ended_at):
                    ended.append(current)
        return ended

    def check(self, fence: Fence, *, operation: str) -> None:
        self._guard.check(fence, operation=operation)

    def check_and_get(self, fence: Fence, *, operation: str) -> Lease:
        return self._guard.check_and_get(fence, operation=operation)

    @translate_db_errors
    def raise_floor(self, floor: int) -> None:
        raise_token_floor(floor)

    @translate_db_errors
    def own(self, identity: str, kind: str, resource_ids: Sequence[str]) -> None:
        OwnedResource.objects.bulk_create(
            [OwnedResource(kind=kind, resource_id=r, identity=identity) for r in resource_ids], ignore_conflicts=True
        )

    @translate_db_errors
    def owner_of(self, kind: str, resource_id: str) -> str | None:
        owned = OwnedResource.objects.filter(kind=kind, resource_id=resource_id)
        return owned.values_list("identity", flat=True).first()

    @translate_db_errors
    def owner_and_grant(
        self, kind: str, resource_id: str, token: int | None
    ) -> tuple[str | None, tuple[str, UUID] | None]:
        if token is None:
            return self.owner_of(kind, resource_id), None
        owned, grants = OwnedResource._meta.db_table, LeaseGrant._meta.db_table
        with connection.cursor() as cursor:  # one statement for both lookups of every owned write
            cursor.execute(
                f"SELECT (SELECT identity FROM {owned} WHERE kind = %s AND resource_id = %s LIMIT 1), "
                f"(SELECT identity FROM {grants} WHERE token = %s), (SELECT holder FROM {grants} WHERE token = %s)",
                [kind, resource_id, token, token],
            )
            owner, granted_to, holder = cursor.fetchone()
        return owner, ((granted_to, holder if isinstance(holder, UUID) else UUID(str(holder)))
                       if granted_to is not None else None)

    def owners_of(self, kind: str, resource_ids: Sequence[str]) -> dict[str, str]:
        if not resource_ids:
            return {}
        owned = OwnedResource.objects.filter(kind=kind, resource_id__in=list(resource_ids))
        return dict(owned.values_list("resource_id", "identity"))

    @translate_db_errors
    def grant_of(self, token: int) -> tuple[str, UUID] | None:
        row = LeaseGrant.objects.filter(token=token).values_list("identity", "holder").first()
        return (row[0], row[1]) if row is not None else None

    @translate_db_errors
    def grants_retention(self, before: datetime) -> TableRetention:
        old = LeaseGrant.objects.filter(granted_at__lt=before)
        return table_retention("lease grants", LeaseGrant, "granted_at", old)

    @translate_db_errors
    def prune_grants(self, before: datetime, *, limit: int) -> int:
        """Grants older than the window: a refused write presenting a token that old is recorded without its agent."""
        return delete_batch(LeaseGrant.objects.filter(granted_at__lt=before), limit)
