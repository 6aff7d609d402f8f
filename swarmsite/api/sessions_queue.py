"""A session's durable inbox and attachment manifest over HTTP (mounted under /api/v1/sessions).

Agents enqueue work (idempotent by source key), claim it with a lease (the claim's `lease_token` is
the secret that renews, abandons or completes it), and complete it; a claim lives until it expires,
is abandoned, or its agent expires."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status

from identities.types import Owned
from stores.errors import InvalidInput, NotFound, QueuedWorkBatchHeld
from stores.persistence import epoch_ms
from stores.persistence_types import AttachmentIntent
from stores.queue_types import CompletionOutcome, QueuedWorkBatchDraft
from stores.types import AgentState
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.fencing import FencingTokenHeader, owned_write
from swarmsite.api.idempotency import earlier_answer, remember
from swarmsite.api.schemas import PageOut
from swarmsite.api.sessions_schemas import (
    AttachmentId,
    AttachmentIdsIn,
    AttachmentOut,
    BatchId,
    BatchOut,
    ClaimIn,
    ClaimManyIn,
    ClaimOut,
    ClaimRefIn,
    ClaimsOut,
    CompletedOut,
    CompleteIn,
    CompleteManyIn,
    CompletionsOut,
    EnqueueIn,
    EpochMs,
    IntentIn,
    QueueFilter,
    RenewIn,
    SessionId,
    batch_out,
    claim_out,
    merge_key,
)
from swarmsite.composition import identity_runtime, lifecycle_store, runtime_persistence

queue_router = Router(tags=["session queues"])

WRITE_ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


def idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > 200 or "\x00" in key:
        raise InvalidInput("the Idempotency-Key header must be 1 to 200 characters without NUL")
    return key


def claim_ttl_ms(requested: int | None) -> int:
    return requested if requested is not None else int(settings.SWARM_CLAIM_TTL_S * 1000)


def _now_ms() -> int:
    from django.utils import timezone

    return epoch_ms(timezone.now())


@queue_router.post("/{session_id}/queue", response={200: BatchOut, **WRITE_ERRORS})
def enqueue(request: HttpRequest, session_id: SessionId, body: EnqueueIn) -> dict[str, Any]:
    """Queue a batch of work. Idempotent by `source_key` (default: the Idempotency-Key header): a repeat
    returns the originally stored batch, even after it was completed (then `outcome` says so). The inbox
    of an identity's session is written through `POST /identities/{identity}/send` or `/dispatch` only
    (their checks: registered, addressable, active, leased): 409 `owned_inbox` here."""
    identity_runtime().refuse_raw_enqueue(session_id)
    draft = QueuedWorkBatchDraft(
        session_id=session_id,
        payloads=tuple(p.payload() for p in body.payloads),
        source_key=body.source_key or idempotency_key(request),
        delivery_policy=body.delivery_policy,
        slot_policy=body.slot_policy,
        merge_key=merge_key(body.merge_key),
        available_at_ms=body.available_at_ms,
    )
    return batch_out(runtime_persistence().open(session_id).enqueue_queued_work(draft))


@queue_router.post("/{session_id}/queue/claim", response={200: ClaimOut, 204: None, **WRITE_ERRORS})
def claim(
    request: HttpRequest, session_id: SessionId, body: ClaimIn, fencing_token: FencingTokenHeader = None
) -> Any:
    """Claim the next ready group of batches for `agent_id` (which must be online; 404 otherwise), or
    exactly `batch_ids` if they are that group. 204 when there is nothing to claim. Keep the
    `lease_token`: it renews, abandons and completes the claim. With `Idempotency-Key`, a retry whose
    answer was lost gets the same claim back, never a second one."""
    key = idempotency_key(request)
    earlier = earlier_answer(request, "queue.claim", key)
    if earlier is not None:
        return earlier
    store = runtime_persistence().open(session_id)
    owner, ttl = str(body.agent_id), claim_ttl_ms(body.lease_ttl_ms)
    with owned_write(request, Owned.SESSION, session_id, "queue.claim", token=fencing_token):
        agent = lifecycle_store().get(body.agent_id)
        if agent.state != AgentState.ONLINE:
            raise NotFound(f"agent {body.agent_id} is {agent.state.value}; register it first",
                           agent_id=str(body.agent_id))
        if body.batch_ids is not None:
            found = store.claim_ready_queued_work_by_batch_ids(session_id, owner, body.boundary, ttl, body.batch_ids)
        else:
            found = store.claim_ready_queued_work(session_id, owner, body.boundary, ttl, body.max_batches)
        if found is None:
            return Status(204, None)
        answer = claim_out(found)
        remember(request, "queue.claim", key, answer)
    return answer


@queue_router.post("/{session_id}/queue/renew", response={200: ClaimOut, **WRITE_ERRORS})
def renew(
    request: HttpRequest, session_id: SessionId, body: RenewIn, fencing_token: FencingTokenHeader = None
) -> dict[str, Any]:
    """Extend the claim to now + `lease_ttl_ms`. 409 `queued_work_claim_expired` if it lost any batch."""
    store = runtime_persistence().open(session_id)
    with owned_write(request, Owned.SESSION, session_id, "queue.renew", token=fencing_token):
        renewed = store.renew_queued_work_claim(body.completion(session_id), claim_ttl_ms(body.lease_ttl_ms))
    return claim_out(renewed)


@queue_router.post("/{session_id}/queue/abandon", response={204: None, **WRITE_ERRORS})
def abandon(
    request: HttpRequest, session_id: SessionId, body: ClaimRefIn, fencing_token: FencingTokenHeader = None
) -> Status:
    """Give the batches back (claimable again, with a higher fencing token). A no-op if already gone."""
    with owned_write(request, Owned.SESSION, session_id, "queue.abandon", token=fencing_token):
        runtime_persistence().open(session_id).abandon_queued_work_claim(body.completion(session_id))
    return Status(204, None)


@queue_router.post("/{session_id}/queue/complete", response={200: CompletedOut, **WRITE_ERRORS})
def complete(request: HttpRequest, session_id: SessionId, body: CompleteIn) -> dict[str, Any]:
    """Finish claimed batches without a head commit (commit them with the session state through
    `/commit` instead when there is state to save). 409 `queued_work_claim_expired` unless the claim
    still holds every batch; 409 `stale_fencing_token` under a lost lease. All or nothing."""
    store = runtime_persistence().open(session_id)
    with owned_write(request, Owned.SESSION, session_id, "queue.complete", fence=body.fence()) as fence:
        done = store.complete_queued_work([body.completion(session_id)], fence=fence)
    return {"completed_batch_ids": [b.batch_id for b in done]}


@queue_router.post("/{session_id}/queue/claims", response={200: ClaimsOut, **WRITE_ERRORS},
                   summary="Claim several groups of batches at once")
def claim_many(
    request: HttpRequest, session_id: SessionId, body: ClaimManyIn, fencing_token: FencingTokenHeader = None
) -> Any:
    """Take up to `max_claims` claims for `agent_id` in one transaction: each is the group the single
    `/queue/claim` would take next (so an exclusive batch is a claim of its own), with its own `claim_id`
    and `lease_token` for renewing, abandoning or completing it. `claims` is empty when nothing is ready.
    On PostgreSQL concurrent claimers skip each other's rows (`SKIP LOCKED`): no batch is claimed twice.
    Fenced like `/queue/claim` (the `Fencing-Token` header in an identity's session), and with
    `Idempotency-Key` a retry whose answer was lost gets the same claims back."""
    key = idempotency_key(request)
    earlier = earlier_answer(request, "queue.claim_many", key)
    if earlier is not None:
        return earlier
    store = runtime_persistence().open(session_id)
    owner, ttl = str(body.agent_id), claim_ttl_ms(body.lease_ttl_ms)
    with owned_write(request, Owned.SESSION, session_id, "queue.claim_many", token=fencing_token):
        _require_online(body.agent_id)
        claims = store.claim_ready_queued_work_many(
            session_id, owner, body.boundary, ttl, body.max_batches, body.max_claims
        )
        answer = {"claims": [claim_out(c) for c in claims]}
        if claims:
            remember(request, "queue.claim_many", key, answer)
    return answer


@queue_router.post("/{session_id}/queue/completions", response={200: CompletionsOut, **WRITE_ERRORS},
                   summary="Complete several claims at once")
def complete_many(request: HttpRequest, session_id: SessionId, body: CompleteManyIn) -> dict[str, Any]:
    """Finish several claims in one transaction (as `/queue/complete` each, without a head commit). The
    fence is the caller's and is checked once: under a lost lease the whole call is refused with 409
    (`stale_fencing_token`, ...), nothing completed. Otherwise each claim gets its own outcome: `completed`,
    or `queued_work_claim_expired` when it no longer holds every batch it names (nothing of that claim is
    completed; the others are). 422 `invalid_input` for a claim named twice."""
    store = runtime_persistence().open(session_id)
    completions = [c.completion(session_id) for c in body.claims]
    with owned_write(request, Owned.SESSION, session_id, "queue.complete_many", fence=body.fence()) as fence:
        results = store.complete_queued_work_many(completions, fence=fence)
    return {
        "results": [{"claim_id": r.claim_id, "outcome": r.outcome,
                     "completed_batch_ids": [b.batch_id for b in r.batches]} for r in results],
        "completed_batch_ids": [b.batch_id for r in results if r.outcome == CompletionOutcome.COMPLETED
                                for b in r.batches],
    }


def _require_online(agent_id: Any) -> None:
    agent = lifecycle_store().get(agent_id)
    if agent.state != AgentState.ONLINE:
        raise NotFound(f"agent {agent_id} is {agent.state.value}; register it first", agent_id=str(agent_id))


def _queue_page(session_id: str, page: QueueFilter, *, pending: bool) -> dict[str, Any]:
    store = runtime_persistence().open(session_id)
    listing = store.list_pending_queued_work if pending else store.list_queued_work
    items = listing(session_id, offset=page.offset, limit=page.limit)
    try:
        summary = runtime_persistence().get_summary(session_id)
        total = summary.pending_count + (0 if pending else summary.claimed_count)
    except NotFound:
        total = 0
    return {"items": [batch_out(b) for b in items], "total": total, "offset": page.offset, "limit": page.limit}


@queue_router.get("/{session_id}/queue", response={200: PageOut[BatchOut], **COMMON_ERRORS})
def list_queue(request: HttpRequest, session_id: SessionId, page: Query[QueueFilter]) -> dict[str, Any]:
    """Every queued batch, claimed ones included (with owner and expiry), in enqueue order."""
    return _queue_page(session_id, page, pending=False)


@queue_router.get("/{session_id}/queue/pending", response={200: PageOut[BatchOut], **COMMON_ERRORS})
def list_pending(request: HttpRequest, session_id: SessionId, page: Query[QueueFilter]) -> dict[str, Any]:
    """Batches not held by a live claim (including not-yet-available ones), in enqueue order."""
    return _queue_page(session_id, page, pending=True)


# Registered after /queue/pending so that path is not read as a batch id.
@queue_router.delete("/{session_id}/queue/{batch_id}", response={200: BatchOut, **WRITE_ERRORS})
def cancel(
    request: HttpRequest, session_id: SessionId, batch_id: BatchId, fencing_token: FencingTokenHeader = None
) -> dict[str, Any]:
    """Remove a batch nobody holds (an expired claim counts as nobody) and return it. 409
    `queued_work_batch_held` while a live claim holds it; 404 if it is not queued. In an identity's
    session an agent needs the identity's fencing token; operators cancel anything (audited)."""
    store = runtime_persistence().open(session_id)
    with owned_write(request, Owned.SESSION, session_id, "queue.cancel", token=fencing_token):
        batch = store.cancel_queued_work_batch(session_id, batch_id)
    if batch is not None:
        return batch_out(batch)
    if any(b.batch_id == batch_id for b in store.list_queued_work(session_id)):
        raise QueuedWorkBatchHeld(f"batch {batch_id} is held by a live claim", session_id=session_id,
                                  batch_id=batch_id)
    raise NotFound(f"batch {batch_id} is not queued in session {session_id!r}", session_id=session_id,
                   batch_id=batch_id)


@queue_router.post("/{session_id}/attachments", response={204: None, **WRITE_ERRORS})
def record_intent(
    request: HttpRequest, session_id: SessionId, body: IntentIn, fencing_token: FencingTokenHeader = None
) -> Status:
    """Write ahead an attachment before uploading it; a repeated id keeps the first intent."""
    at_ms = body.intent_at_epoch_ms if body.intent_at_epoch_ms is not None else _now_ms()
    intent = AttachmentIntent(body.attachment_id, session_id, body.canonical_uri, at_ms)
    with owned_write(request, Owned.SESSION, session_id, "attachment.intent", token=fencing_token):
        runtime_persistence().open(session_id).record_intent(intent)
    return Status(204, None)


@queue_router.post("/{session_id}/attachments/commit", response={204: None, **WRITE_ERRORS})
def commit_refs(
    request: HttpRequest, session_id: SessionId, body: AttachmentIdsIn, fencing_token: FencingTokenHeader = None
) -> Status:
    """Mark attachments committed (the first commit time is kept); unknown ids are ignored."""
    with owned_write(request, Owned.SESSION, session_id, "attachment.commit", token=fencing_token):
        runtime_persistence().open(session_id).commit_refs(session_id, body.attachment_ids)
    return Status(204, None)


@queue_router.get("/{session_id}/attachments/uncommitted", response={200: list[AttachmentOut], **COMMON_ERRORS})
def list_uncommitted(
    request: HttpRequest, session_id: SessionId, older_than_epoch_ms: EpochMs | None = None
) -> list[Any]:
    """Intents never committed, recorded at or before `older_than_epoch_ms` (default now), oldest first:
    the orphans a cleaner may delete."""
    cutoff = older_than_epoch_ms if older_than_epoch_ms is not None else _now_ms()
    return [e.__dict__ for e in runtime_persistence().open(session_id).list_uncommitted(cutoff)]


@queue_router.delete("/{session_id}/attachments/{attachment_id}", response={204: None, **WRITE_ERRORS})
def forget(
    request: HttpRequest, session_id: SessionId, attachment_id: AttachmentId, fencing_token: FencingTokenHeader = None
) -> Status:
    """Drop an attachment intent (a missing one is fine)."""
    with owned_write(request, Owned.SESSION, session_id, "attachment.forget", token=fencing_token):
        runtime_persistence().open(session_id).forget(attachment_id)
    return Status(204, None)
