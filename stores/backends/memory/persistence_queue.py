"""The durable-inbox half of InMemoryRuntimePersistence: enqueue, claim, renew, abandon, cancel, complete.

Follows the SQLite rules of semantics 5.6 (candidates are this session's ready, unheld batches, so
join groups span over held or unready ones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from stores.errors import QueuedWorkClaimExpired
from stores.persistence import (
    batch_payload,
    claim_group,
    claim_groups,
    claim_id_for,
    claim_payload,
    distinct_claims,
    epoch_ms,
    fencing_of,
    items_for,
    new_batch_id,
    new_lease_token,
    released_payload,
)
from stores.queue_types import (
    MAX_CLAIM_CANDIDATES,
    BatchClaimState,
    BatchOutcome,
    ClaimHandle,
    CompletionOutcome,
    CompletionResult,
    QueuedWorkBatch,
    QueuedWorkBatchDraft,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
)
from stores.types import Fence

if TYPE_CHECKING:
    from stores.backends.memory.persistence_state import InMemoryPersistenceState
    from stores.contracts import EventSink


def _ids(handle: ClaimHandle) -> list[str]:
    return list(handle.batch_ids)


class InMemoryQueueMixin:
    _state: InMemoryPersistenceState
    _session_id: str
    events: EventSink

    if TYPE_CHECKING:
        from stores.clock import Clock

        _clock: Clock

        def _check_binding(self, session_id: str) -> None: ...
        def _check_fence(self, fence: Fence | None, operation: str) -> None: ...

    def enqueue_queued_work(self, draft: QueuedWorkBatchDraft) -> QueuedWorkBatch:
        self._check_binding(draft.session_id)
        now = self._clock.now()
        now_ms = epoch_ms(now)
        with self._state.lock:
            if draft.source_key is not None:
                known = self._state.source_keys.get((draft.session_id, draft.source_key))
                if known is not None:
                    return self._state.batches[known]
            self._state.last_seq += 1
            batch_id = new_batch_id(draft.session_id, draft.source_key, now_ms)
            batch = QueuedWorkBatch(
                batch_id=batch_id,
                session_id=draft.session_id,
                enqueue_seq=self._state.last_seq,
                source_key=draft.source_key,
                delivery_policy=draft.delivery_policy,
                slot_policy=draft.slot_policy,
                merge_key=draft.merge_key,
                available_at_ms=draft.available_at_ms,
                enqueued_at_ms=now_ms,
                items=tuple(items_for(batch_id, draft.payloads)),
            )
            self._state.batches[batch_id] = batch
            if draft.source_key is not None:
                self._state.source_keys[(draft.session_id, draft.source_key)] = batch_id
            self._state.session(draft.session_id, now).updated_at = now
            self.events.emit("queue.enqueued", "session", draft.session_id, batch_payload(batch), now)
            return batch

    def _session_batches(self) -> list[QueuedWorkBatch]:
        return sorted(
            (b for b in self._state.batches.values() if b.session_id == self._session_id and b.outcome is None),
            key=lambda b: b.enqueue_seq,
        )

    def claim_ready_queued_work(
        self, session_id: str, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int
    ) -> QueuedWorkClaim | None:
        self._check_binding(session_id)
        now = self._clock.now()
        with self._state.lock:
            return self._claim(owner_id, boundary, lease_ttl_ms, max_batches, now)

    def _claim(
        self, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int, now: datetime
    ) -> QueuedWorkClaim | None:
        now_ms = epoch_ms(now)
        candidates = [b for b in self._session_batches() if b.is_ready(now_ms) and not b.is_held(now_ms)]
        group = claim_group(candidates, boundary, max_batches)
        if not group:
            return None
        return self._stamp(group, owner_id, lease_ttl_ms, now)

    def _stamp(
        self, group: Sequence[QueuedWorkBatch], owner_id: str, lease_ttl_ms: int, now: datetime
    ) -> QueuedWorkClaim:
        """Hand `group` to a new claim (the caller holds the lock and formed the group)."""
        now_ms = epoch_ms(now)
        fencing = group[0].claim_fencing_token + 1
        claim_id = claim_id_for(group[0].enqueue_seq, fencing)
        lease_token = new_lease_token(self._session_id, owner_id, claim_id, now_ms)
        state = BatchClaimState(claim_id, owner_id, now_ms, now_ms + lease_ttl_ms)
        claimed = []
        for batch in group:
            updated = replace(batch, claim=state, claim_fencing_token=batch.claim_fencing_token + 1)
            self._state.batches[batch.batch_id] = updated
            self._state.lease_tokens[batch.batch_id] = lease_token
            claimed.append(updated)
        claim = QueuedWorkClaim(self._session_id, claim_id, owner_id, lease_token, fencing, now_ms,
                                now_ms + lease_ttl_ms, tuple(claimed))
        self.events.emit("queue.claimed", "session", self._session_id, claim_payload(claim), now)
        return claim

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
        now_ms = epoch_ms(now)
        with self._state.lock:
            # The same candidate window as the ORM backend's, so both take the same claims.
            candidates = [b for b in self._session_batches() if b.is_ready(now_ms) and not b.is_held(now_ms)]
            window = candidates[: min(max_claims * max_batches, MAX_CLAIM_CANDIDATES)]
            return [self._stamp(group, owner_id, lease_ttl_ms, now)
                    for group in claim_groups(window, boundary, max_batches, max_claims)]

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
        with self._state.lock:
            claim = self._claim(owner_id, boundary, lease_ttl_ms, len(batch_ids), now)
            if claim is None or claim.batch_ids == list(batch_ids):
                return claim
            # Exact claims never skip earlier durable work: give the group back (its counters stay bumped).
            self._release(self._holding(claim), now, "exact claim did not match")
            return None

    def _holding(self, handle: ClaimHandle) -> list[QueuedWorkBatch]:
        """The batches still stamped with the handle's claim and lease token."""
        found = []
        for batch_id in _ids(handle):
            batch = self._state.batches.get(batch_id)
            if (
                batch is not None
                and batch.session_id == handle.session_id
                and batch.claim is not None
                and batch.claim.claim_id == handle.claim_id
                and self._state.lease_tokens.get(batch_id) == handle.lease_token
            ):
                found.append(batch)
        return found

    def renew_queued_work_claim(self, claim: ClaimHandle, lease_ttl_ms: int) -> QueuedWorkClaim:
        self._check_binding(claim.session_id)
        now = self._clock.now()
        now_ms = epoch_ms(now)
        with self._state.lock:
            holding = self._holding(claim)
            if not holding or len(holding) != len(_ids(claim)):
                raise QueuedWorkClaimExpired(
                    f"claim {claim.claim_id} no longer holds its batches",
                    session_id=claim.session_id, claim_id=claim.claim_id,
                )
            renewed = []
            for batch in holding:
                assert batch.claim is not None
                updated = replace(batch, claim=replace(batch.claim, expires_at_ms=now_ms + lease_ttl_ms))
                self._state.batches[batch.batch_id] = updated
                renewed.append(updated)
            first = renewed[0].claim
            assert first is not None
            result = QueuedWorkClaim(claim.session_id, claim.claim_id, first.owner_id, claim.lease_token,
                                     fencing_of(claim.claim_id), first.claimed_at_ms, now_ms + lease_ttl_ms,
                                     tuple(renewed))
            # Renewals are frequent liveness, like heartbeats: pushed live, not written to the log.
            self.events.emit("queue.renewed", "session", claim.session_id, claim_payload(result), now, durable=False)
            return result

    def abandon_queued_work_claim(self, claim: ClaimHandle) -> None:
        self._check_binding(claim.session_id)
        now = self._clock.now()
        with self._state.lock:
            self._release(self._holding(claim), now, "abandoned")

    def release_claims(self, why: str) -> int:
        with self._state.lock:
            held = [
                b for b in self._state.batches.values()
                if b.session_id == self._session_id and b.claim is not None and b.outcome is None
            ]
            if held:
                self._release(held, self._clock.now(), why)
            return len(held)

    def _release(self, batches: Sequence[QueuedWorkBatch], now: datetime, why: str) -> None:
        """Clear the claim of `batches` (all of one session), keeping their fencing counters."""
        by_claim: dict[str, list[QueuedWorkBatch]] = {}
        for batch in batches:
            assert batch.claim is not None
            by_claim.setdefault(batch.claim.claim_id, []).append(batch)
            self._state.batches[batch.batch_id] = replace(batch, claim=None)
            self._state.lease_tokens.pop(batch.batch_id, None)
        for claim_id, group in by_claim.items():
            owner = group[0].claim.owner_id if group[0].claim else ""
            payload = released_payload(group[0].session_id, claim_id, owner, [b.batch_id for b in group], why)
            self.events.emit("queue.abandoned", "session", group[0].session_id, payload, now)

    def _verify_completions(
        self, completions: Sequence[QueuedWorkCompletion], session_id: str
    ) -> list[QueuedWorkBatch]:
        """The batches the completions delete; QueuedWorkClaimExpired unless each still holds all its ids.
        Expiry is not checked: an expired claim nobody took over may still complete."""
        found: list[QueuedWorkBatch] = []
        for completion in completions:
            holding = self._holding(completion) if completion.session_id == session_id else []
            if len(holding) != len(_ids(completion)) or len(set(_ids(completion))) != len(holding):
                raise QueuedWorkClaimExpired(
                    f"claim {completion.claim_id} no longer holds batches {', '.join(_ids(completion))}",
                    session_id=completion.session_id, claim_id=completion.claim_id,
                )
            found.extend(holding)
        return found

    def _finish(self, batch: QueuedWorkBatch, outcome: BatchOutcome) -> None:
        """Take a batch out of the queue. A keyed batch leaves a record so that a replayed enqueue of
        finished work returns it instead of queueing the work again (nothing runs twice)."""
        self._state.lease_tokens.pop(batch.batch_id, None)
        if batch.source_key is None:
            del self._state.batches[batch.batch_id]
        else:
            self._state.batches[batch.batch_id] = replace(batch, claim=None, outcome=outcome)

    def _delete_batches(self, batches: Sequence[QueuedWorkBatch], now: datetime, why: str) -> None:
        for batch in batches:
            self._finish(batch, BatchOutcome.COMPLETED)
        by_claim: dict[str, list[QueuedWorkBatch]] = {}
        for batch in batches:
            by_claim.setdefault(batch.claim.claim_id if batch.claim else "", []).append(batch)
        for claim_id, group in by_claim.items():
            owner = group[0].claim.owner_id if group[0].claim else ""
            payload = released_payload(group[0].session_id, claim_id, owner, [b.batch_id for b in group], why)
            self.events.emit("queue.completed", "session", group[0].session_id, payload, now)

    def complete_queued_work(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[QueuedWorkBatch]:
        now = self._clock.now()
        with self._state.lock:
            for completion in completions:
                self._check_binding(completion.session_id)
            self._check_fence(fence, "queue.complete")
            batches = self._verify_completions(completions, self._session_id)
            self._delete_batches(batches, now, "completed")
            return batches

    def complete_queued_work_many(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[CompletionResult]:
        for completion in completions:
            self._check_binding(completion.session_id)
        distinct_claims(completions)
        now = self._clock.now()
        with self._state.lock:
            self._check_fence(fence, "queue.complete")
            results = []
            for completion in completions:
                holding = self._holding(completion)
                if len(holding) != len(_ids(completion)) or len(set(_ids(completion))) != len(holding):
                    results.append(CompletionResult(completion.claim_id, CompletionOutcome.CLAIM_EXPIRED))
                    continue
                self._delete_batches(holding, now, "completed")
                results.append(CompletionResult(completion.claim_id, CompletionOutcome.COMPLETED, tuple(holding)))
            return results

    def cancel_queued_work_batch(self, session_id: str, batch_id: str) -> QueuedWorkBatch | None:
        self._check_binding(session_id)
        now = self._clock.now()
        with self._state.lock:
            batch = self._state.batches.get(batch_id)
            if batch is None or batch.outcome is not None or batch.session_id != session_id or batch.is_held(
                epoch_ms(now)
            ):
                return None
            self._finish(batch, BatchOutcome.CANCELLED)
            self.events.emit("queue.cancelled", "session", session_id, batch_payload(batch), now)
            return batch

    def list_queued_work(self, session_id: str, *, offset: int = 0, limit: int | None = None) -> list[QueuedWorkBatch]:
        self._check_binding(session_id)
        with self._state.lock:
            batches = self._session_batches()
        return batches[offset : None if limit is None else offset + limit]

    def list_pending_queued_work(
        self, session_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[QueuedWorkBatch]:
        self._check_binding(session_id)
        now_ms = epoch_ms(self._clock.now())
        with self._state.lock:
            batches = [b for b in self._session_batches() if not b.is_held(now_ms)]
        return batches[offset : None if limit is None else offset + limit]
