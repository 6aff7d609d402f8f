from __future__ import annotations

from django.contrib import admin

from stores.admin_base import ReadOnlyAdmin
from stores.models import Agent, EventLogWatermark, EventRecord, PruneRunRecord


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


@admin.register(PruneRunRecord)
class PruneRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "finished_at", "complete", "removed"]
    ordering = ["-id"]


@admin.register(EventLogWatermark)
class EventLogWatermarkAdmin(ReadOnlyAdmin):
    list_display = ["pruned_through", "updated_at"]


# The runtime store's admin lives in its own module; importing it registers it.
import stores.admin_outputs  # noqa: E402,F401
import stores.admin_persistence  # noqa: E402,F401
import stores.admin_runtime  # noqa: E402,F401
