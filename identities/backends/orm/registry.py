"""OrmIdentityRegistry: the roster in the database, so every server process sees the same one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from identities.audit_filter import AuditFilter
from identities.errors import DuplicateIdentity, UnknownIdentity
from identities.models import AuditEntry, Identity, PeerEdge, StaleWriteRejection
from identities.types import (
    Addressability,
    AuditRecord,
    DurableAgentSpec,
    IdentityEntry,
    IdentityState,
    ManagedPeerEdge,
    StaleWriteRecord,
)
from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.retention_types import TableRetention
from stores.types import Page

# The state's reason is a summary ("retired by ops: <reason>"); the whole reason stays in the audit entry.
STATE_REASON_MAX = Identity._meta.get_field("state_reason").max_length or 500


def to_spec(row: Identity) -> DurableAgentSpec:
    return DurableAgentSpec(
        identity=row.name, profile=row.profile, addressability=Addressability(row.addressability),
        display_name=row.display_name, labels=dict(row.labels or {}), context=row.context,
        additional_instructions=tuple(row.additional_instructions or ()), initial_message=row.initial_message,
        runtime_mode_override=row.runtime_mode_override,
    )


def to_entry(row: Identity) -> IdentityEntry:
    return IdentityEntry(
        spec=to_spec(row), state=IdentityState(row.state), created_at=row.created_at, updated_at=row.updated_at,
        state_changed_at=row.state_changed_at, state_reason=row.state_reason,
    )


def spec_fields(spec: DurableAgentSpec) -> dict[str, Any]:
    return {
        "profile": spec.profile, "addressability": spec.addressability.value, "display_name": spec.display_name,
        "labels": dict(spec.labels), "context": spec.context,
        "additional_instructions": list(spec.additional_instructions), "initial_message": spec.initial_message,
        "runtime_mode_override": spec.runtime_mode_override,
    }


def to_audit(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id, actor=row.actor, action=row.action, identity=row.identity, reason=row.reason, ok=row.ok,
        result=row.result, created_at=row.created_at,
    )


def audit_rows(rows: Any, where: AuditFilter) -> Any:
    if where.actor:
        rows = rows.filter(actor=where.actor)
    if where.action:
        rows = rows.filter(action=where.action)
    if where.since is not None:
        rows = rows.filter(created_at__gte=where.since)
    if where.until is not None:
        rows = rows.filter(created_at__lt=where.until)
    return rows


def to_rejection(row: StaleWriteRejection) -> StaleWriteRecord:
    return StaleWriteRecord(
        id=row.id, identity=row.identity, agent_id=row.agent_id, presented_token=row.presented_token,
        current_token=row.current_token, operation=row.operation, created_at=row.created_at, code=row.code,
        caller=row.caller,
    )


class OrmIdentityRegistry:
    @translate_db_errors
    def create(self, spec: DurableAgentSpec, state: IdentityState, now: datetime) -> IdentityEntry:
        with transaction.atomic():
            old = Identity.objects.select_for_update().filter(name=spec.identity).first()
            if old is not None and old.state != Identity.State.UNINITIALIZED:
                raise DuplicateIdentity(f"identity {spec.identity!r} already exists", identity=spec.identity)
            return self._put(old, spec, state, now, "")

    @translate_db_errors
    def put(self, spec: DurableAgentSpec, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        with transaction.atomic():
            old = Identity.objects.select_for_update().filter(name=spec.identity).first()
            return self._put(old, spec, state, now, reason)

    def _put(
        self, row: Identity | None, spec: DurableAgentSpec, state: IdentityState, now: datetime, reason: str
    ) -> IdentityEntry:
        if row is None:
            row = Identity(name=spec.identity, created_at=now, state_changed_at=now, state=state.value,
                           state_reason=reason[:STATE_REASON_MAX])
        elif row.state != state.value:
            row.state_changed_at, row.state_reason = now, reason[:STATE_REASON_MAX]
        for name, value in spec_fields(spec).items():
            setattr(row, name, value)
        row.state, row.updated_at = state.value, now
        row.save()
        return to_entry(row)

    @translate_db_errors
    def find(self, identity: str) -> IdentityEntry | None:
        row = Identity.objects.filter(name=identity).first()
        return to_entry(row) if row is not None else None

    @translate_db_errors
    def find_many(self, identities: Iterable[str]) -> dict[str, IdentityEntry]:
        return {row.name: to_entry(row) for row in Identity.objects.filter(name__in=list(identities))}

    @translate_db_errors
    def update_spec(self, spec: DurableAgentSpec, now: datetime) -> IdentityEntry:
        with transaction.atomic():
            row = Identity.objects.select_for_update().filter(name=spec.identity).first()
            if row is None:
                raise UnknownIdentity(f"unknown identity: {spec.identity}", identity=spec.identity)
            for name, value in spec_fields(spec).items():
                setattr(row, name, value)
            row.updated_at = now
            row.save()
            return to_entry(row)

    @translate_db_errors
    def set_state(self, identity: str, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        with transaction.atomic():
            row = Identity.objects.select_for_update().filter(name=identity).first()
            if row is None:
                raise UnknownIdentity(f"unknown identity: {identity}", identity=identity)
            row.state, row.state_reason, row.state_changed_at, row.updated_at = (
                state.value, reason[:STATE_REASON_MAX], now, now)
            row.save(update_fields=["state", "state_reason", "state_changed_at", "updated_at"])
            return to_entry(row)

    @translate_db_errors
    def list_identities(
        self,
        *,
        state: IdentityState | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        search: str | None = None,
        identities: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[IdentityEntry]:
        rows: QuerySet[Identity] = Identity.objects.all()
        if state is not None:
            rows = rows.filter(state=state.value)
        if profile is not None:
            rows = rows.filter(profile=profile)
        if label is not None:
            rows = rows.filter(**{f"labels__{label[0]}": label[1]}) if label[0].isidentifier() else rows.none()
        if search:
            rows = rows.filter(Q(name__icontains=search) | Q(display_name__icontains=search))
        if identities is not None:
            rows = rows.filter(name__in=list(identities))
        total = rows.count()
        items = [to_entry(r) for r in rows.order_by("name")[offset : offset + limit]]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @translate_db_errors
    def managed_edges(self) -> list[ManagedPeerEdge]:
        return [ManagedPeerEdge(a, b) for a, b in PeerEdge.objects.order_by("a", "b").values_list("a", "b")]

    @translate_db_errors
    def replace_managed_edges(self, edges: Sequence[ManagedPeerEdge]) -> None:
        wanted = set(edges)
        with transaction.atomic():
            current = set(self.managed_edges())
            for edge in current - wanted:
                PeerEdge.objects.filter(a=edge.a, b=edge.b).delete()
            PeerEdge.objects.bulk_create(
                [PeerEdge(a=e.a, b=e.b) for e in sorted(wanted - current)], ignore_conflicts=True
            )

    @translate_db_errors
    def peers_of(self, identity: str) -> list[str]:
        rows = PeerEdge.objects.filter(Q(a=identity) | Q(b=identity)).values_list("a", "b")
        return sorted(b if a == identity else a for a, b in rows)

    @translate_db_errors
    def record_audit(self, record: AuditRecord) -> AuditRecord:
        row = AuditEntry.objects.create(
            actor=record.actor[:200], action=record.action, identity=record.identity, reason=record.reason[:1000],
            ok=record.ok, result=dict(record.result), created_at=record.created_at,
        )
        return to_audit(row)

    @translate_db_errors
    def list_audit(
        self, *, identity: str | None = None, offset: int = 0, limit: int = 50, where: AuditFilter | None = None
    ) -> Page[AuditRecord]:
        rows = AuditEntry.objects.all() if identity is None else AuditEntry.objects.filter(identity=identity)
        if where is not None:
            rows = audit_rows(rows, where)
        total = rows.count()
        return Page(items=[to_audit(r) for r in rows.order_by("-id")[offset : offset + limit]], total=total,
                    offset=offset, limit=limit)

    @translate_db_errors
    def record_rejection(self, record: StaleWriteRecord) -> StaleWriteRecord:
        row = StaleWriteRejection.objects.create(
            identity=record.identity, agent_id=record.agent_id, presented_token=record.presented_token,
            current_token=record.current_token, operation=record.operation[:64], created_at=record.created_at,
            code=record.code[:32], caller=record.caller[:200],
        )
        return to_rejection(row)

    @translate_db_errors
    def list_rejections(
        self, *, identity: str | None = None, since: datetime | None = None, until: datetime | None = None,
        offset: int = 0, limit: int = 50,
    ) -> Page[StaleWriteRecord]:
        rows = StaleWriteRejection.objects.all()
        if identity is not None:
            rows = rows.filter(identity=identity)
        if since is not None:
            rows = rows.filter(created_at__gte=since)
        if until is not None:
            rows = rows.filter(created_at__lt=until)
        total = rows.count()
        return Page(items=[to_rejection(r) for r in rows.order_by("-id")[offset : offset + limit]], total=total,
                    offset=offset, limit=limit)

    # -- retention -------------------------------------------------------------------------------
    @translate_db_errors
    def prune_audit(self, before: datetime, *, limit: int) -> int:
        return delete_batch(AuditEntry.objects.filter(created_at__lt=before), limit)

    @translate_db_errors
    def audit_retention(self, before: datetime) -> TableRetention:
        return table_retention("audit", AuditEntry, "created_at", AuditEntry.objects.filter(created_at__lt=before))

    @staticmethod
    def _prunable_rejections(before: datetime) -> QuerySet[StaleWriteRejection]:
        # A rejection naming no identity at all is noise (a typo, a probe), whatever its age.
        unknown = ~Q(identity__in=Identity.objects.values("name"))
        return StaleWriteRejection.objects.filter(Q(created_at__lt=before) | unknown)

    @translate_db_errors
    def prune_rejections(self, before: datetime, *, limit: int) -> int:
        return delete_batch(self._prunable_rejections(before), limit)

    @translate_db_errors
    def rejections_retention(self, before: datetime) -> TableRetention:
        return table_retention("rejections", StaleWriteRejection, "created_at", self._prunable_rejections(before))
