"""The durable inbox of OrmRuntimePersistence (semantics 5.6, SQLite rules).

Claiming picks candidates with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent
claimants of one session take different batches instead of queueing on the same rows. On both
databases the claim itself is one conditional UPDATE ("still unheld") whose row count must equal the
group size; a lost race rolls the whole claim back and returns None, as the SQLite original does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from stores.backends.orm.base import step, translate_db_errors
from stores.backends.orm.persistence_rows import CLEARED_CLAIM, to_batch, unheld
from stores.errors import Conflict, QueuedWorkClaimExpired
from stores.models.persistence import PersistedSession, QueuedWorkBatchRecord
from stores.persistence import (
    batch_payload,
    claim_group,
    claim_id_for,
    claim_payload,
    epoch_ms,
    fencing_of,
    new_batch_id,
    new_lease_token,
    released_payload,
)
from stores.queue_types import (
    BatchClaimState,
    BatchOutcome,
    ClaimHandle,
    QueuedWorkBatch,
    QueuedWorkBatchDraft,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
)
from stores.types import Fence

if TYPE_CHECKING:
    from stores.clock import Clock
    from stores.contracts import EventSink


def _emit_released(events: EventSink, kind: str, rows: Sequence[dict[str, Any]], now: datetime, why: str) -> None:
    """One event per claim for the released/completed rows (dicts with session_id, claim_id, owner, batch_id)."""
    by_claim: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in rows:
        by_claim[(r["session_id"], r["claim_id"] or "", r["claim_owner"] or "")].append(r["batch_id"])
    for (session_id, claim_id, owner), batch_ids in by_claim.items():
        events.emit(kind, "session", session_id, released_payload(session_id, claim_id, owner, batch_ids, why), now)


_RELEASE_FIELDS = ("pk", "session_id", "claim_id", "claim_owner", "batch_id", "source_key")


def _release_claims(events: EventSink, now: datetime, why: str, **where: str) -> int:
    """Make the claimed batches matching `where` claimable again, with queue.abandoned events saying why."""
    with step():
        held = QueuedWorkBatchRecord.objects.filter(claim_lease_token__isnull=False, outcome__isnull=True, **where)
        rows = list(held.values(*_RELEASE_FIELDS))
        if not rows:
            return 0
        # The filter repeats in the UPDATE: a row reclaimed meanwhile by someone else stays theirs.
        released = held.filter(pk__in=[r["pk"] for r in rows]).update(**CLEARED_CLAIM)
        _emit_released(events, "queue.abandoned", rows, now, why)
        return released


def release_owner_claims(owner_id: str, events: EventSink, now: datetime) -> int:
    """Every batch claimed by owner_id (across sessions): its agent expired."""
    return _release_claims(events, now, "owner expired", claim_owner=owner_id)


def release_session_claims(session_id: str, events: EventSink, now: datetime, why: str) -> int:
    """Every claim on one session: its owner was fenced out."""
    return _release_claims(events, now, why, session_id=session_id)


class OrmQueueMixin:
    _session_id: str
    events: EventSink

    if TYPE_CHECKING:
        _clock: Clock

        def _check_binding(self, session_id: str) -> None: ...
        def _check_fence(self, fence: Fence | None, operation: str) -> None: ...
        def _session_row(self, now: datetime, *, lock: bool) -> PersistedSession: ...

    @translate_db_errors
    def release_claims(self, why: str) -> int:
        return release_session_claims(self._session_id, self.events, self._clock.now(), why)

    def _open(self) -> Any:
        return QueuedWorkBatchRecord.objects.filter(session_id=self._session_id, outcome__isnull=True)

    @translate_db_errors
    def enqueue_queued_work(self, draft: QueuedWorkBatchDraft) -> QueuedWorkBatch:
        self._check_binding(draft.session_id)
        now = self._clock.now()
        now_ms = epoch_ms(now)
        keyed = QueuedWorkBatchRecord.objects.filter(session_id=self._session_id, source_key=draft.source_key)
        if draft.source_key is not None and (known := keyed.first()) is not None:
            return to_batch(known)
        batch_id = new_batch_id(self._session_id, draft.source_key, now_ms)
        try:
            with transaction.atomic():
                self._session_row(now, lock=False)
                PersistedSession.objects.filter(pk=self._session_id).update(updated_at=now)
                row = QueuedWorkBatchRecord.objects.create(
                    batch_id=batch_id,
                    session_id=self._session_id,
                    source_key=draft.source_key,
                    delivery_policy=draft.delivery_policy.value,
                    slot_policy=draft.slot_policy.value,
                    merge_key=draft.merge_key.encode(),
                    available_at_ms=draft.available_at_ms,
                    enqueued_at_ms=now_ms,
                    payloads=[p.to_json() for p in draft.payloads],
                )
                batch = to_batch(row)
                self.events.emit("queue.enqueued", "session", self._session_id, batch_payload(batch), now)
        except IntegrityError:
            # A concurrent enqueue with the same source key won; its batch is the answer.
            if draft.source_key is None or (known := keyed.first()) is None:
                raise
            return to_batch(known)
        return batch

    @translate_db_errors
    def claim_ready_queued_work(
        self, session_id: str, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int
    ) -> QueuedWorkClaim | None:
        self._check_binding(session_id)
        now = self._clock.now()
        with step():
            return self._claim(owner_id, boundary, lease_ttl_ms, max_batches, now)

    def _claim(
        self, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int, now: datetime
    ) -> QueuedWorkClaim | None:
        if max_batches <= 0:
            return None
        now_ms = epoch_ms(now)
        candidates = self._open().filter(available_at_ms__lte=now_ms).filter(unheld(now_ms)).order_by("enqueue_seq")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        # A group is a prefix of the candidates, so max_batches rows are all it can need.
        rows = list(candidates[:max_batches])
        group = claim_group([to_batch(r) for r in rows], boundary, max_batches)
        if not group:
            return None
        fencing = group[0].claim_fencing_token + 1
        claim_id = claim_id_for(group[0].enqueue_seq, fencing)
        lease_token = new_lease_token(self._session_id, owner_id, claim_id, now_ms)
        expires_ms = now_ms + lease_ttl_ms
        taken = (
            self._open()
            .filter(enqueue_seq__in=[b.enqueue_seq for b in group])
            .filter(unheld(now_ms))
            .update(
                claim_id=claim_id,
                claim_owner=owner_id,
                claim_lease_token=lease_token,
                claimed_at_ms=now_ms,
                claim_expires_at_ms=expires_ms,
                claim_fencing_token=F("claim_fencing_token") + 1,
            )
        )
        if taken != len(group):
            # Cannot happen while the candidates are locked (FOR UPDATE SKIP LOCKED on PostgreSQL, the
            # IMMEDIATE write lock on SQLite); if it ever does, the whole write rolls back and says so.
            raise Conflict("another claim took some of these batches at the same moment; claim again",
                           session_id=self._session_id)
        state = BatchClaimState(claim_id, owner_id, now_ms, expires_ms)
        claimed = tuple(replace(b, claim=state, claim_fencing_token=b.claim_fencing_token + 1) for b in group)
        claim = QueuedWorkClaim(self._session_id, claim_id, owner_id, lease_token, fencing, now_ms, expires_ms, claimed)
        self.events.emit("queue.claimed", "session", self._session_id, claim_payload(claim), now)
        return claim

    @translate_db_errors
    def claim_ready_queued_work_by_batch_ids(
        self,
        session_id: str,
        owner_id: str,
        boundary: QueuedWorkClaimBoundary,
        lease_ttl_ms: int,
        batch_ids: Sequence[str],
    ) -> QueuedWorkClaim | None:
        self._check_binding(session_id)
        if not batch_ids:
            return None
        now = self._clock.now()
        with step():
            claim = self._claim(owner_id, boundary, lease_ttl_ms, len(batch_ids), now)
            if claim is None or claim.batch_ids == list(batch_ids):
                return claim
            # Exact claims never skip earlier durable work: give the group back, counters bumped.
            self._release(claim, now, "exact claim did not match")
            return None

    def _holding(self, handle: ClaimHandle) -> Any:
        return self._open().filter(
            batch_id__in=list(handle.batch_ids), claim_id=handle.claim_id, claim_lease_token=handle.lease_token
        )

    @translate_db_errors
    def renew_queued_work_claim(self, claim: ClaimHandle, lease_ttl_ms: int) -> QueuedWorkClaim:
        self._check_binding(claim.session_id)
        now = self._clock.now()
        expires_ms = epoch_ms(now) + lease_ttl_ms
        with step():
            renewed = self._holding(claim).update(claim_expires_at_ms=expires_ms)
            wanted = len(set(claim.batch_ids))
            if renewed == 0 or renewed != wanted or wanted != len(claim.batch_ids):
                raise QueuedWorkClaimExpired(
                    f"claim {claim.claim_id} no longer holds its batches",
                    session_id=claim.session_id, claim_id=claim.claim_id,
                )
            rows = list(self._holding(claim).order_by("enqueue_seq"))
            batches = tuple(to_batch(r) for r in rows)
            first = rows[0]
            result = QueuedWorkClaim(
                claim.session_id, claim.claim_id, first.claim_owner or "", claim.lease_token,
                fencing_of(claim.claim_id), first.claimed_at_ms or 0, expires_ms, batches,
            )
            # Renewals are frequent liveness, like heartbeats: pushed live, not written to the log.
            self.events.emit("queue.renewed", "session", claim.session_id, claim_payload(result), now, durable=False)
        return result

    @translate_db_errors
    def abandon_queued_work_claim(self, claim: ClaimHandle) -> None:
        self._check_binding(claim.session_id)
        now = self._clock.now()
        with step():
            self._release(claim, now, "abandoned")

    def _release(self, claim: ClaimHandle, now: datetime, why: str) -> None:
        rows = list(self._holding(claim).values(*_RELEASE_FIELDS))
        if rows and self._holding(claim).update(**CLEARED_CLAIM):
            _emit_released(self.events, "queue.abandoned", rows, now, why)

    def _take_completions(
        self, completions: Sequence[QueuedWorkCompletion], session_id: str, now: datetime
    ) -> list[QueuedWorkBatch]:
        """Finish every completion's batches or raise QueuedWorkClaimExpired (the caller's transaction
        rolls back). Must run inside transaction.atomic(). Expiry is not checked (semantics 5.4)."""
        finished: list[QueuedWorkBatch] = []
        for completion in completions:
            ids = list(completion.batch_ids)
            rows = []
            if completion.session_id == session_id and len(set(ids)) == len(ids):
                # Lock what we finish: a concurrent reclaim (SKIP LOCKED) then passes over these rows.
                rows = list(self._holding(completion).select_for_update().order_by("enqueue_seq"))
            if len(rows) != len(ids):
                raise QueuedWorkClaimExpired(
                    f"claim {completion.claim_id} no longer holds batches {', '.join(ids)}",
                    session_id=completion.session_id, claim_id=completion.claim_id,
                )
            keyless = [r.pk for r in rows if r.source_key is None]
            self._finish(keyless, [r.pk for r in rows if r.source_key is not None], BatchOutcome.COMPLETED)
            finished.extend(to_batch(r) for r in rows)
            released = [{"session_id": r.session_id, "claim_id": r.claim_id, "claim_owner": r.claim_owner,
                         "batch_id": r.batch_id} for r in rows]
            _emit_released(self.events, "queue.completed", released, now, "completed")
        return finished

    @staticmethod
    def _finish(keyless: list[int], keyed: list[int], outcome: BatchOutcome) -> None:
        """A keyed batch leaves its row as the source key's record, so a replayed enqueue of finished
        work returns it instead of queueing the work again (nothing runs twice)."""
        if keyless:
            QueuedWorkBatchRecord.objects.filter(pk__in=keyless).delete()
        if keyed:
            QueuedWorkBatchRecord.objects.filter(pk__in=keyed).update(outcome=outcome.value, **CLEARED_CLAIM)

    @translate_db_errors
    def complete_queued_work(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[QueuedWorkBatch]:
        for completion in completions:
            self._check_binding(completion.session_id)
        now = self._clock.now()
        with step():
            self._check_fence(fence, "queue.complete")
            return self._take_completions(completions, self._session_id, now)

    @translate_db_errors
    def cancel_queued_work_batch(self, session_id: str, batch_id: str) -> QueuedWorkBatch | None:
        self._check_binding(session_id)
        now = self._clock.now()
        now_ms = epoch_ms(now)
        with step():
            free = self._open().filter(batch_id=batch_id).filter(unheld(now_ms))
            if connection.features.has_select_for_update:
                free = free.select_for_update()
            row = free.first()
            if row is None:
                return None
            keyed = [row.pk] if row.source_key else []
            self._finish([] if keyed else [row.pk], keyed, BatchOutcome.CANCELLED)
            batch = to_batch(row)
            self.events.emit("queue.cancelled", "session", session_id, batch_payload(batch), now)
            return batch

    @translate_db_errors
    def list_queued_work(self, session_id: str, *, offset: int = 0, limit: int | None = None) -> list[QueuedWorkBatch]:
        self._check_binding(session_id)
        rows = self._open().order_by("enqueue_seq")
        return [to_batch(r) for r in rows[offset : None if limit is None else offset + limit]]

    @translate_db_errors
    def list_pending_queued_work(
        self, session_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[QueuedWorkBatch]:
        self._check_binding(session_id)
        now_ms = epoch_ms(self._clock.now())
        rows = self._open().filter(unheld(now_ms)).order_by("enqueue_seq")
        return [to_batch(r) for r in rows[offset : None if limit is None else offset + limit]]
