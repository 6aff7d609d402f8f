"""Sessions (/sessions): atomic state commits, reads, and the durable inbox (queued work)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swarmclient.core import Call, R, Sender, fenced, fields, with_key

ClaimRef = Mapping[str, Any]


def turn_input(value: Any) -> dict[str, Any]:
    """A queued-work payload carrying a turn's input (what `send`/`dispatch` deliver)."""
    return {"type": "turn_input", "input": value}


def claim_ref(claim: ClaimRef) -> dict[str, Any]:
    """The proof of a claim (claim_id, lease_token, batch_ids) from a claim answer."""
    batch_ids = claim.get("batch_ids") or [b["batch_id"] for b in claim["batches"]]
    return {"claim_id": claim["claim_id"], "lease_token": claim["lease_token"], "batch_ids": list(batch_ids)}


class SessionEndpoints(Sender[R]):
    # -- state -----------------------------------------------------------------------------------
    def commit_session(
        self, session_id: str, *, expected_head_revision: int | None = None, config: Mapping[str, str] | None = None,
        agent_frames: Iterable[Mapping[str, Any]] | None = None, current_agent_frame_id: str | None = None,
        graph: Mapping[str, Any] | None = None, checkpoint: Mapping[str, Any] | None = None,
        usage_deltas: Iterable[Mapping[str, Any]] | None = None, turn_id: str | None = None,
        completed_queue_claims: Iterable[ClaimRef] = (), committed_attachment_ids: Iterable[str] | None = None,
        identity: str | None = None, fencing_token: int | None = None, idempotency_key: str | None = None,
    ) -> R:
        """Commit the session state atomically (head CAS on `expected_head_revision`, fencing, claims
        completed with it). Retried under one Idempotency-Key (the turn id when none is given), so a
        retry returns the stored result instead of committing twice."""
        body = fields(
            expected_head_revision=expected_head_revision, config=dict(config) if config else None,
            agent_frames=[dict(f) for f in agent_frames] if agent_frames is not None else None,
            current_agent_frame_id=current_agent_frame_id, graph=dict(graph) if graph else None,
            checkpoint=dict(checkpoint) if checkpoint else None,
            usage_deltas=[dict(u) for u in usage_deltas] if usage_deltas is not None else None, turn_id=turn_id,
            completed_queue_claims=[claim_ref(c) for c in completed_queue_claims],
            committed_attachment_ids=list(committed_attachment_ids) if committed_attachment_ids is not None else None,
            identity=identity, fencing_token=fencing_token,
        )
        call = Call("POST", f"/sessions/{session_id}/commit", json=body, idempotent=True,
                    headers=with_key(None, idempotency_key))
        return self._send(call)

    def load_session(self, session_id: str, *, scope: str = "full", leaf_node_id: str | None = None) -> R:
        """The head with its checkpoint and graph (`full` or `active_path`). NotFound before a commit."""
        params = {"scope": scope, "leaf_node_id": leaf_node_id}
        return self._send(Call("GET", f"/sessions/{session_id}", params=params, idempotent=True))

    def list_sessions(self, *, offset: int = 0, limit: int = 50) -> R:
        return self._send(Call("GET", "/sessions", params={"offset": offset, "limit": limit}, idempotent=True))

    def load_node(self, session_id: str, node_id: str) -> R:
        return self._send(Call("GET", f"/sessions/{session_id}/nodes/{node_id}", idempotent=True))

    def tombstone_nodes(self, session_id: str, node_ids: Iterable[str], *, fencing_token: int | None = None) -> R:
        body = {"node_ids": list(node_ids)}
        return self._send(Call("POST", f"/sessions/{session_id}/tombstone", json=body, idempotent=True,
                               headers=fenced(None, fencing_token)))

    def session_meta(self, session_id: str) -> R:
        return self._send(Call("GET", f"/sessions/{session_id}/meta", idempotent=True))

    def save_session_meta(self, session_id: str, meta: Mapping[str, Any], *, fencing_token: int | None = None) -> R:
        return self._send(Call("PUT", f"/sessions/{session_id}/meta", json=dict(meta), idempotent=True,
                               headers=fenced(None, fencing_token)))

    def vacuum_session(self, session_id: str, *, dry_run: bool = False) -> R:
        """Admin: delete tombstoned nodes for good (`dry_run` only reports)."""
        return self._send(Call("POST", f"/sessions/{session_id}/vacuum", params={"dry_run": dry_run}, idempotent=True))

    def gc_session(self, session_id: str, *, dry_run: bool = False) -> R:
        """Admin: delete checkpoint blobs the head no longer reaches."""
        return self._send(Call("POST", f"/sessions/{session_id}/gc", params={"dry_run": dry_run}, idempotent=True))

    # -- the inbox (queued work) -----------------------------------------------------------------
    def enqueue(
        self, session_id: str, payloads: Iterable[Mapping[str, Any]], *, source_key: str | None = None,
        delivery_policy: str | None = None, slot_policy: str | None = None, merge_key: str | None = None,
        available_at_ms: int | None = None, idempotency_key: str | None = None,
    ) -> R:
        """Queue a batch (payloads from `turn_input(...)`); a repeated source key or Idempotency-Key
        returns the original batch, so it is retried safely."""
        body = fields(payloads=[dict(p) for p in payloads], source_key=source_key, delivery_policy=delivery_policy,
                      slot_policy=slot_policy, merge_key=merge_key, available_at_ms=available_at_ms)
        call = Call("POST", f"/sessions/{session_id}/queue", json=body, idempotent=True,
                    headers=with_key(None, idempotency_key))
        return self._send(call)

    def claim(
        self, session_id: str, *, max_batches: int | None = None, boundary: str | None = None,
        lease_ttl_ms: int | None = None, batch_ids: Iterable[str] | None = None, fencing_token: int | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """Claim the next ready work for this agent: the claim (keep it: it renews, abandons and
        completes), or None when there is nothing. Retried under one Idempotency-Key, so a retry whose
        answer was lost gets the same claim back, never a second one."""
        body = fields(agent_id=str(self.agent_id), max_batches=max_batches, boundary=boundary,
                      lease_ttl_ms=lease_ttl_ms, batch_ids=list(batch_ids) if batch_ids is not None else None)
        headers = fenced(with_key(None, idempotency_key), fencing_token)
        return self._send(Call("POST", f"/sessions/{session_id}/queue/claim", json=body, idempotent=True,
                               headers=headers))

    def claim_many(
        self, session_id: str, *, max_claims: int | None = None, max_batches: int | None = None,
        boundary: str | None = None, lease_ttl_ms: int | None = None, fencing_token: int | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """Take up to `max_claims` claims for this agent in one call: a list of claims (each renews,
        abandons and completes on its own), empty when nothing is ready. Retried under one
        Idempotency-Key, so a retry whose answer was lost gets the same claims back."""
        body = fields(agent_id=str(self.agent_id), max_claims=max_claims, max_batches=max_batches,
                      boundary=boundary, lease_ttl_ms=lease_ttl_ms)
        headers = fenced(with_key(None, idempotency_key), fencing_token)
        return self._send(Call("POST", f"/sessions/{session_id}/queue/claims", json=body, idempotent=True,
                               headers=headers, parse=lambda answer: answer["claims"]))

    def renew_claim(
        self, session_id: str, claim: ClaimRef, *, lease_ttl_ms: int | None = None, fencing_token: int | None = None
    ) -> R:
        """Extend the claim. QueuedWorkClaimExpired if it lost any batch."""
        body = fields(**claim_ref(claim), lease_ttl_ms=lease_ttl_ms)
        return self._send(Call("POST", f"/sessions/{session_id}/queue/renew", json=body, idempotent=True,
                               headers=fenced(None, fencing_token)))

    def abandon_claim(self, session_id: str, claim: ClaimRef, *, fencing_token: int | None = None) -> R:
        """Give the batches back for another agent (a no-op if already gone)."""
        return self._send(Call("POST", f"/sessions/{session_id}/queue/abandon", json=claim_ref(claim), idempotent=True,
                               headers=fenced(None, fencing_token)))

    def complete_claim(
        self, session_id: str, claim: ClaimRef, *, identity: str | None = None, fencing_token: int | None = None
    ) -> R:
        """Finish the claimed batches (fenced under a lease with `**lease.fence`). All or nothing;
        QueuedWorkClaimExpired if the claim lost a batch. Sent once."""
        body = fields(**claim_ref(claim), identity=identity, fencing_token=fencing_token)
        return self._send(Call("POST", f"/sessions/{session_id}/queue/complete", json=body))

    def complete_claims(
        self, session_id: str, claims: Iterable[ClaimRef], *, identity: str | None = None,
        fencing_token: int | None = None,
    ) -> R:
        """Finish several claims in one call: `{"results": [{"claim_id", "outcome": "completed" |
        "queued_work_claim_expired", "completed_batch_ids"}], "completed_batch_ids"}`. A lost lease
        refuses the whole call (StaleFencingToken, ...). Sent once."""
        body = fields(claims=[claim_ref(c) for c in claims], identity=identity, fencing_token=fencing_token)
        return self._send(Call("POST", f"/sessions/{session_id}/queue/completions", json=body))

    def cancel_batch(self, session_id: str, batch_id: str, *, fencing_token: int | None = None) -> R:
        """Remove a batch nobody holds; QueuedWorkBatchHeld while a live claim holds it."""
        return self._send(Call("DELETE", f"/sessions/{session_id}/queue/{batch_id}",
                               headers=fenced(None, fencing_token)))

    def list_queue(self, session_id: str, *, pending_only: bool = False, offset: int = 0, limit: int = 100) -> R:
        path = f"/sessions/{session_id}/queue" + ("/pending" if pending_only else "")
        return self._send(Call("GET", path, params={"offset": offset, "limit": limit}, idempotent=True))

    # -- attachments -----------------------------------------------------------------------------
    def record_attachment_intent(
        self, session_id: str, attachment_id: str, canonical_uri: str, *, intent_at_epoch_ms: int | None = None,
        fencing_token: int | None = None,
    ) -> R:
        body = fields(attachment_id=attachment_id, canonical_uri=canonical_uri, intent_at_epoch_ms=intent_at_epoch_ms)
        return self._send(Call("POST", f"/sessions/{session_id}/attachments", json=body, idempotent=True,
                               headers=fenced(None, fencing_token)))

    def commit_attachments(
        self, session_id: str, attachment_ids: Iterable[str], *, fencing_token: int | None = None
    ) -> R:
        body = {"attachment_ids": list(attachment_ids)}
        return self._send(Call("POST", f"/sessions/{session_id}/attachments/commit", json=body, idempotent=True,
                               headers=fenced(None, fencing_token)))

    def uncommitted_attachments(self, session_id: str, *, older_than_epoch_ms: int | None = None) -> R:
        params = {"older_than_epoch_ms": older_than_epoch_ms}
        return self._send(Call("GET", f"/sessions/{session_id}/attachments/uncommitted", params=params,
                               idempotent=True))

    def forget_attachment(self, session_id: str, attachment_id: str, *, fencing_token: int | None = None) -> R:
        return self._send(Call("DELETE", f"/sessions/{session_id}/attachments/{attachment_id}", idempotent=True,
                               headers=fenced(None, fencing_token)))
