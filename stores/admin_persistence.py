"""Admin for RuntimePersistence rows: read-only, with actions that go through the store's rules.

Heads move only by commits and claims only by the claim protocol, so rows are never edited here. The
actions (cancel unclaimed batches, vacuum, GC) call the same store methods as the API and the pages.
Lease tokens are secrets of the claimant and blob bytes can be large: neither is shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from stores.admin_base import ReadOnlyAdmin
from stores.models import (
    AttachmentManifestRecord,
    PersistedSession,
    QueuedWorkBatchRecord,
    SessionBlob,
    SessionNode,
    SessionTurnCommit,
)
from stores.wiring import runtime_persistence


@admin.register(PersistedSession)
class PersistedSessionAdmin(ReadOnlyAdmin):
    list_display = ["session_id", "head_revision", "graph_node_count", "model", "updated_at"]
    search_fields = ["session_id"]
    ordering = ["-updated_at"]
    actions = ["vacuum", "collect_garbage"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Vacuum: delete tombstoned nodes")
    def vacuum(self, request: HttpRequest, queryset: QuerySet[PersistedSession]) -> None:
        removed = sum(runtime_persistence().open(s.session_id).vacuum().removed_node_count for s in queryset)
        self.message_user(request, f"Vacuum removed {removed} node(s).", messages.SUCCESS)

    @admin.action(description="GC: delete checkpoint blobs the head no longer reaches")
    def collect_garbage(self, request: HttpRequest, queryset: QuerySet[PersistedSession]) -> None:
        reports = [runtime_persistence().open(s.session_id).gc_unreachable() for s in queryset]
        aborted = [r.aborted for r in reports if r.aborted]
        deleted = sum(r.deleted_blob_count for r in reports)
        self.message_user(request, f"GC deleted {deleted} blob(s).", messages.SUCCESS)
        for reason in aborted:
            self.message_user(request, f"GC refused a session: {reason}", messages.WARNING)


@admin.register(QueuedWorkBatchRecord)
class QueuedWorkBatchAdmin(ReadOnlyAdmin):
    list_display = ["batch_id", "session", "enqueue_seq", "slot_policy", "claim_owner", "claim_expires_at_ms",
                    "claim_fencing_token", "outcome"]
    list_filter = ["outcome", "slot_policy", "delivery_policy"]
    search_fields = ["batch_id", "session__session_id", "source_key", "claim_owner"]
    ordering = ["-enqueue_seq"]
    exclude = ["claim_lease_token"]
    actions = ["cancel_unclaimed"]

    @admin.action(description="Cancel the selected batches nobody holds")
    def cancel_unclaimed(self, request: HttpRequest, queryset: QuerySet[QueuedWorkBatchRecord]) -> None:
        done = sum(
            runtime_persistence().open(b.session_id).cancel_queued_work_batch(b.session_id, b.batch_id) is not None
            for b in queryset
        )
        skipped = queryset.count() - done
        self.message_user(request, f"Cancelled {done} batch(es); {skipped} held, finished or gone.", messages.INFO)


@admin.register(SessionNode)
class SessionNodeAdmin(ReadOnlyAdmin):
    list_display = ["node_id", "session", "parent_node_id", "timestamp", "tombstoned"]
    list_filter = ["tombstoned"]
    search_fields = ["node_id", "session__session_id"]
    ordering = ["-id"]


@admin.register(SessionBlob)
class SessionBlobAdmin(ReadOnlyAdmin):
    list_display = ["ref", "session", "size", "created_at"]
    search_fields = ["ref", "session__session_id"]
    ordering = ["-id"]
    exclude = ["data"]

    @admin.display(description="bytes")
    def size(self, obj: SessionBlob) -> int:
        return len(obj.data)


@admin.register(SessionTurnCommit)
class SessionTurnCommitAdmin(ReadOnlyAdmin):
    list_display = ["turn_id", "session", "turn_commit_hash", "committed_at"]
    search_fields = ["turn_id", "session__session_id"]
    ordering = ["-id"]


@admin.register(AttachmentManifestRecord)
class AttachmentManifestAdmin(ReadOnlyAdmin):
    list_display = ["attachment_id", "session", "canonical_uri", "intent_at_ms", "committed_at_ms"]
    search_fields = ["attachment_id", "session__session_id", "canonical_uri"]
    ordering = ["-id"]
