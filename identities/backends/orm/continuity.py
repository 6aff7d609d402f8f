"""OrmContinuityStore: continuity records and snapshots on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from django.db.models import Exists, Max, OuterRef

from identities.backends import continuity_rules as rules
from identities.models import CheckpointRow, ContinuityRow
from identities.types import Checkpoint, ContinuityRecord, ContinuityResolveState
from stores.backends.orm.base import step, translate_db_errors
from stores.clock import Clock, system_clock
from stores.types import Page

META_FIELDS = ["identity", "session_id", "generation", "version", "fencing_token", "size", "created_at", "archived"]


def to_record(row: ContinuityRow) -> ContinuityRecord:
    return ContinuityRecord(
        identity=row.identity, agent_runtime_id=row.agent_runtime_id, session_id=row.session_id,
        generation=row.generation, checkpoint_version=row.checkpoint_version,
    )


def to_checkpoint(row: CheckpointRow, *, with_data: bool) -> Checkpoint:
    return Checkpoint(
        identity=row.identity, session_id=row.session_id, generation=row.generation, version=row.version,
        fencing_token=row.fencing_token, size=row.size, created_at=row.created_at, archived=row.archived,
        data=bytes(row.data) if with_data else None,
    )


class OrmContinuityStore:
    def __init__(self, *, clock: Clock = system_clock, keep: int = 20) -> None:
        self._clock = clock
        self._keep = keep

    @translate_db_errors
    def resolve_many(self, identities: Sequence[str]) -> dict[str, ContinuityResolveState]:
        # One query: each record with whether the snapshot it names exists.
        snapshot = CheckpointRow.objects.filter(
            identity=OuterRef("identity"), session_id=OuterRef("session_id"), generation=OuterRef("generation"),
            version=OuterRef("checkpoint_version"),
        )
        rows = {
            r.identity: r
            for r in ContinuityRow.objects.filter(identity__in=list(identities)).annotate(has_snapshot=Exists(snapshot))
        }
        out = {}
        for identity in identities:
            row = rows.get(identity)
            if row is None:
                out[identity] = rules.resolve(identity, None, False)
            else:
                out[identity] = rules.resolve(identity, to_record(row), row.has_snapshot, row.checkpointed_at)
        return out

    @translate_db_errors
    def upsert_continuity_record(self, record: ContinuityRecord, token: int) -> None:
        now = self._clock.now()
        with step():
            row = ContinuityRow.objects.select_for_update().filter(identity=record.identity).first()
            old = to_record(row) if row is not None else None
            version = rules.check_upsert(record, token, old, row.fencing_token if row is not None else 0)
            ContinuityRow.objects.update_or_create(
                identity=record.identity,
                defaults={
                    "agent_runtime_id": record.agent_runtime_id, "session_id": record.session_id,
                    "generation": record.generation, "checkpoint_version": version,
                    "fencing_token": max(token, row.fencing_token if row is not None else 0), "updated_at": now,
                },
            )

    @translate_db_errors
    def save_session_snapshot(
        self, identity: str, session_id: UUID, generation: int, version: int, token: int, snapshot: bytes
    ) -> Checkpoint:
        now = self._clock.now()
        with step():
            row = ContinuityRow.objects.select_for_update().filter(identity=identity).first()
            record = to_record(row) if row is not None else None
            rules.check_save(identity, session_id, generation, version, token, record, row.fencing_token if row else 0)
            if row is None:  # unchecked saves may repeat a version: the newest bytes win
                CheckpointRow.objects.filter(identity=identity, generation=generation, version=version).delete()
            saved = CheckpointRow.objects.create(
                identity=identity, session_id=session_id, generation=generation, version=version,
                fencing_token=token, data=bytes(snapshot), size=len(snapshot), created_at=now,
            )
            if row is not None:
                # The compare-and-set: the stored version and token only move forward.
                ContinuityRow.objects.filter(identity=identity).update(
                    checkpoint_version=version, fencing_token=max(token, row.fencing_token), updated_at=now,
                    checkpointed_at=now,
                )
                if version > self._keep:
                    CheckpointRow.objects.filter(
                        identity=identity, generation=generation, version__lte=version - self._keep
                    ).delete()
        return to_checkpoint(saved, with_data=False)

    @translate_db_errors
    def load_session_snapshot(self, session_id: UUID) -> bytes | None:
        data = (
            CheckpointRow.objects.filter(session_id=session_id).order_by("-version").values_list("data", flat=True)
            .first()
        )
        return bytes(data) if data is not None else None

    @translate_db_errors
    def latest_checkpoint(self, identity: str) -> Checkpoint | None:
        row = ContinuityRow.objects.filter(identity=identity).first()
        if row is None:
            return None
        snap = (
            CheckpointRow.objects.filter(
                identity=identity, session_id=row.session_id, generation=row.generation, archived=False
            ).order_by("-version").first()
        )
        return to_checkpoint(snap, with_data=True) if snap is not None else None

    @translate_db_errors
    def list_checkpoints(self, identity: str, *, offset: int = 0, limit: int = 50) -> Page[Checkpoint]:
        rows = CheckpointRow.objects.filter(identity=identity)
        total = rows.count()
        items = [
            to_checkpoint(r, with_data=False)
            for r in rows.only(*META_FIELDS).order_by("-generation", "-version")[offset : offset + limit]
        ]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @translate_db_errors
    def archive_generations_before(self, identity: str, generation: int) -> int:
        return CheckpointRow.objects.filter(identity=identity, generation__lt=generation, archived=False).update(
            archived=True
        )

    @translate_db_errors
    def delete_continuity_record(self, identity: str, token: int) -> None:
        with step():
            row = ContinuityRow.objects.select_for_update().filter(identity=identity).first()
            if row is not None:
                rules.check_token(identity, token, row.fencing_token, "continuity delete")
            CheckpointRow.objects.filter(identity=identity).delete()
            ContinuityRow.objects.filter(identity=identity).delete()

    @translate_db_errors
    def max_fencing_token(self) -> int:
        return ContinuityRow.objects.aggregate(m=Max("fencing_token"))["m"] or 0
