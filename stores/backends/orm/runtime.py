"""OrmRuntimeStore: durable runtime persistence on SQLite or PostgreSQL.

Every commit is one transaction that first locks the runtime's row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the IMMEDIATE transaction already holds the write lock), then checks the
fence and the plan, then writes. The receipt is a plain INSERT under a unique key, so a duplicate
fails the whole transaction and nothing of the apply is visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from stores.backends.orm.base import translate_db_errors
from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import NotFound, WriteFailed
from stores.fencing import check_fence
from stores.models import OAuthFlowSnapshot, Runtime, RuntimeBoundaryReceipt, RuntimeInputState
from stores.runtime import (
    FENCE_APPLY,
    FENCE_LIFECYCLE,
    FENCE_SNAPSHOT,
    SUBJECT,
    boundary_payload,
    dedupe_inputs,
    input_payload,
    ops_payload,
    parse_json_object,
    snapshot_payload,
    state_payload,
    validate_session_snapshot,
)
from stores.runtime_state import MachineLifecycleCommit, check_commit
from stores.runtime_types import (
    LogicalRuntimeId,
    OAuthFlowUpdate,
    RunBoundaryReceipt,
    RuntimeState,
    RuntimeSummary,
    SessionDelta,
    StoredInputState,
    StoredReceipt,
)
from stores.types import Fence, Page

AfterWrite = Callable[[str], None]


def _bytes(value: Any) -> bytes | None:
    # PostgreSQL hands BinaryField values back as memoryview.
    return bytes(value) if value is not None else None


def _state(value: str | None) -> RuntimeState | None:
    return RuntimeState(value) if value else None


def _count(model: type[RuntimeInputState] | type[RuntimeBoundaryReceipt]) -> Coalesce:
    rows = model.objects.filter(runtime_id=OuterRef("pk")).order_by().values("runtime_id")
    return Coalesce(Subquery(rows.annotate(n=Count("id")).values("n")), Value(0))


def _summaries() -> QuerySet[Runtime]:
    """Runtimes with their counts, without loading the snapshot blobs (one query per page)."""
    return Runtime.objects.defer("session_snapshot", "ops_lifecycle").annotate(
        input_count=_count(RuntimeInputState),
        receipt_count=_count(RuntimeBoundaryReceipt),
        has_snapshot=ExpressionWrapper(Q(session_snapshot__isnull=False), output_field=BooleanField()),
        has_ops=ExpressionWrapper(Q(ops_lifecycle__isnull=False), output_field=BooleanField()),
    )


def _summary(row: Any) -> RuntimeSummary:
    return RuntimeSummary(
        runtime_id=row.runtime_id,
        state=_state(row.state),
        state_changed_at=row.state_changed_at,
        input_count=row.input_count,
        receipt_count=row.receipt_count,
        has_session_snapshot=bool(row.has_snapshot),
        snapshot_committed_at=row.snapshot_committed_at,
        has_ops_lifecycle=bool(row.has_ops),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class OrmRuntimeStore:
    def __init__(
        self,
        *,
        events: EventSink,
        clock: Clock = system_clock,
        fence_guard: FenceGuard | None = None,
        after_write: AfterWrite | None = None,
    ) -> None:
        self.events = events
        self._clock = clock
        self._fence_guard = fence_guard
        # Test seam: called after each write of a commit; raising there must leave nothing behind.
        self._after_write = after_write

    def _wrote(self, step: str) -> None:
        if self._after_write is not None:
            self._after_write(step)

    def _lock_runtime(self, runtime_id: LogicalRuntimeId, now: datetime) -> Runtime:
        """The runtime's row, created if needed and locked until the transaction ends."""
        row = Runtime.objects.select_for_update().only("runtime_id", "state").filter(pk=runtime_id).first()
        if row is None:
            # ON CONFLICT DO NOTHING: a concurrent creator wins quietly and we lock its row.
            Runtime.objects.bulk_create([Runtime(runtime_id=runtime_id, created_at=now, updated_at=now)],
                                        ignore_conflicts=True)
            row = Runtime.objects.select_for_update().only("runtime_id", "state").get(pk=runtime_id)
        return row

    def _upsert_inputs(self, runtime_id: LogicalRuntimeId, states: Sequence[StoredInputState], now: datetime) -> None:
        if states:
            # One statement; an existing row is updated in place, so it keeps its id and its place.
            RuntimeInputState.objects.bulk_create(
                [
                    RuntimeInputState(
                        runtime_id=runtime_id,
                        input_id=s.input_id,
                        current_state=s.current_state.value,
                        state=s.to_json(),
                        created_at=now,
                        updated_at=now,
                    )
                    for s in states
                ],
                update_conflicts=True,
                unique_fields=["runtime", "input_id"],
                update_fields=["current_state", "state", "updated_at"],
            )
        self._wrote("inputs")

    # -- commits ------------------------------------------------------------------------------

    @translate_db_errors
    def commit_session_snapshot(
        self, runtime_id: LogicalRuntimeId, session_delta: SessionDelta, *, fence: Fence | None = None
    ) -> None:
        now = self._clock.now()
        snapshot = bytes(session_delta.session_snapshot)
        validate_session_snapshot(snapshot, None, runtime_id=runtime_id)
        with transaction.atomic():
            check_fence(self._fence_guard, fence, FENCE_SNAPSHOT)
            self._lock_runtime(runtime_id, now)
            Runtime.objects.filter(pk=runtime_id).update(
                session_snapshot=snapshot, snapshot_committed_at=now, updated_at=now
            )
            self._wrote("snapshot")
            self.events.emit("runtime.snapshot_committed", SUBJECT, runtime_id,
                             snapshot_payload(runtime_id, snapshot, now), now)

    @translate_db_errors
    def atomic_apply(
        self,
        runtime_id: LogicalRuntimeId,
        session_delta: SessionDelta | None,
        receipt: RunBoundaryReceipt,
        input_updates: Sequence[StoredInputState],
        session_store_key: UUID | None = None,
        *,
        fence: Fence | None = None,
    ) -> None:
        now = self._clock.now()
        snapshot = bytes(session_delta.session_snapshot) if session_delta is not None else None
        if snapshot is not None:
            validate_session_snapshot(snapshot, session_store_key, runtime_id=runtime_id)
        updates = dedupe_inputs(input_updates)
        with transaction.atomic():
            check_fence(self._fence_guard, fence, FENCE_APPLY)
            row = self._lock_runtime(runtime_id, now)
            changes: dict[str, Any] = {"updated_at": now}
            if snapshot is not None:
                changes.update(session_snapshot=snapshot, snapshot_committed_at=now)
            Runtime.objects.filter(pk=runtime_id).update(**changes)
            if snapshot is not None:
                self._wrote("snapshot")
            try:
                RuntimeBoundaryReceipt.objects.create(
                    runtime_id=runtime_id,
                    run_id=receipt.run_id,
                    sequence=receipt.sequence,
                    boundary=receipt.boundary.value,
                    receipt=receipt.to_json(),
                    committed_at=now,
                )
            except IntegrityError as exc:
                # Raised out of the atomic block, so the snapshot written above is rolled back too.
                raise WriteFailed(
                    f"runtime {runtime_id!r} already has the boundary receipt of run {receipt.run_id} "
                    f"sequence {receipt.sequence}; nothing of this apply was written",
                    runtime_id=runtime_id,
                    run_id=str(receipt.run_id),
                    sequence=receipt.sequence,
                ) from exc
            self._wrote("receipt")
            self._upsert_inputs(runtime_id, updates, now)
            self.events.emit(
                "runtime.boundary_committed", SUBJECT, runtime_id,
                boundary_payload(runtime_id, _state(row.state), receipt, updates, snapshot, session_store_key, now),
                now,
            )

    @translate_db_errors
    def commit_machine_lifecycle(
        self,
        runtime_id: LogicalRuntimeId,
        commit: MachineLifecycleCommit,
        input_states: Sequence[StoredInputState],
        *,
        fence: Fence | None = None,
    ) -> None:
        now = self._clock.now()
        states = dedupe_inputs(input_states)
        with transaction.atomic():
            check_fence(self._fence_guard, fence, FENCE_LIFECYCLE)
            row = self._lock_runtime(runtime_id, now)
            check_commit(_state(row.state), commit, runtime_id=runtime_id)
            changes: dict[str, Any] = {"updated_at": now}
            if commit.changes_state:
                changes.update(state=commit.runtime_state.value, state_changed_at=now)
            Runtime.objects.filter(pk=runtime_id).update(**changes)
            self._wrote("runtime_state")
            self._upsert_inputs(runtime_id, states, now)
            kind = "runtime.state_changed" if commit.changes_state else "runtime.inputs_committed"
            self.events.emit(kind, SUBJECT, runtime_id,
                             state_payload(runtime_id, commit.from_state, commit.runtime_state, states, now), now)

    @translate_db_errors
    def persist_input_state(self, runtime_id: LogicalRuntimeId, state: StoredInputState) -> None:
        now = self._clock.now()
        with transaction.atomic():
            self._lock_runtime(runtime_id, now)
            Runtime.objects.filter(pk=runtime_id).update(updated_at=now)
            self._upsert_inputs(runtime_id, [state], now)
            self.events.emit("runtime.input_persisted", SUBJECT, runtime_id,
                             input_payload(runtime_id, state, now), now)

    @translate_db_errors
    def persist_ops_lifecycle(self, runtime_id: LogicalRuntimeId, snapshot: Mapping[str, Any]) -> None:
        now = self._clock.now()
        doc = dict(snapshot)
        with transaction.atomic():
            self._lock_runtime(runtime_id, now)
            Runtime.objects.filter(pk=runtime_id).update(ops_lifecycle=doc, ops_updated_at=now, updated_at=now)
            self._wrote("ops")
            self.events.emit("runtime.ops_persisted", SUBJECT, runtime_id, ops_payload(runtime_id, doc, now), now)

    # -- loads --------------------------------------------------------------------------------

    @translate_db_errors
    def load_input_states(self, runtime_id: LogicalRuntimeId) -> list[StoredInputState]:
        docs = RuntimeInputState.objects.filter(runtime_id=runtime_id).order_by("id").values_list("state", flat=True)
        return [StoredInputState.from_json(doc) for doc in docs]

    @translate_db_errors
    def load_input_state(self, runtime_id: LogicalRuntimeId, input_id: UUID) -> StoredInputState | None:
        doc = (
            RuntimeInputState.objects.filter(runtime_id=runtime_id, input_id=input_id)
            .values_list("state", flat=True)
            .first()
        )
        return StoredInputState.from_json(doc) if doc is not None else None

    @translate_db_errors
    def load_boundary_receipt(
        self, runtime_id: LogicalRuntimeId, run_id: UUID, sequence: int
    ) -> RunBoundaryReceipt | None:
        doc = (
            RuntimeBoundaryReceipt.objects.filter(runtime_id=runtime_id, run_id=run_id, sequence=sequence)
            .values_list("receipt", flat=True)
            .first()
        )
        return RunBoundaryReceipt.from_json(doc) if doc is not None else None

    @translate_db_errors
    def load_session_snapshot(self, runtime_id: LogicalRuntimeId) -> bytes | None:
        value = Runtime.objects.filter(pk=runtime_id).values_list("session_snapshot", flat=True).first()
        return _bytes(value)

    @translate_db_errors
    def load_runtime_state(self, runtime_id: LogicalRuntimeId) -> RuntimeState | None:
        return _state(Runtime.objects.filter(pk=runtime_id).values_list("state", flat=True).first())

    @translate_db_errors
    def load_ops_lifecycle(self, runtime_id: LogicalRuntimeId) -> dict[str, Any] | None:
        value = Runtime.objects.filter(pk=runtime_id).values_list("ops_lifecycle", flat=True).first()
        return dict(value) if value is not None else None

    # -- the global OAuth-flow blob ------------------------------------------------------------

    def auth_authority_key(self) -> str | None:
        settings = connection.settings_dict
        if connection.vendor == "sqlite":
            return f"sqlite:{os.path.realpath(str(settings['NAME']))}"
        host, port = settings.get("HOST") or "localhost", settings.get("PORT") or ""
        return f"{connection.vendor}:{host}:{port}/{settings['NAME']}"

    @translate_db_errors
    def persist_auth_oauth_flow_snapshot(self, snapshot_json: bytes) -> None:
        parse_json_object(snapshot_json, what="OAuth-flow snapshot")
        now = self._clock.now()
        with transaction.atomic():
            self._lock_oauth()
            OAuthFlowSnapshot.objects.filter(pk=OAuthFlowSnapshot.SINGLETON).update(
                snapshot=bytes(snapshot_json), updated_at=now
            )

    @translate_db_errors
    def load_auth_oauth_flow_snapshot(self) -> bytes | None:
        value = (
            OAuthFlowSnapshot.objects.filter(pk=OAuthFlowSnapshot.SINGLETON).values_list("snapshot", flat=True).first()
        )
        return _bytes(value)

    @translate_db_errors
    def update_auth_oauth_flow_snapshot(self, update: OAuthFlowUpdate) -> bytes:
        now = self._clock.now()
        with transaction.atomic():
            row = self._lock_oauth()
            new = bytes(update(_bytes(row.snapshot)))
            parse_json_object(new, what="OAuth-flow snapshot")
            OAuthFlowSnapshot.objects.filter(pk=row.pk).update(snapshot=new, updated_at=now)
        return new

    def _lock_oauth(self) -> OAuthFlowSnapshot:
        # The singleton row always exists before it is locked, so concurrent first updates queue on
        # the same lock instead of racing to insert.
        singleton = OAuthFlowSnapshot(pk=OAuthFlowSnapshot.SINGLETON)
        OAuthFlowSnapshot.objects.bulk_create([singleton], ignore_conflicts=True)
        return OAuthFlowSnapshot.objects.select_for_update().get(pk=OAuthFlowSnapshot.SINGLETON)

    # -- reads for people ---------------------------------------------------------------------

    @translate_db_errors
    def get_runtime(self, runtime_id: LogicalRuntimeId) -> RuntimeSummary:
        row = _summaries().filter(pk=runtime_id).first()
        if row is None:
            raise NotFound(f"runtime {runtime_id!r} has no stored state", runtime_id=runtime_id)
        return _summary(row)

    @translate_db_errors
    def list_runtimes(
        self, *, state: RuntimeState | None = None, offset: int = 0, limit: int = 50
    ) -> Page[RuntimeSummary]:
        where = Q() if state is None else Q(state=state.value)
        total = Runtime.objects.filter(where).count()
        rows = _summaries().filter(where).order_by("-updated_at", "-runtime_id")[offset : offset + limit]
        items = [_summary(r) for r in rows]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @translate_db_errors
    def list_receipts(
        self, runtime_id: LogicalRuntimeId, *, offset: int = 0, limit: int = 50
    ) -> Page[StoredReceipt]:
        rows = RuntimeBoundaryReceipt.objects.filter(runtime_id=runtime_id)
        total = rows.count()
        items = [
            StoredReceipt(runtime_id, RunBoundaryReceipt.from_json(r.receipt), r.committed_at)
            for r in rows.order_by("-id")[offset : offset + limit]
        ]
        return Page(items=items, total=total, offset=offset, limit=limit)
