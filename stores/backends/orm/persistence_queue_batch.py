"""Batch calls of OrmRuntimePersistence's inbox: many claims, many completions, in a fixed number of
statements whatever the batch size.

Claiming many picks its candidates once (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so workers
racing on one session take different batches), forms the groups single claims in a row would take,
and stamps them all with one conditional UPDATE whose row count must equal the batches taken (a lost
race rolls every claim back). Completing many locks the named rows once, finishes the claims that
still hold all their batches with one DELETE (and one UPDATE for keyed batches), and answers the rest
as expired. Events go to the log in one append (EventSink.emit_many)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Case, CharField, F, Value, When

from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.persistence_rows import to_batch, unheld
from stores.models.persistence import QueuedWorkBatchRecord
from stores.persistence import (
    claim_groups,
    claim_id_for,
    claim_payload,
    distinct_claims,
    epoch_ms,
    new_lease_token,
    released_payload,
)
from stores.queue_types import (
    MAX_CLAIM_CANDIDATES,
    BatchClaimState,
    BatchOutcome,
    CompletionOutcome,
    CompletionResult,
    QueuedWorkBatch,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
)
from stores.types import EventDraft, Fence

if TYPE_CHECKING:
    from stores.clock import Clock
    from stores.contracts import EventSink


class _LostRace(Exception):
    """A candidate was taken between the pick and the claim; every claim of the call rolls back."""


class OrmQueueBatchMixin:
    _session_id: str
    events: EventSink

    if TYPE_CHECKING:
        _clock: Clock

        def _check_binding(self, session_id: str) -> None: ...
        def _check_fence(self, fence: Fence | None, operation: str) -> None: ...
        def _open(self) -> Any: ...
        @staticmethod
        def _finish(keyless: list[int], keyed: list[int], outcome: BatchOutcome) -> None: ...

    @translate_db_errors
    def claim_ready_queued_work_many(
        self,
        session_id: str,
        owner_id: str,
        boundary: QueuedWorkClaimBoundary,
        lease_ttl_ms: int,
        max_batches: int,
        max_claims: int,
    ) -> list[QueuedWorkClaim]:
        self._check_binding(session_id)
        if max_batches <= 0 or max_claims <= 0:
            return []
        now = self._clock.now()
        try:
            with transaction.atomic():
                return self._claim_many(owner_id, boundary, lease_ttl_ms, max_batches, max_claims, now)
        except _LostRace:
            return []

    def _claim_many(
        self, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int,
        max_claims: int, now: datetime,
    ) -> list[QueuedWorkClaim]:
        now_ms = epoch_ms(now)
        candidates = self._open().filter(available_at_ms__lte=now_ms).filter(unheld(now_ms)).order_by("enqueue_seq")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        # Groups are consecutive runs of the candidates, so this many rows are all the claims can need.
        rows = list(candidates[: min(max_claims * max_batches, MAX_CLAIM_CANDIDATES)])
        groups = claim_groups([to_batch(r) for r in rows], boundary, max_batches, max_claims)
        if not groups:
            return []
        expires_ms = now_ms + lease_ttl_ms
        stamps: list[tuple[list[int], str, str]] = []  # (enqueue seqs, claim id, lease token) per claim
        claims: list[QueuedWorkClaim] = []
        for group in groups:
            fencing = group[0].claim_fencing_token + 1
            claim_id = claim_id_for(group[0].enqueue_seq, fencing)
            lease_token = new_lease_token(self._session_id, owner_id, claim_id, now_ms)
            stamps.append(([b.enqueue_seq for b in group], claim_id, lease_token))
            state = BatchClaimState(claim_id, owner_id, now_ms, expires_ms)
            claimed = tuple(replace(b, claim=state, claim_fencing_token=b.claim_fencing_token + 1) for b in group)
            claims.append(QueuedWorkClaim(self._session_id, claim_id, owner_id, lease_token, fencing, now_ms,
                                          expires_ms, claimed))
        every = [seq for seqs, _, _ in stamps for seq in seqs]

        def per_claim(index: int) -> Case:
            return Case(*[When(enqueue_seq__in=seqs, then=Value(stamp[index])) for seqs, *stamp in stamps],
                        output_field=CharField())

        taken = (
            self._open()
            .filter(enqueue_seq__in=every)
            .filter(unheld(now_ms))
            .update(
                claim_id=per_claim(0),
                claim_lease_token=per_claim(1),
                claim_owner=owner_id,
                claimed_at_ms=now_ms,
                claim_expires_at_ms=expires_ms,
                claim_fencing_token=F("claim_fencing_token") + 1,
            )
        )
        if taken != len(every):
            raise _LostRace
        self.events.emit_many(
            [EventDraft("queue.claimed", "session", self._session_id, claim_payload(c)) for c in claims], now
        )
        return claims

    @translate_db_errors
    def complete_queued_work_many(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[CompletionResult]:
        for completion in completions:
            self._check_binding(completion.session_id)
        distinct_claims(completions)
        now = self._clock.now()
        with transaction.atomic():
            self._check_fence(fence, "queue.complete")
            named = {b for c in completions for b in c.batch_ids}
            # Lock what we finish: a concurrent reclaim (SKIP LOCKED) passes over these rows.
            rows = list(
                self._open().filter(batch_id__in=named, claim_id__in=[c.claim_id for c in completions])
                .select_for_update().order_by("enqueue_seq")
            ) if named else []
            by_claim: dict[tuple[str | None, str | None], list[QueuedWorkBatchRecord]] = defaultdict(list)
            for row in rows:
                by_claim[(row.claim_id, row.claim_lease_token)].append(row)
            results: list[CompletionResult] = []
            finished: list[QueuedWorkBatchRecord] = []
            drafts: list[EventDraft] = []
            for completion in completions:
                ids = list(completion.batch_ids)
                mine = [r for r in by_claim.get((completion.claim_id, completion.lease_token), []) if r.batch_id in ids]
                if len(mine) != len(ids) or len(set(ids)) != len(ids):
                    results.append(CompletionResult(completion.claim_id, CompletionOutcome.CLAIM_EXPIRED))
                    continue
                batches: tuple[QueuedWorkBatch, ...] = tuple(to_batch(r) for r in mine)
                results.append(CompletionResult(completion.claim_id, CompletionOutcome.COMPLETED, batches))
                finished.extend(mine)
                payload = released_payload(self._session_id, completion.claim_id, mine[0].claim_owner or "",
                                           [r.batch_id for r in mine], "completed")
                drafts.append(EventDraft("queue.completed", "session", self._session_id, payload))
            self._finish([r.pk for r in finished if r.source_key is None],
                         [r.pk for r in finished if r.source_key is not None], BatchOutcome.COMPLETED)
            self.events.emit_many(drafts, now)
        return results
