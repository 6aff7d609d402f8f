"""InMemoryRuntimeStore: ephemeral runtime persistence for tests and embedding.

Every operation runs under one lock and records an undo step per write, so a failure part-way
(a duplicate receipt found late, a stale fence, the test seam `after_write`) restores everything
the operation changed: the same all-or-nothing the ORM backend gets from its transaction.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from stores.clock import Clock, system_clock
from stores.contracts import EventSink, FenceGuard
from stores.errors import NotFound, WriteFailed
from stores.events import InMemoryEventLog
from stores.fencing import check_fence
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


@dataclass
class _Runtime:
    created_at: datetime
    updated_at: datetime
    state: RuntimeState | None = None
    state_changed_at: datetime | None = None
    snapshot: bytes | None = None
    snapshot_committed_at: datetime | None = None
    ops: dict[str, Any] | None = None
    # dicts keep insertion order: inputs in first-insertion order, receipts in commit order.
    inputs: dict[UUID, StoredInputState] = field(default_factory=dict)
    receipts: dict[tuple[UUID, int], StoredReceipt] = field(default_factory=dict)

    def summary(self, runtime_id: LogicalRuntimeId) -> RuntimeSummary:
        return RuntimeSummary(
            runtime_id=runtime_id,
            state=self.state,
            state_changed_at=self.state_changed_at,
            input_count=len(self.inputs),
            receipt_count=len(self.receipts),
            has_session_snapshot=self.snapshot is not None,
            snapshot_committed_at=self.snapshot_committed_at,
            has_ops_lifecycle=self.ops is not None,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class _Undo:
    """The writes of one operation, undone in reverse order if it fails."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        if key in mapping:
            old = mapping[key]
            # Re-assigning an existing key keeps its position, so order survives a rollback.
            self._steps.append(lambda: mapping.__setitem__(key, old))
        else:
            self._steps.append(lambda: mapping.pop(key))
        mapping[key] = value

    def set(self, obj: object, name: str, value: Any) -> None:
        old = getattr(obj, name)
        self._steps.append(lambda: setattr(obj, name, old))
        setattr(obj, name, value)

    def rollback(self) -> None:
        for step in reversed(self._steps):
            step()


class InMemoryRuntimeStore:
    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        events: EventSink | None = None,
        fence_guard: FenceGuard | None = None,
        after_write: AfterWrite | None = None,
    ) -> None:
        self._clock = clock
        self.events: EventSink = events or InMemoryEventLog()
        self._fence_guard = fence_guard
        # Test seam: called after each write of a commit; raising there must leave nothing behind.
        self._after_write = after_write
        self._runtimes: dict[LogicalRuntimeId, _Runtime] = {}
        self._lock = threading.RLock()
        self._oauth: bytes | None = None
        self._oauth_lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------------

    def _wrote(self, step: str) -> None:
        if self._after_write is not None:
            self._after_write(step)

    def _touch(self, undo: _Undo, runtime_id: LogicalRuntimeId, now: datetime) -> _Runtime:
        runtime = self._runtimes.get(runtime_id)
        if runtime is None:
            runtime = _Runtime(created_at=now, updated_at=now)
            undo.put(self._runtimes, runtime_id, runtime)
        else:
            undo.set(runtime, "updated_at", now)
        return runtime

    def _upsert_inputs(
        self, undo: _Undo, runtime: _Runtime, states: Sequence[StoredInputState]
    ) -> None:
        for state in states:
            undo.put(runtime.inputs, state.input_id, state)
        self._wrote("inputs")

    def _run(self, work: Callable[[_Undo], Any]) -> Any:
        with self._lock:
            undo = _Undo()
            try:
                return work(undo)
            except BaseException:
                undo.rollback()
                raise

    # -- commits ------------------------------------------------------------------------------

    def commit_session_snapshot(
        self, runtime_id: LogicalRuntimeId, session_delta: SessionDelta, *, fence: Fence | None = None
    ) -> None:
        now = self._clock.now()
        snapshot = bytes(session_delta.session_snapshot)
        validate_session_snapshot(snapshot, None, runtime_id=runtime_id)

        def work(undo: _Undo) -> None:
            check_fence(self._fence_guard, fence, FENCE_SNAPSHOT)
            runtime = self._touch(undo, runtime_id, now)
            undo.set(runtime, "snapshot", snapshot)
            undo.set(runtime, "snapshot_committed_at", now)
            self._wrote("snapshot")
            self.events.emit("runtime.snapshot_committed", SUBJECT, runtime_id,
                             snapshot_payload(runtime_id, snapshot, now), now)

        self._run(work)

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

        def work(undo: _Undo) -> None:
            check_fence(self._fence_guard, fence, FENCE_APPLY)
            runtime = self._touch(undo, runtime_id, now)
            if snapshot is not None:
                undo.set(runtime, "snapshot", snapshot)
                undo.set(runtime, "snapshot_committed_at", now)
                self._wrote("snapshot")
            key = (receipt.run_id, receipt.sequence)
            if key in runtime.receipts:
                raise WriteFailed(
                    f"runtime {runtime_id!r} already has the boundary receipt of run {receipt.run_id} "
                    f"sequence {receipt.sequence}; nothing of this apply was written",
                    runtime_id=runtime_id,
                    run_id=str(receipt.run_id),
                    sequence=receipt.sequence,
                )
            undo.put(runtime.receipts, key, StoredReceipt(runtime_id, receipt, now))
            self._wrote("receipt")
            self._upsert_inputs(undo, runtime, updates)
            self.events.emit(
                "runtime.boundary_committed", SUBJECT, runtime_id,
                boundary_payload(runtime_id, runtime.state, receipt, updates, snapshot, session_store_key, now), now,
            )

        self._run(work)

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

        def work(undo: _Undo) -> None:
            check_fence(self._fence_guard, fence, FENCE_LIFECYCLE)
            existing = self._runtimes.get(runtime_id)
            check_commit(existing.state if existing else None, commit, runtime_id=runtime_id)
            runtime = self._touch(undo, runtime_id, now)
            if commit.changes_state:
                undo.set(runtime, "state", commit.runtime_state)
                undo.set(runtime, "state_changed_at", now)
            self._wrote("runtime_state")
            self._upsert_inputs(undo, runtime, states)
            kind = "runtime.state_changed" if commit.changes_state else "runtime.inputs_committed"
            self.events.emit(kind, SUBJECT, runtime_id,
                             state_payload(runtime_id, commit.from_state, commit.runtime_state, states, now), now)

        self._run(work)

    def persist_input_state(self, runtime_id: LogicalRuntimeId, state: StoredInputState) -> None:
        now = self._clock.now()

        def work(undo: _Undo) -> None:
            runtime = self._touch(undo, runtime_id, now)
            self._upsert_inputs(undo, runtime, [state])
            self.events.emit("runtime.input_persisted", SUBJECT, runtime_id,
                             input_payload(runtime_id, state, now), now)

        self._run(work)

    def persist_ops_lifecycle(self, runtime_id: LogicalRuntimeId, snapshot: Mapping[str, Any]) -> None:
        now = self._clock.now()
        doc = copy.deepcopy(dict(snapshot))

        def work(undo: _Undo) -> None:
            runtime = self._touch(undo, runtime_id, now)
            undo.set(runtime, "ops", doc)
            self._wrote("ops")
            self.events.emit("runtime.ops_persisted", SUBJECT, runtime_id, ops_payload(runtime_id, doc, now), now)

        self._run(work)

    # -- loads --------------------------------------------------------------------------------

    def load_input_states(self, runtime_id: LogicalRuntimeId) -> list[StoredInputState]:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return list(runtime.inputs.values()) if runtime else []

    def load_input_state(self, runtime_id: LogicalRuntimeId, input_id: UUID) -> StoredInputState | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return runtime.inputs.get(input_id) if runtime else None

    def load_boundary_receipt(
        self, runtime_id: LogicalRuntimeId, run_id: UUID, sequence: int
    ) -> RunBoundaryReceipt | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            stored = runtime.receipts.get((run_id, sequence)) if runtime else None
            return stored.receipt if stored else None

    def load_session_snapshot(self, runtime_id: LogicalRuntimeId) -> bytes | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return runtime.snapshot if runtime else None

    def load_runtime_state(self, runtime_id: LogicalRuntimeId) -> RuntimeState | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return runtime.state if runtime else None

    def load_ops_lifecycle(self, runtime_id: LogicalRuntimeId) -> dict[str, Any] | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return copy.deepcopy(runtime.ops) if runtime and runtime.ops is not None else None

    # -- the global OAuth-flow blob ------------------------------------------------------------

    def auth_authority_key(self) -> str | None:
        return None

    def persist_auth_oauth_flow_snapshot(self, snapshot_json: bytes) -> None:
        parse_json_object(snapshot_json, what="OAuth-flow snapshot")
        with self._oauth_lock:
            self._oauth = bytes(snapshot_json)

    def load_auth_oauth_flow_snapshot(self) -> bytes | None:
        with self._oauth_lock:
            return self._oauth

    def update_auth_oauth_flow_snapshot(self, update: OAuthFlowUpdate) -> bytes:
        with self._oauth_lock:
            new = update(self._oauth)
            parse_json_object(new, what="OAuth-flow snapshot")
            self._oauth = bytes(new)
            return self._oauth

    # -- reads for people ---------------------------------------------------------------------

    def get_runtime(self, runtime_id: LogicalRuntimeId) -> RuntimeSummary:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            if runtime is None:
                raise NotFound(f"runtime {runtime_id!r} has no stored state", runtime_id=runtime_id)
            return runtime.summary(runtime_id)

    def list_runtimes(
        self, *, state: RuntimeState | None = None, offset: int = 0, limit: int = 50
    ) -> Page[RuntimeSummary]:
        with self._lock:
            items = [r.summary(rid) for rid, r in self._runtimes.items() if state is None or r.state == state]
        items.sort(key=lambda s: (s.updated_at, s.runtime_id), reverse=True)
        return Page(items=items[offset : offset + limit], total=len(items), offset=offset, limit=limit)

    def list_receipts(
        self, runtime_id: LogicalRuntimeId, *, offset: int = 0, limit: int = 50
    ) -> Page[StoredReceipt]:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            receipts = list(reversed(runtime.receipts.values())) if runtime else []
        return Page(items=receipts[offset : offset + limit], total=len(receipts), offset=offset, limit=limit)
