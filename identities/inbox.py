"""The bridge to an identity's session inbox: RuntimePersistence queued work (SPEC 4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from stores.contracts import RuntimePersistenceFactory
from stores.persistence import epoch_ms
from stores.queue_types import QueuedWorkBatchDraft, QueuedWorkPayload


class PersistenceInbox:
    """Delivers a turn_input batch into the session's durable inbox; the source key makes it idempotent."""

    def __init__(self, factory: RuntimePersistenceFactory, *, durable: bool = True) -> None:
        self._factory = factory
        self.durable = durable

    def deliver(
        self, session_id: UUID, identity: str, payload: Mapping[str, Any], source_key: str, now: datetime
    ) -> tuple[str, bool]:
        store = self._factory.open(str(session_id))
        before_ms = epoch_ms(now)
        batch = store.enqueue_queued_work(
            QueuedWorkBatchDraft(
                session_id=str(session_id), payloads=[QueuedWorkPayload.turn_input(dict(payload))],
                source_key=source_key,
            )
        )
        # A repeated source key answers with the batch stored earlier: not a new delivery.
        return batch.batch_id, batch.enqueued_at_ms >= before_ms

    def release_claims(self, session_id: UUID, why: str) -> int:
        return self._factory.open(str(session_id)).release_claims(why)

    def counts(self, session_id: UUID) -> tuple[int, int]:
        store = self._factory.open(str(session_id))
        every = len(store.list_queued_work(str(session_id)))
        waiting = len(store.list_pending_queued_work(str(session_id)))
        return waiting, every - waiting

    def cancel_pending(self, session_id: UUID, why: str) -> list[str]:
        store = self._factory.open(str(session_id))
        cancelled = []
        for batch in store.list_pending_queued_work(str(session_id)):
            if store.cancel_queued_work_batch(str(session_id), batch.batch_id) is not None:
                cancelled.append(batch.batch_id)
        return cancelled
