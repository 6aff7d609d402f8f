"""Admin for the identity runtime: specs are edited here, but every change goes through IdentityRuntime
(so it is validated, evented and audited like the API's); leases, continuity and logs are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from identities.backends.orm.registry import to_spec
from identities.models import (
    AuditEntry,
    CheckpointRow,
    ContinuityRow,
    Identity,
    LeaseRow,
    PeerEdge,
    StaleWriteRejection,
)
from identities.types import validate_identity
from identities.wiring import identity_runtime
from stores.errors import StorageError


class ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"  # type: ignore[union-attr]


def _recovery(action: str, description: str) -> Any:
    def run(modeladmin: IdentityAdmin, request: HttpRequest, queryset: QuerySet[Identity]) -> None:
        runtime = identity_runtime()
        done, failed = 0, []
        for row in queryset:
            try:
                getattr(runtime, action)(row.name, actor=_actor(request), reason="admin action")
                done += 1
            except StorageError as exc:
                failed.append(f"{row.name}: {exc.detail}")
        if done:
            modeladmin.message_user(request, f"{description}: {done} identities", messages.SUCCESS)
        for failure in failed:
            modeladmin.message_user(request, failure, messages.ERROR)

    run.__name__ = action
    run.short_description = description  # type: ignore[attr-defined]
    return run


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin[Identity]):
    list_display = ["name", "profile", "state", "addressability", "display_name", "state_changed_at"]
    list_filter = ["state", "addressability", "profile"]
    search_fields = ["name", "display_name"]
    ordering = ["name"]
    readonly_fields = ["state", "state_reason", "created_at", "updated_at", "state_changed_at"]
    actions = [
        _recovery("respawn", "Respawn (fence the owner, keep continuity)"),
        _recovery("retire", "Retire (fence the owner, stop deliveries)"),
        _recovery("reset", "Reset (fence, new generation; checkpoints archived)"),
        _recovery("delete_identity", "Delete continuity and checkpoints"),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Identity | None = None) -> Any:
        return [*self.readonly_fields, "name"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Identity, form: Any, change: bool) -> None:
        """Through the runtime: a new identity gets continuity and events; an edit emits spec_updated."""
        spec = to_spec(obj)
        validate_identity(spec.identity)
        if change:
            identity_runtime().update_spec(spec)
        else:
            identity_runtime().create_identity(spec, actor=_actor(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the "Delete continuity" action is the audited way


@admin.register(LeaseRow)
class LeaseAdmin(ReadOnly):
    list_display = ["identity", "state", "fencing_token", "holder", "expires_at", "last_holder", "lost_reason"]
    list_filter = ["state", "lost_reason"]
    search_fields = ["identity", "holder", "last_holder"]


@admin.register(ContinuityRow)
class ContinuityAdmin(ReadOnly):
    list_display = ["identity", "generation", "checkpoint_version", "fencing_token", "session_id", "checkpointed_at"]
    search_fields = ["identity", "session_id"]


@admin.register(CheckpointRow)
class CheckpointAdmin(ReadOnly):
    list_display = ["identity", "generation", "version", "size", "fencing_token", "archived", "created_at"]
    list_filter = ["archived"]
    search_fields = ["identity"]
    exclude = ["data"]  # opaque snapshot bytes


@admin.register(PeerEdge)
class PeerEdgeAdmin(ReadOnly):
    list_display = ["a", "b"]
    search_fields = ["a", "b"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly):
    list_display = ["created_at", "actor", "action", "identity", "ok", "reason"]
    list_filter = ["action", "ok"]
    search_fields = ["identity", "actor", "reason"]
    ordering = ["-id"]


@admin.register(StaleWriteRejection)
class StaleWriteRejectionAdmin(ReadOnly):
    list_display = ["created_at", "identity", "operation", "agent_id", "presented_token", "current_token"]
    list_filter = ["operation"]
    search_fields = ["identity", "agent_id"]
    ordering = ["-id"]
