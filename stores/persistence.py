"""Rules shared by every RuntimePersistence backend: hashing, manifests, the ledger, the active path,
claim grouping and event snapshots. Backends keep only storage and locking."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from stores.contracts import FenceGuard
from stores.errors import InvalidInput, Serialization, SessionBindingMismatch, UnsupportedRecordSchemaVersion
from stores.fencing import check_fence
from stores.persistence_types import (
    Append,
    BlobRef,
    HydratedSessionCheckpoint,
    ReplaceFull,
    RuntimeCommitResult,
    SessionCheckpoint,
    SessionNodeRecord,
    TokenLedgerEntry,
    TokenUsage,
    canonical_json,
)
from stores.queue_types import (
    DeliveryPolicy,
    QueuedWorkBatch,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
    QueuedWorkItem,
    QueuedWorkPayload,
    SlotPolicy,
)
from stores.types import Fence

MANIFEST_SCHEMA_VERSION = 1


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def blob_ref(data: bytes) -> BlobRef:
    return hashlib.sha256(data).hexdigest()


# --- checkpoints -------------------------------------------------------------------------------


def checkpoint_blobs(checkpoint: HydratedSessionCheckpoint) -> tuple[SessionCheckpoint, dict[BlobRef, bytes]]:
    """Split a hydrated checkpoint into its manifest and the content-addressed blobs it names."""
    blobs: dict[BlobRef, bytes] = {}

    def put(data: bytes | None) -> BlobRef | None:
        if data is None:
            return None
        ref = blob_ref(data)
        blobs[ref] = data
        return ref

    manifest = SessionCheckpoint(
        turn_state=checkpoint.turn_state,
        tool_state_ref=put(checkpoint.tool_state),
        plugin_snapshot_ref=put(checkpoint.plugin_snapshot),
        plugin_snapshot_revision=checkpoint.plugin_snapshot_revision,
        execution_state_ref=put(checkpoint.execution_state),
    )
    return manifest, blobs


def encode_manifest(manifest: SessionCheckpoint) -> bytes:
    return canonical_json(
        {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "turn_state": manifest.turn_state,
            "tool_state_ref": manifest.tool_state_ref,
            "plugin_snapshot_ref": manifest.plugin_snapshot_ref,
            "plugin_snapshot_revision": manifest.plugin_snapshot_revision,
            "execution_state_ref": manifest.execution_state_ref,
        }
    )


def decode_manifest(data: bytes) -> SessionCheckpoint:
    """Serialization if unreadable; UnsupportedRecordSchemaVersion if written by another schema."""
    try:
        raw = json.loads(data)
        version = raw["schema_version"]
    except (ValueError, TypeError, KeyError) as exc:
        raise Serialization(f"checkpoint manifest is not readable: {exc}") from exc
    if version != MANIFEST_SCHEMA_VERSION:
        raise UnsupportedRecordSchemaVersion(
            f"checkpoint manifest schema {version} is not supported",
            record_kind="checkpoint_manifest",
            actual=version,
            expected=MANIFEST_SCHEMA_VERSION,
        )
    return SessionCheckpoint(
        turn_state=raw.get("turn_state"),
        tool_state_ref=raw.get("tool_state_ref"),
        plugin_snapshot_ref=raw.get("plugin_snapshot_ref"),
        plugin_snapshot_revision=raw.get("plugin_snapshot_revision"),
        execution_state_ref=raw.get("execution_state_ref"),
    )


def hydrate(manifest: SessionCheckpoint, blobs: Mapping[BlobRef, bytes]) -> HydratedSessionCheckpoint:
    def get(ref: BlobRef | None) -> bytes | None:
        if ref is None:
            return None
        if ref not in blobs:
            raise Serialization(f"checkpoint blob {ref} is missing", blob_ref=ref)
        return blobs[ref]

    return HydratedSessionCheckpoint(
        turn_state=manifest.turn_state,
        tool_state=get(manifest.tool_state_ref),
        plugin_snapshot=get(manifest.plugin_snapshot_ref),
        plugin_snapshot_revision=manifest.plugin_snapshot_revision,
        execution_state=get(manifest.execution_state_ref),
    )


def result_json(result: RuntimeCommitResult) -> dict[str, Any]:
    """How a turn commit's result is kept, so a retry gets exactly the earlier answer."""
    return {"head_revision": result.head_revision, "checkpoint_ref": result.checkpoint_ref,
            "manifest": json.loads(encode_manifest(result.manifest))}


def result_from_json(raw: Mapping[str, Any]) -> RuntimeCommitResult:
    manifest = decode_manifest(canonical_json(raw["manifest"]))
    return RuntimeCommitResult(raw["head_revision"], raw["checkpoint_ref"], manifest)


# --- token ledger ------------------------------------------------------------------------------


def ledger_from_json(raw: Iterable[Mapping[str, Any]]) -> list[TokenLedgerEntry]:
    return [
        TokenLedgerEntry(r["source"], r["model"], TokenUsage(r["input_tokens"], r["output_tokens"],
                                                             r["cached_input_tokens"], r["reasoning_tokens"]))
        for r in raw
    ]


def merge_ledger(ledger: Sequence[TokenLedgerEntry], deltas: Sequence[TokenLedgerEntry]) -> list[TokenLedgerEntry]:
    """Sum the counters per (source, model), in first-seen order."""
    merged: dict[tuple[str, str], TokenUsage] = {}
    for entry in (*ledger, *deltas):
        key = (entry.source, entry.model)
        merged[key] = merged.get(key, TokenUsage()) + entry.usage
    return [TokenLedgerEntry(s, m, u) for (s, m), u in merged.items()]


def visible_ledger(ledger: Sequence[TokenLedgerEntry]) -> list[TokenLedgerEntry]:
    return [e for e in ledger if not e.usage.is_zero]


# --- graph -------------------------------------------------------------------------------------


def active_path(nodes: Sequence[SessionNodeRecord], leaf_node_id: str | None) -> list[SessionNodeRecord]:
    """The ancestor chain of the leaf among live nodes, root first; [] when the leaf is not live."""
    by_id = {n.node_id: n for n in nodes}
    chain: list[SessionNodeRecord] = []
    seen: set[str] = set()
    current = by_id.get(leaf_node_id) if leaf_node_id is not None else None
    while current is not None and current.node_id not in seen:  # `seen` guards a corrupt cycle
        seen.add(current.node_id)
        chain.append(current)
        current = by_id.get(current.parent_node_id) if current.parent_node_id is not None else None
    chain.reverse()
    return chain


def node_ids_of(delta: Append | ReplaceFull) -> list[str]:
    nodes = delta.nodes if isinstance(delta, Append) else delta.graph.nodes
    return [n.node_id for n in nodes]


def duplicate_ids(ids: Sequence[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


# --- queued work -------------------------------------------------------------------------------


def new_batch_id(session_id: str, source_key: str | None, now_ms: int) -> str:
    nonce = secrets.token_hex(8)
    return "qwb:" + hashlib.sha256(f"{session_id}:{source_key or ''}:{now_ms}:{nonce}".encode()).hexdigest()[:40]


def items_for(batch_id: str, payloads: Sequence[QueuedWorkPayload]) -> list[QueuedWorkItem]:
    return [QueuedWorkItem(f"{batch_id}:item:{i}", p) for i, p in enumerate(payloads)]


def claim_id_for(head_enqueue_seq: int, fencing_token: int) -> str:
    return f"qwc:{head_enqueue_seq}:{fencing_token}"


def fencing_of(claim_id: str) -> int:
    return int(claim_id.rsplit(":", 1)[1])


def new_lease_token(session_id: str, owner_id: str, claim_id: str, now_ms: int) -> str:
    """Opaque and unguessable: whoever shows it may complete the claim."""
    nonce = secrets.token_hex(16)
    return hashlib.sha256(f"{session_id}:{owner_id}:{claim_id}:{now_ms}:{nonce}".encode()).hexdigest()


def claim_group(
    candidates: Sequence[QueuedWorkBatch], boundary: QueuedWorkClaimBoundary, max_batches: int
) -> list[QueuedWorkBatch]:
    """The batches one claim takes from the ready, unheld batches of a session in enqueue order.

    The head gates the claim (a checkpoint claim takes only earliest-safe-boundary work); an exclusive
    head goes alone; a join head takes the immediately following join batches with the same delivery
    policy and merge key, up to max_batches. Later candidates are never searched for a better fit."""
    if max_batches <= 0 or not candidates:
        return []
    head = candidates[0]
    if (
        boundary == QueuedWorkClaimBoundary.ACTIVE_TURN_CHECKPOINT
        and head.delivery_policy != DeliveryPolicy.EARLIEST_SAFE_BOUNDARY
    ):
        return []
    group = [head]
    if head.slot_policy == SlotPolicy.JOIN:
        for batch in candidates[1:]:
            if len(group) >= max_batches:
                break
            if (
                batch.slot_policy != SlotPolicy.JOIN
                or batch.delivery_policy != head.delivery_policy
                or batch.merge_key != head.merge_key
            ):
                break
            group.append(batch)
    return group


def claim_groups(
    candidates: Sequence[QueuedWorkBatch], boundary: QueuedWorkClaimBoundary, max_batches: int, max_claims: int
) -> list[list[QueuedWorkBatch]]:
    """The groups up to max_claims claims take one after another: each is the claim_group of what the
    ones before it left, so a batch claim takes exactly what as many single claims in a row would."""
    groups: list[list[QueuedWorkBatch]] = []
    rest = list(candidates)
    while rest and len(groups) < max_claims:
        group = claim_group(rest, boundary, max_batches)
        if not group:
            break
        groups.append(group)
        rest = rest[len(group) :]
    return groups


def distinct_claims(completions: Sequence[QueuedWorkCompletion]) -> None:
    """A batch completion names each claim once (twice would complete one claim two ways)."""
    ids = [c.claim_id for c in completions]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInput(f"claims named more than once: {', '.join(twice)}", duplicate_claim_ids=twice)


def batch_payload(batch: QueuedWorkBatch) -> dict[str, Any]:
    """The event snapshot of a batch: everything but the item bodies (which may be large)."""
    return {
        "session_id": batch.session_id,
        "batch_id": batch.batch_id,
        "enqueue_seq": batch.enqueue_seq,
        "source_key": batch.source_key,
        "delivery_policy": batch.delivery_policy.value,
        "slot_policy": batch.slot_policy.value,
        "merge_key": batch.merge_key.encode(),
        "available_at_ms": batch.available_at_ms,
        "enqueued_at_ms": batch.enqueued_at_ms,
        "item_count": len(batch.items),
        "item_kinds": sorted({i.payload.kind.value for i in batch.items}),
    }


def claim_payload(claim: QueuedWorkClaim) -> dict[str, Any]:
    """The event snapshot of a claim. Never the lease token: events reach every dashboard."""
    return {
        "session_id": claim.session_id,
        "claim_id": claim.claim_id,
        "owner_id": claim.owner_id,
        "fencing_token": claim.fencing_token,
        "claimed_at_ms": claim.claimed_at_epoch_ms,
        "expires_at_ms": claim.expires_at_epoch_ms,
        "batch_ids": claim.batch_ids,
        # How long the oldest batch of the claim waited once it could be claimed (the claim-wait chart).
        "waited_ms": min(
            (claim.claimed_at_epoch_ms - max(b.enqueued_at_ms, b.available_at_ms or 0) for b in claim.batches),
            default=0,
        ),
    }


def released_payload(
    session_id: str, claim_id: str, owner_id: str, batch_ids: Sequence[str], why: str
) -> dict[str, Any]:
    return {"session_id": session_id, "claim_id": claim_id, "owner_id": owner_id, "batch_ids": list(batch_ids),
            "reason": why}


def head_payload(session_id: str, result: RuntimeCommitResult, leaf_node_id: str | None, node_count: int,
                 completed_batch_ids: Sequence[str]) -> dict[str, Any]:
    return {"session_id": session_id, "head_revision": result.head_revision, "checkpoint_ref": result.checkpoint_ref,
            "leaf_node_id": leaf_node_id, "graph_node_count": node_count,
            "completed_batch_ids": list(completed_batch_ids)}


class SessionBound:
    """What every RuntimePersistence backend shares: it is bound to one session and fences its writes."""

    _session_id: str
    _fence_guard: FenceGuard | None

    @property
    def session_id(self) -> str:
        return self._session_id

    def _check_binding(self, session_id: str) -> None:
        if session_id != self._session_id:
            raise SessionBindingMismatch(
                f"this store is bound to session {self._session_id!r}, not {session_id!r}",
                bound_session_id=self._session_id,
                attempted_session_id=session_id,
            )

    def _check_fence(self, fence: Fence | None, operation: str) -> None:
        """Runs inside the write's transaction, so a newer grant cannot slip between check and write."""
        check_fence(self._fence_guard, fence, operation)
