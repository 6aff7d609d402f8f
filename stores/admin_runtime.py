"""Admin for the runtime store's rows: all read-only.

Receipts are immutable proof; runtime states only move through the state machine and input states
are owned by the runtime that wrote them, so an edit here would bypass the rules the API enforces.
The OAuth-flow blob holds PKCE verifiers and device codes: the admin shows its size, never its bytes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from stores.admin_base import ReadOnlyAdmin
from stores.models import OAuthFlowSnapshot, Runtime, RuntimeBoundaryReceipt, RuntimeInputState


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class InputInline(ReadOnlyInline):
    model = RuntimeInputState
    fields = ["input_id", "current_state", "updated_at"]
    ordering = ["id"]


class ReceiptInline(ReadOnlyInline):
    model = RuntimeBoundaryReceipt
    fields = ["run_id", "sequence", "boundary", "committed_at"]
    ordering = ["-id"]


@admin.register(Runtime)
class RuntimeAdmin(ReadOnlyAdmin):
    list_display = ["runtime_id", "state", "state_changed_at", "snapshot_committed_at", "updated_at"]
    list_filter = ["state"]
    search_fields = ["runtime_id"]
    ordering = ["-updated_at"]
    exclude = ["session_snapshot"]
    readonly_fields = ["snapshot_size"]
    inlines = [InputInline, ReceiptInline]

    @admin.display(description="session snapshot")
    def snapshot_size(self, obj: Runtime) -> str:
        return f"{len(obj.session_snapshot)} bytes" if obj.session_snapshot is not None else "none"


@admin.register(RuntimeInputState)
class RuntimeInputStateAdmin(ReadOnlyAdmin):
    list_display = ["input_id", "runtime", "current_state", "updated_at"]
    list_filter = ["current_state"]
    search_fields = ["input_id", "runtime__runtime_id"]
    ordering = ["-updated_at"]


@admin.register(RuntimeBoundaryReceipt)
class RuntimeBoundaryReceiptAdmin(ReadOnlyAdmin):
    list_display = ["runtime", "run_id", "sequence", "boundary", "committed_at"]
    list_filter = ["boundary"]
    search_fields = ["run_id", "runtime__runtime_id"]
    ordering = ["-id"]


@admin.register(OAuthFlowSnapshot)
class OAuthFlowSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["id", "snapshot_size", "updated_at"]
    exclude = ["snapshot"]
    readonly_fields = ["snapshot_size"]

    @admin.display(description="snapshot")
    def snapshot_size(self, obj: OAuthFlowSnapshot) -> str:
        return f"{len(obj.snapshot)} bytes (contents hidden)" if obj.snapshot is not None else "none"
