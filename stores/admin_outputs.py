"""Admin for outputs and their lineage: read-only, since records are immutable by contract (an edit
here would rewrite history other tasks already consumed)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse

from stores.admin_base import ReadOnlyAdmin
from stores.models import Output, OutputLink


class ParentLinkInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OutputLink
    fk_name = "child"
    verbose_name = "parent"
    verbose_name_plural = "parents (lineage)"
    fields = ["position", "parent"]
    readonly_fields = ["position", "parent"]
    ordering = ["position"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Output)
class OutputAdmin(ReadOnlyAdmin):
    list_display = ["ref", "kind", "task_id", "attempt", "producer_agent", "identity", "created_at"]
    list_filter = ["kind"]
    search_fields = ["ref", "task_id", "producer_agent", "identity"]
    ordering = ["-id"]
    inlines = [ParentLinkInline]

    def view_on_site(self, obj: Output) -> str:  # type: ignore[override]
        return reverse("output", args=[obj.ref])
