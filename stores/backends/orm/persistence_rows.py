"""Row <-> value conversions for OrmRuntimePersistence, and the 'held by a live claim' filter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from stores.models.persistence import QueuedWorkBatchRecord, SessionNode
from stores.persistence import items_for
from stores.persistence_types import SessionMeta, SessionNodeRecord, SessionRelation
from stores.queue_types import (
    BatchClaimState,
    BatchOutcome,
    DeliveryPolicy,
    MergeKey,
    QueuedWorkBatch,
    QueuedWorkPayload,
    SlotPolicy,
)


def held(now_ms: int, prefix: str = "") -> Q:
    """Rows held by a live claim; an expired claim counts as unclaimed."""
    return Q(**{f"{prefix}claim_lease_token__isnull": False, f"{prefix}claim_expires_at_ms__gt": now_ms})


def unheld(now_ms: int) -> Q:
    """Rows free to claim or cancel: never claimed, released, or their claim expired."""
    return Q(claim_lease_token__isnull=True) | Q(claim_expires_at_ms__lte=now_ms)


def to_node(row: SessionNode) -> SessionNodeRecord:
    return SessionNodeRecord(
        node_id=row.node_id,
        parent_node_id=row.parent_node_id,
        caused_by=row.caused_by,
        agent_frame_id=row.agent_frame_id,
        timestamp=row.timestamp,
        payload=row.payload,
    )


def node_row(session_id: str, node: SessionNodeRecord) -> SessionNode:
    return SessionNode(
        session_id=session_id,
        node_id=node.node_id,
        parent_node_id=node.parent_node_id,
        caused_by=node.caused_by,
        agent_frame_id=node.agent_frame_id,
        timestamp=node.timestamp,
        payload=dict(node.payload),
    )


def to_batch(row: QueuedWorkBatchRecord) -> QueuedWorkBatch:
    claim = None
    if row.claim_id is not None and row.claim_lease_token is not None:
        claim = BatchClaimState(
            row.claim_id, row.claim_owner or "", row.claimed_at_ms or 0, row.claim_expires_at_ms or 0
        )
    return QueuedWorkBatch(
        batch_id=row.batch_id,
        session_id=row.session_id,
        enqueue_seq=row.enqueue_seq,
        source_key=row.source_key,
        delivery_policy=DeliveryPolicy(row.delivery_policy),
        slot_policy=SlotPolicy(row.slot_policy),
        merge_key=MergeKey.decode(row.merge_key),
        available_at_ms=row.available_at_ms,
        enqueued_at_ms=row.enqueued_at_ms,
        items=tuple(items_for(row.batch_id, [QueuedWorkPayload.from_json(p) for p in row.payloads])),
        claim=claim,
        claim_fencing_token=row.claim_fencing_token,
        outcome=BatchOutcome(row.outcome) if row.outcome else None,
    )


CLEARED_CLAIM: dict[str, Any] = {
    "claim_id": None,
    "claim_owner": None,
    "claim_lease_token": None,
    "claimed_at_ms": None,
    "claim_expires_at_ms": None,
}


def meta_json(meta: SessionMeta) -> dict[str, Any]:
    return {
        "session_id": meta.session_id,
        "session_name": meta.session_name,
        "created_at": meta.created_at,
        "model": meta.model,
        "cwd": meta.cwd,
        "relation": {"parent_session_id": meta.relation.parent_session_id, "caused_by": meta.relation.caused_by},
    }


def meta_from_json(raw: Mapping[str, Any]) -> SessionMeta:
    relation = raw.get("relation") or {}
    return SessionMeta(
        session_id=raw["session_id"],
        session_name=raw["session_name"],
        created_at=raw["created_at"],
        model=raw["model"],
        cwd=raw.get("cwd"),
        relation=SessionRelation(relation.get("parent_session_id"), relation.get("caused_by")),
    )
