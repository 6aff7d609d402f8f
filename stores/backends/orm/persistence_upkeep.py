"""Maintenance and the attachment manifest of OrmRuntimePersistence: tombstones, vacuum, blob GC."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction

from stores.backends.orm.base import translate_db_errors
from stores.errors import StorageError
from stores.models.persistence import AttachmentManifestRecord, PersistedSession, SessionBlob, SessionNode
from stores.persistence import decode_manifest, epoch_ms
from stores.persistence_types import AttachmentIntent, AttachmentManifestEntry, BlobRef, GcReport, VacuumReport

if TYPE_CHECKING:
    from stores.clock import Clock

log = logging.getLogger(__name__)


class _Abort(Exception):
    pass


class OrmUpkeepMixin:
    _session_id: str

    if TYPE_CHECKING:
        _clock: Clock

        def _check_binding(self, session_id: str) -> None: ...
        def _session_row(self, now: datetime, *, lock: bool) -> PersistedSession: ...

    @translate_db_errors
    def tombstone_nodes(self, node_ids: Sequence[str]) -> None:
        if not node_ids:
            return
        with transaction.atomic():
            nodes = SessionNode.objects.filter(session_id=self._session_id)
            if nodes.filter(node_id__in=set(node_ids), tombstoned=False).update(tombstoned=True):
                PersistedSession.objects.filter(pk=self._session_id, head_revision__isnull=False).update(
                    graph_node_count=nodes.filter(tombstoned=False).count()
                )

    @translate_db_errors
    def vacuum(self, *, dry_run: bool = False) -> VacuumReport:
        with transaction.atomic():
            doomed = SessionNode.objects.filter(session_id=self._session_id, tombstoned=True)
            ids = list(doomed.order_by("id").values_list("node_id", flat=True))
            removed = len(ids) if dry_run else doomed.delete()[0]
        return VacuumReport(removed, tuple(ids), dry_run)

    def gc_unreachable(self, *, dry_run: bool = False) -> GcReport:
        """Best effort: a failure or an unreadable live manifest deletes nothing and says why."""
        try:
            with transaction.atomic():
                return self._gc(dry_run)
        except _Abort as exc:
            return GcReport(root_count=1, dry_run=dry_run, aborted=str(exc))
        except (DatabaseError, StorageError) as exc:
            log.exception("gc_unreachable failed for session %s", self._session_id)
            return GcReport(dry_run=dry_run, aborted=f"gc failed: {exc}")

    def _gc(self, dry_run: bool) -> GcReport:
        # Lock the session row so no commit adds a root while we sweep.
        session = PersistedSession.objects.select_for_update().filter(pk=self._session_id).first()
        if session is None:
            return GcReport(dry_run=dry_run)
        blobs = SessionBlob.objects.filter(session=session)
        roots = [session.checkpoint_ref] if session.checkpoint_ref else []
        reachable: set[BlobRef] = set()
        for root in roots:
            data = blobs.filter(ref=root).values_list("data", flat=True).first()
            if data is None:
                raise _Abort(f"live manifest {root} is missing; nothing deleted")
            try:
                reachable |= {root, *decode_manifest(bytes(data)).blob_refs}
            except StorageError as exc:
                raise _Abort(f"live manifest {root} is unreadable ({exc.code}); nothing deleted") from exc
        doomed = sorted(set(blobs.values_list("ref", flat=True)) - reachable)
        total = blobs.count()
        if doomed and not dry_run:
            blobs.filter(ref__in=doomed).delete()
        return GcReport(len(roots), total - len(doomed), len(doomed), tuple(doomed), dry_run)

    # --- attachment manifest -------------------------------------------------------------------

    @translate_db_errors
    def record_intent(self, intent: AttachmentIntent) -> None:
        self._check_binding(intent.session_id)
        now = self._clock.now()
        with transaction.atomic():
            self._session_row(now, lock=False)
            # The first intent wins: a repeated id changes nothing.
            AttachmentManifestRecord.objects.bulk_create(
                [AttachmentManifestRecord(session_id=self._session_id, attachment_id=intent.attachment_id,
                                          canonical_uri=intent.canonical_uri, intent_at_ms=intent.intent_at_epoch_ms)],
                ignore_conflicts=True,
            )

    @translate_db_errors
    def commit_refs(self, session_id: str, attachment_ids: Sequence[str]) -> None:
        self._check_binding(session_id)
        self._stamp_attachments(attachment_ids, epoch_ms(self._clock.now()))

    def _stamp_attachments(self, attachment_ids: Sequence[str], now_ms: int) -> None:
        if attachment_ids:
            AttachmentManifestRecord.objects.filter(
                session_id=self._session_id, attachment_id__in=set(attachment_ids), committed_at_ms__isnull=True
            ).update(committed_at_ms=now_ms)

    @translate_db_errors
    def list_uncommitted(self, older_than_epoch_ms: int) -> list[AttachmentManifestEntry]:
        rows = AttachmentManifestRecord.objects.filter(
            session_id=self._session_id, committed_at_ms__isnull=True, intent_at_ms__lte=older_than_epoch_ms
        ).order_by("intent_at_ms", "attachment_id")
        return [
            AttachmentManifestEntry(r.attachment_id, r.session_id, r.canonical_uri, r.intent_at_ms, r.committed_at_ms)
            for r in rows
        ]

    @translate_db_errors
    def forget(self, attachment_id: str) -> None:
        AttachmentManifestRecord.objects.filter(session_id=self._session_id, attachment_id=attachment_id).delete()
