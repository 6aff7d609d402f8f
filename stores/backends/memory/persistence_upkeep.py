"""Maintenance and the attachment manifest of InMemoryRuntimePersistence: tombstones, vacuum, blob GC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from stores.errors import StorageError
from stores.persistence import decode_manifest, epoch_ms
from stores.persistence_types import AttachmentIntent, AttachmentManifestEntry, BlobRef, GcReport, VacuumReport

if TYPE_CHECKING:
    from stores.backends.memory.persistence_state import InMemoryPersistenceState, SessionState
    from stores.clock import Clock


class InMemoryUpkeepMixin:
    _state: InMemoryPersistenceState
    _session_id: str

    if TYPE_CHECKING:
        _clock: Clock

        def _check_binding(self, session_id: str) -> None: ...

    def tombstone_nodes(self, node_ids: Sequence[str]) -> None:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is not None:
                known = {n.node_id for n in sess.nodes}
                sess.tombstoned |= set(node_ids) & known

    def vacuum(self, *, dry_run: bool = False) -> VacuumReport:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is None:
                return VacuumReport(0, (), dry_run)
            doomed = [n.node_id for n in sess.nodes if n.node_id in sess.tombstoned]
            if not dry_run:
                sess.nodes = [n for n in sess.nodes if n.node_id not in sess.tombstoned]
                sess.tombstoned = set()
            return VacuumReport(len(doomed), tuple(doomed), dry_run)

    def gc_unreachable(self, *, dry_run: bool = False) -> GcReport:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is None:
                return GcReport(dry_run=dry_run)
            roots = [sess.head.checkpoint_ref] if sess.head else []
            reachable: set[BlobRef] = set()
            try:
                for root in roots:
                    reachable.add(root)
                    reachable.update(decode_manifest(sess.blobs[root]).blob_refs)
            except (StorageError, KeyError) as exc:
                return GcReport(root_count=len(roots), dry_run=dry_run, aborted=f"live manifest unreadable: {exc}")
            doomed = sorted(set(sess.blobs) - reachable)
            retained = len(sess.blobs) - len(doomed)
            if not dry_run:
                for ref in doomed:
                    del sess.blobs[ref]
            return GcReport(len(roots), retained, len(doomed), tuple(doomed), dry_run)

    # --- attachment manifest -------------------------------------------------------------------

    def record_intent(self, intent: AttachmentIntent) -> None:
        self._check_binding(intent.session_id)
        now = self._clock.now()
        with self._state.lock:
            sess = self._state.session(self._session_id, now)
            sess.attachments.setdefault(
                intent.attachment_id,
                AttachmentManifestEntry(intent.attachment_id, intent.session_id, intent.canonical_uri,
                                        intent.intent_at_epoch_ms),
            )

    def commit_refs(self, session_id: str, attachment_ids: Sequence[str]) -> None:
        self._check_binding(session_id)
        now = self._clock.now()
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is not None:
                self._stamp_attachments(sess, attachment_ids, epoch_ms(now))

    @staticmethod
    def _stamp_attachments(sess: SessionState, attachment_ids: Sequence[str], now_ms: int) -> None:
        for attachment_id in attachment_ids:
            entry = sess.attachments.get(attachment_id)
            if entry is not None and entry.committed_at_epoch_ms is None:
                sess.attachments[attachment_id] = replace(entry, committed_at_epoch_ms=now_ms)

    def list_uncommitted(self, older_than_epoch_ms: int) -> list[AttachmentManifestEntry]:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            entries = list(sess.attachments.values()) if sess else []
        found = [e for e in entries if e.committed_at_epoch_ms is None and e.intent_at_epoch_ms <= older_than_epoch_ms]
        return sorted(found, key=lambda e: (e.intent_at_epoch_ms, e.attachment_id))

    def forget(self, attachment_id: str) -> None:
        with self._state.lock:
            sess = self._state.sessions.get(self._session_id)
            if sess is not None:
                sess.attachments.pop(attachment_id, None)
