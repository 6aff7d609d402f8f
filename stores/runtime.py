"""RuntimeStore rules shared by every backend: snapshot validation and event payloads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from stores.contracts import RuntimeStore
from stores.errors import InvalidSnapshot, SessionKeyMismatch
from stores.runtime_state import MachineLifecycleCommit, allowed_next, plan_transition
from stores.runtime_types import (
    MAX_STAGE_ATTEMPTS,
    LogicalRuntimeId,
    RunBoundaryReceipt,
    RuntimeState,
    StoredInputState,
)
from stores.types import Fence

SUBJECT = "runtime"
# Fence labels: the FenceGuard records which write a stale token tried.
FENCE_APPLY = "runtime.apply"
FENCE_SNAPSHOT = "runtime.snapshot"
FENCE_LIFECYCLE = "runtime.lifecycle"


def dedupe_inputs(states: Sequence[StoredInputState]) -> list[StoredInputState]:
    """One upsert per input_id, as if applied in order: the first one's place, the last one's value."""
    by_id: dict[UUID, StoredInputState] = {}
    for state in states:
        by_id[state.input_id] = state
    return list(by_id.values())


def parse_json_object(data: bytes, *, what: str) -> dict[str, Any]:
    """The bytes as a JSON object, or InvalidSnapshot saying what is wrong."""
    if not isinstance(data, bytes | bytearray):
        raise InvalidSnapshot(f"{what} must be bytes, not {type(data).__name__}")
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidSnapshot(f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    except ValueError as exc:
        raise InvalidSnapshot(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidSnapshot(f"{what} must be a JSON object, not {type(doc).__name__}")
    return doc


def validate_session_snapshot(
    data: bytes, session_store_key: UUID | None, *, runtime_id: LogicalRuntimeId
) -> UUID | None:
    """Check a snapshot before anything is written; returns its session id (its "id"), if any.

    With a session_store_key the snapshot must name that session: one without an "id" cannot
    prove it belongs there, so it is a mismatch too."""
    doc = parse_json_object(data, what="session snapshot")
    session_id: UUID | None = None
    if "id" in doc:
        try:
            session_id = UUID(str(doc["id"])) if isinstance(doc["id"], str) else None
        except ValueError:
            session_id = None
        if session_id is None:
            raise InvalidSnapshot(f"session snapshot id must be a UUID string, got {doc['id']!r:.80}")
    if session_store_key is not None and session_id != session_store_key:
        raise SessionKeyMismatch(
            f"session snapshot for runtime {runtime_id!r} belongs to session {session_id}, "
            f"not to the session_store_key {session_store_key}",
            runtime_id=runtime_id,
            expected=str(session_store_key),
            actual=str(session_id) if session_id is not None else None,
        )
    return session_id


def input_brief(state: StoredInputState) -> dict[str, Any]:
    return {"input_id": str(state.input_id), "current_state": state.current_state.value}


def state_payload(
    runtime_id: LogicalRuntimeId,
    previous: RuntimeState | None,
    state: RuntimeState,
    inputs: Sequence[StoredInputState],
    now: datetime,
) -> dict[str, Any]:
    return {
        "runtime_id": runtime_id,
        "previous_state": previous.value if previous is not None else None,
        "state": state.value,
        "allowed_next": [s.value for s in allowed_next(state)],
        "state_changed_at": now.isoformat(),
        "inputs": [input_brief(s) for s in inputs],
    }


def boundary_payload(
    runtime_id: LogicalRuntimeId,
    state: RuntimeState | None,
    receipt: RunBoundaryReceipt,
    inputs: Sequence[StoredInputState],
    snapshot: bytes | None,
    session_store_key: UUID | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "runtime_id": runtime_id,
        "state": state.value if state is not None else None,
        "receipt": receipt.to_json(),
        "inputs": [input_brief(s) for s in inputs],
        "snapshot_bytes": len(snapshot) if snapshot is not None else None,
        "session_store_key": str(session_store_key) if session_store_key is not None else None,
        "committed_at": now.isoformat(),
    }


def snapshot_payload(runtime_id: LogicalRuntimeId, snapshot: bytes, now: datetime) -> dict[str, Any]:
    return {"runtime_id": runtime_id, "snapshot_bytes": len(snapshot), "committed_at": now.isoformat()}


def input_payload(runtime_id: LogicalRuntimeId, state: StoredInputState, now: datetime) -> dict[str, Any]:
    return {"runtime_id": runtime_id, "input": input_brief(state), "persisted_at": now.isoformat()}


def ops_payload(runtime_id: LogicalRuntimeId, snapshot: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"runtime_id": runtime_id, "epoch_id": snapshot.get("epoch_id"), "persisted_at": now.isoformat()}


def change_state(
    store: RuntimeStore,
    runtime_id: LogicalRuntimeId,
    target: RuntimeState,
    input_states: Sequence[StoredInputState] = (),
    *,
    fence: Fence | None = None,
) -> MachineLifecycleCommit:
    """Plan the move from the stored state through the state machine, then commit it (the store
    re-checks the plan in its transaction). InvalidTransition if illegal or raced."""
    commit = plan_transition(store.load_runtime_state(runtime_id), target, runtime_id=runtime_id)
    store.commit_machine_lifecycle(runtime_id, commit, input_states, fence=fence)
    return commit


def input_note(state: StoredInputState) -> str | None:
    """Why an input looks stuck, if it does (the pages show it)."""
    if state.current_state.is_terminal:
        return None
    if state.attempt_count >= MAX_STAGE_ATTEMPTS:
        return (f"staged {state.attempt_count} times (the limit is {MAX_STAGE_ATTEMPTS}); "
                "the runtime should abandon it as max_attempts_exhausted")
    return None
