"""InMemoryContinuityStore: continuity records and snapshots for tests and embedding."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from identities.backends import continuity_rules as rules
from identities.types import Checkpoint, ContinuityRecord, ContinuityResolveState
from stores.clock import Clock, system_clock
from stores.types import Page


class InMemoryContinuityStore:
    def __init__(self, *, clock: Clock = system_clock, keep: int = 20) -> None:
        self._clock = clock
        self._keep = keep
        self._records: dict[str, tuple[ContinuityRecord, int]] = {}
        self._snapshots: list[Checkpoint] = []  # in save order
        self._checkpointed_at: dict[str, datetime] = {}
        self._lock = threading.RLock()

    def _has_snapshot(self, record: ContinuityRecord) -> bool:
        return any(
            c.identity == record.identity and c.session_id == record.session_id
            and c.generation == record.generation and c.version == record.checkpoint_version
            for c in self._snapshots
        )

    def resolve_many(self, identities: Sequence[str]) -> dict[str, ContinuityResolveState]:
        with self._lock:
            out = {}
            for identity in identities:
                record = self._records.get(identity, (None, 0))[0]
                has = record is not None and self._has_snapshot(record)
                out[identity] = rules.resolve(identity, record, has, self._checkpointed_at.get(identity))
            return out

    def upsert_continuity_record(self, record: ContinuityRecord, token: int) -> None:
        with self._lock:
            old, stored = self._records.get(record.identity, (None, 0))
            version = rules.check_upsert(record, token, old, stored)
            self._records[record.identity] = (replace(record, checkpoint_version=version), max(token, stored))

    def save_session_snapshot(
        self, identity: str, session_id: UUID, generation: int, version: int, token: int, snapshot: bytes
    ) -> Checkpoint:
        now = self._clock.now()
        with self._lock:
            record, stored = self._records.get(identity, (None, 0))
            rules.check_save(identity, session_id, generation, version, token, record, stored)
            checkpoint = Checkpoint(
                identity=identity, session_id=session_id, generation=generation, version=version,
                fencing_token=token, size=len(snapshot), created_at=now, data=bytes(snapshot),
            )
            self._snapshots = [
                c for c in self._snapshots
                if not (c.identity == identity and c.generation == generation and c.version == version)
            ]
            self._snapshots.append(checkpoint)
            if record is not None:
                self._records[identity] = (replace(record, checkpoint_version=version), max(token, stored))
                self._checkpointed_at[identity] = now
                self._prune(identity, generation, version)
            return replace(checkpoint, data=None)

    def _prune(self, identity: str, generation: int, version: int) -> None:
        self._snapshots = [
            c for c in self._snapshots
            if not (c.identity == identity and c.generation == generation and c.version <= version - self._keep)
        ]

    def load_session_snapshot(self, session_id: UUID) -> bytes | None:
        with self._lock:
            matching = [c for c in self._snapshots if c.session_id == session_id]
            return max(matching, key=lambda c: c.version).data if matching else None

    def latest_checkpoint(self, identity: str) -> Checkpoint | None:
        with self._lock:
            record = self._records.get(identity, (None, 0))[0]
            if record is None:
                return None
            matching = [
                c for c in self._snapshots
                if c.identity == identity and c.session_id == record.session_id and c.generation == record.generation
                and not c.archived
            ]
            return max(matching, key=lambda c: c.version) if matching else None

    def list_checkpoints(self, identity: str, *, offset: int = 0, limit: int = 50) -> Page[Checkpoint]:
        with self._lock:
            mine = sorted(
                (replace(c, data=None) for c in self._snapshots if c.identity == identity),
                key=lambda c: (c.generation, c.version), reverse=True,
            )
        return Page(items=mine[offset : offset + limit], total=len(mine), offset=offset, limit=limit)

    def archive_generations_before(self, identity: str, generation: int) -> int:
        with self._lock:
            count = 0
            for i, c in enumerate(self._snapshots):
                if c.identity == identity and c.generation < generation and not c.archived:
                    self._snapshots[i] = replace(c, archived=True)
                    count += 1
            return count

    def delete_continuity_record(self, identity: str, token: int) -> None:
        with self._lock:
            if identity in self._records:
                rules.check_token(identity, token, self._records[identity][1], "continuity delete")
            self._snapshots = [c for c in self._snapshots if c.identity != identity]
            self._records.pop(identity, None)
            self._checkpointed_at.pop(identity, None)

    def max_fencing_token(self) -> int:
        with self._lock:
            return max((token for _, token in self._records.values()), default=0)
