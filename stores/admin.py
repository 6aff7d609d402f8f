from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from stores.models import Agent, EventRecord


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only through the stores (liveness, the event log): visible, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "state", "last_heartbeat", "registered_at", "state_changed_at"]
    list_filter = ["state"]
    search_fields = ["id", "name"]
    ordering = ["-last_heartbeat"]


@admin.register(EventRecord)
class EventRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "subject_type", "subject_id", "created_at"]
    list_filter = ["kind", "subject_type"]
    search_fields = ["subject_id", "kind"]
    ordering = ["-id"]


# The runtime store's admin lives in its own module; importing it registers it.
import stores.admin_outputs  # noqa: E402,F401
import stores.admin_persistence  # noqa: E402,F401
import stores.admin_runtime  # noqa: E402,F401
