"""RuntimeStore conformance (semantics 4.7, with the SQLite semantics of 4.5), run against every backend.

Decisions this suite pins (SPEC 3): a duplicate receipt is WriteFailed and rolls back the whole
apply; every snapshot is validated (a UTF-8 JSON object whose "id", if any, is a UUID); with a
session_store_key the snapshot must carry that id; input states load in first-insertion order;
runtime state changes follow the legal-transition table.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stores.contracts import RuntimeStore
from stores.errors import (
    InvalidSnapshot,
    InvalidTransition,
    NotFound,
    SessionKeyMismatch,
    StaleFencingToken,
    WriteFailed,
)
from stores.runtime_state import MachineLifecycleCommit, allowed_next, plan_transition
from stores.runtime_types import (
    InputLifecycleState,
    InputTransition,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RuntimeState,
    SessionDelta,
    StoredInputState,
    legacy_session_uuid_alias,
    runtime_id_for_session,
)
from stores.types import Fence

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
RID = "rt:test-runtime"


def receipt(
    sequence: int = 0, run_id: uuid.UUID | None = None, inputs: tuple[uuid.UUID, ...] = ()
) -> RunBoundaryReceipt:
    return RunBoundaryReceipt(
        run_id=run_id or uuid.uuid4(), boundary=RunApplyBoundary.RUN_START, sequence=sequence,
        contributing_input_ids=inputs,
    )


def accepted(input_id: uuid.UUID | None = None) -> StoredInputState:
    return StoredInputState.new_accepted(input_id or uuid.uuid4(), NOW)


def moved(state: StoredInputState, to: InputLifecycleState, reason: str | None = None) -> StoredInputState:
    later = state.updated_at + timedelta(seconds=1)
    entry = InputTransition(timestamp=later, from_state=state.current_state, to_state=to, reason=reason)
    return StoredInputState(
        input_id=state.input_id, current_state=to, created_at=state.created_at, updated_at=later,
        attempt_count=state.attempt_count, history=(*state.history, entry),
    )


def session(session_id: uuid.UUID | None = None, **extra: Any) -> SessionDelta:
    doc: dict[str, Any] = {"messages": [], **extra}
    if session_id is not None:
        doc["id"] = str(session_id)
    return SessionDelta(json.dumps(doc).encode())


def move(
    store: RuntimeStore, runtime_id: str, *targets: RuntimeState, inputs: list[StoredInputState] | None = None
) -> None:
    for target in targets:
        commit = plan_transition(store.load_runtime_state(runtime_id), target, runtime_id=runtime_id)
        store.commit_machine_lifecycle(runtime_id, commit, inputs or [])


# -- semantics 4.7 ------------------------------------------------------------------------------


def test_atomic_apply_round_trips_the_input_state_and_the_receipt(runtime_store: RuntimeStore) -> None:
    state = accepted()
    rec = receipt(inputs=(state.input_id,))
    runtime_store.atomic_apply(RID, session(), rec, [state])
    assert runtime_store.load_input_states(RID) == [state]
    assert runtime_store.load_boundary_receipt(RID, rec.run_id, rec.sequence) == rec


def test_persist_input_state_then_load_input_state_returns_it(runtime_store: RuntimeStore) -> None:
    state = moved(accepted(), InputLifecycleState.QUEUED, "admitted")
    runtime_store.persist_input_state(RID, state)
    assert runtime_store.load_input_state(RID, state.input_id) == state


def test_loads_on_an_empty_store_return_nothing(runtime_store: RuntimeStore) -> None:
    assert runtime_store.load_input_states(RID) == []
    assert runtime_store.load_boundary_receipt(RID, uuid.uuid4(), 0) is None
    assert runtime_store.load_session_snapshot(RID) is None
    assert runtime_store.load_input_state(RID, uuid.uuid4()) is None
    assert runtime_store.load_runtime_state(RID) is None
    assert runtime_store.load_ops_lifecycle(RID) is None


def test_atomic_apply_twice_for_one_input_keeps_one_state_with_the_latest_phase(runtime_store: RuntimeStore) -> None:
    first = accepted()
    runtime_store.atomic_apply(RID, None, receipt(0), [first])
    runtime_store.atomic_apply(RID, None, receipt(1), [moved(first, InputLifecycleState.QUEUED)])
    states = runtime_store.load_input_states(RID)
    assert len(states) == 1
    assert states[0].current_state == InputLifecycleState.QUEUED


def test_matching_session_store_key_stores_under_the_runtime_and_creates_no_alias(runtime_store: RuntimeStore) -> None:
    session_id = uuid.uuid4()
    rid = runtime_id_for_session(session_id)
    delta = session(session_id)
    runtime_store.atomic_apply(rid, delta, receipt(), [], session_store_key=session_id)
    assert runtime_store.load_session_snapshot(rid) == delta.session_snapshot
    assert runtime_store.load_session_snapshot(legacy_session_uuid_alias(session_id)) is None


def test_mismatched_session_store_key_is_rejected_and_writes_nothing(runtime_store: RuntimeStore) -> None:
    expected, actual = uuid.uuid4(), uuid.uuid4()
    rec = receipt()
    with pytest.raises(SessionKeyMismatch) as excinfo:
        runtime_store.atomic_apply(RID, session(actual), rec, [accepted()], session_store_key=expected)
    assert excinfo.value.code == "session_key_mismatch"
    assert excinfo.value.context["expected"] == str(expected)
    assert excinfo.value.context["actual"] == str(actual)
    assert runtime_store.load_session_snapshot(RID) is None
    assert runtime_store.load_boundary_receipt(RID, rec.run_id, rec.sequence) is None
    assert runtime_store.load_input_states(RID) == []


def test_session_store_key_with_a_snapshot_without_id_is_a_mismatch(runtime_store: RuntimeStore) -> None:
    with pytest.raises(SessionKeyMismatch):
        runtime_store.atomic_apply(RID, session(), receipt(), [], session_store_key=uuid.uuid4())
    assert runtime_store.load_session_snapshot(RID) is None


def test_machine_owned_receipt_round_trips_exactly(runtime_store: RuntimeStore) -> None:
    rec = RunBoundaryReceipt(
        run_id=uuid.uuid4(),
        boundary=RunApplyBoundary.IMMEDIATE,
        contributing_input_ids=(uuid.uuid4(), uuid.uuid4()),
        conversation_digest="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        message_count=42,
        sequence=7,
    )
    runtime_store.atomic_apply(RID, None, rec, [])
    assert runtime_store.load_boundary_receipt(RID, rec.run_id, 7) == rec


def test_two_runtimes_are_isolated(runtime_store: RuntimeStore) -> None:
    runtime_store.atomic_apply("rt:a", session(note="a"), receipt(), [accepted()])
    runtime_store.atomic_apply("rt:b", session(note="b"), receipt(), [accepted(), accepted()])
    assert len(runtime_store.load_input_states("rt:a")) == 1
    assert len(runtime_store.load_input_states("rt:b")) == 2
    assert json.loads(runtime_store.load_session_snapshot("rt:a") or b"")["note"] == "a"


def test_load_session_snapshot_returns_the_committed_bytes(runtime_store: RuntimeStore) -> None:
    raw = '{"id": "' + str(uuid.uuid4()) + '",  "messages": ["héllo"], "z": 1}'
    runtime_store.atomic_apply(RID, SessionDelta(raw.encode()), receipt(), [])
    assert runtime_store.load_session_snapshot(RID) == raw.encode()


def test_commit_session_snapshot_writes_no_receipt_and_no_input_states(runtime_store: RuntimeStore) -> None:
    delta = session(uuid.uuid4())
    runtime_store.commit_session_snapshot(RID, delta)
    assert runtime_store.load_session_snapshot(RID) == delta.session_snapshot
    assert runtime_store.load_input_states(RID) == []
    assert runtime_store.list_receipts(RID).total == 0


def test_duplicate_receipt_is_write_failed_and_rolls_back_the_whole_apply(runtime_store: RuntimeStore) -> None:
    first_input = accepted()
    old = session(note="old")
    rec = receipt(3)
    runtime_store.atomic_apply(RID, old, rec, [first_input])
    with pytest.raises(WriteFailed) as excinfo:
        runtime_store.atomic_apply(
            RID, session(note="new"), rec, [moved(first_input, InputLifecycleState.QUEUED), accepted()]
        )
    assert excinfo.value.code == "write_failed"
    assert excinfo.value.context["sequence"] == 3
    assert runtime_store.load_session_snapshot(RID) == old.session_snapshot
    assert runtime_store.load_input_states(RID) == [first_input]
    assert runtime_store.list_receipts(RID).total == 1


def test_same_run_and_sequence_in_another_runtime_is_not_a_duplicate(runtime_store: RuntimeStore) -> None:
    rec = receipt(1)
    runtime_store.atomic_apply("rt:a", None, rec, [])
    runtime_store.atomic_apply("rt:b", None, rec, [])
    assert runtime_store.load_boundary_receipt("rt:b", rec.run_id, 1) == rec


def test_commit_machine_lifecycle_persists_the_state_and_the_input_states(runtime_store: RuntimeStore) -> None:
    a, b = accepted(), accepted()
    commit = plan_transition(None, RuntimeState.INITIALIZING, runtime_id=RID)
    runtime_store.commit_machine_lifecycle(RID, commit, [a, b])
    assert runtime_store.load_runtime_state(RID) == RuntimeState.INITIALIZING
    assert runtime_store.load_input_states(RID) == [a, b]


def test_ops_lifecycle_snapshot_round_trips(runtime_store: RuntimeStore) -> None:
    snapshot = {
        "epoch_id": str(uuid.uuid4()),
        "authority_state": {"phase": "active", "generation": 3},
        "operation_specs": {"op-1": {"kind": "tool_call", "terminal": False}},
        "completion_entries": [{"op_id": "op-0", "outcome": "completed", "terminal": True}],
        "cursors": {"completions": 1},
    }
    runtime_store.persist_ops_lifecycle(RID, snapshot)
    assert runtime_store.load_ops_lifecycle(RID) == snapshot
    assert runtime_store.load_ops_lifecycle("rt:other") is None
    runtime_store.persist_ops_lifecycle(RID, {**snapshot, "cursors": {"completions": 2}})
    assert (runtime_store.load_ops_lifecycle(RID) or {})["cursors"] == {"completions": 2}


# -- input order ----------------------------------------------------------------------------------


def test_input_states_load_in_first_insertion_order_and_an_update_keeps_its_place(
    runtime_store: RuntimeStore,
) -> None:
    # Ids chosen so that a sort by input_id would give the opposite order.
    ids = [uuid.UUID(int=n) for n in (0xF0, 0xA0, 0x10)]
    states = [accepted(i) for i in ids]
    runtime_store.persist_input_state(RID, states[0])
    runtime_store.atomic_apply(RID, None, receipt(0), [states[1]])
    runtime_store.persist_input_state(RID, states[2])
    runtime_store.persist_input_state(RID, moved(states[0], InputLifecycleState.QUEUED))
    loaded = runtime_store.load_input_states(RID)
    assert [s.input_id for s in loaded] == ids
    assert loaded[0].current_state == InputLifecycleState.QUEUED


def test_one_input_listed_twice_in_a_commit_is_upserted_once_with_the_last_value(runtime_store: RuntimeStore) -> None:
    state = accepted()
    runtime_store.atomic_apply(RID, None, receipt(), [state, moved(state, InputLifecycleState.QUEUED)])
    loaded = runtime_store.load_input_states(RID)
    assert [s.current_state for s in loaded] == [InputLifecycleState.QUEUED]


def test_input_state_with_every_optional_member_round_trips(runtime_store: RuntimeStore) -> None:
    run_id = uuid.uuid4()
    state = StoredInputState(
        input_id=uuid.uuid4(),
        current_state=InputLifecycleState.ABANDONED,
        created_at=NOW,
        updated_at=NOW + timedelta(seconds=5),
        attempt_count=3,
        recovery_count=1,
        history=(
            InputTransition(NOW, InputLifecycleState.ACCEPTED, InputLifecycleState.QUEUED),
            InputTransition(NOW, InputLifecycleState.QUEUED, InputLifecycleState.ABANDONED, "retired"),
        ),
        last_run_id=run_id,
        last_boundary_sequence=9,
        terminal_outcome={"outcome_type": "abandoned", "reason": {"max_attempts_exhausted": {"attempts": 3}}},
        policy={"version": 2, "decision": {"apply_mode": "stage_run_start"}},
        runtime_semantics={"kind": "prompt"},
        durability="durable",
        idempotency_key="idem-1",
        reconstruction_source={"coalescing": {"source_input_ids": [str(uuid.uuid4())]}},
        persisted_input={"text": "hello", "n": [1, 2.5, None, True]},
    )
    runtime_store.persist_input_state(RID, state)
    assert runtime_store.load_input_state(RID, state.input_id) == state


# -- snapshot validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"session-data", b"\xff\xfe{}", b"[1, 2]", b'"text"', b"", b'{"id": "not-a-uuid"}', b'{"id": 7}'],
    ids=["not-json", "not-utf8", "array", "string", "empty", "bad-id", "numeric-id"],
)
def test_invalid_snapshot_is_rejected_and_nothing_is_written(runtime_store: RuntimeStore, raw: bytes) -> None:
    rec = receipt()
    with pytest.raises(InvalidSnapshot) as excinfo:
        runtime_store.atomic_apply(RID, SessionDelta(raw), rec, [accepted()])
    assert excinfo.value.code == "invalid_snapshot"
    with pytest.raises(InvalidSnapshot):
        runtime_store.commit_session_snapshot(RID, SessionDelta(raw))
    assert runtime_store.load_session_snapshot(RID) is None
    assert runtime_store.load_boundary_receipt(RID, rec.run_id, rec.sequence) is None
    assert runtime_store.load_input_states(RID) == []


# -- the state machine ---------------------------------------------------------------------------


def test_runtime_walks_a_legal_path_to_destroyed(runtime_store: RuntimeStore) -> None:
    path = [RuntimeState.INITIALIZING, RuntimeState.IDLE, RuntimeState.RUNNING, RuntimeState.RETIRED,
            RuntimeState.STOPPED, RuntimeState.DESTROYED]
    move(runtime_store, RID, *path)
    assert runtime_store.load_runtime_state(RID) == RuntimeState.DESTROYED
    assert allowed_next(RuntimeState.DESTROYED) == []


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, RuntimeState.IDLE),
        (RuntimeState.INITIALIZING, RuntimeState.RUNNING),
        (RuntimeState.STOPPED, RuntimeState.IDLE),
        (RuntimeState.DESTROYED, RuntimeState.IDLE),
        (RuntimeState.DESTROYED, RuntimeState.DESTROYED),
        (RuntimeState.RETIRED, RuntimeState.IDLE),
    ],
)
def test_illegal_transition_is_invalid_transition(current: RuntimeState | None, target: RuntimeState) -> None:
    with pytest.raises(InvalidTransition) as excinfo:
        plan_transition(current, target, runtime_id=RID)
    assert excinfo.value.code == "invalid_transition"


def test_commit_can_only_be_built_by_the_state_machine() -> None:
    with pytest.raises(TypeError):
        MachineLifecycleCommit(from_state=None, runtime_state=RuntimeState.RUNNING)


def test_staying_in_a_state_commits_inputs_without_a_transition(runtime_store: RuntimeStore) -> None:
    move(runtime_store, RID, RuntimeState.INITIALIZING, RuntimeState.IDLE)
    state = accepted()
    move(runtime_store, RID, RuntimeState.IDLE, inputs=[state])
    assert runtime_store.load_runtime_state(RID) == RuntimeState.IDLE
    assert runtime_store.load_input_states(RID) == [state]


def test_commit_planned_from_a_state_that_moved_since_is_rejected(runtime_store: RuntimeStore) -> None:
    move(runtime_store, RID, RuntimeState.INITIALIZING, RuntimeState.IDLE)
    stale = plan_transition(RuntimeState.IDLE, RuntimeState.RUNNING, runtime_id=RID)
    move(runtime_store, RID, RuntimeState.STOPPED)
    with pytest.raises(InvalidTransition) as excinfo:
        runtime_store.commit_machine_lifecycle(RID, stale, [accepted()])
    assert excinfo.value.context["current_state"] == "stopped"
    assert runtime_store.load_runtime_state(RID) == RuntimeState.STOPPED
    assert runtime_store.load_input_states(RID) == []


# -- fencing -------------------------------------------------------------------------------------


def test_fenced_commits_with_the_current_token_are_written(runtime_store: RuntimeStore, runtime_fences: Any) -> None:
    fence = Fence(identity="planner", token=runtime_fences.grant("planner"))
    runtime_store.commit_session_snapshot(RID, session(note="s"), fence=fence)
    runtime_store.atomic_apply(RID, session(note="a"), receipt(), [accepted()], fence=fence)
    runtime_store.commit_machine_lifecycle(
        RID, plan_transition(None, RuntimeState.INITIALIZING, runtime_id=RID), [], fence=fence
    )
    assert runtime_store.load_runtime_state(RID) == RuntimeState.INITIALIZING
    assert len(runtime_store.load_input_states(RID)) == 1


def test_fenced_commits_with_a_stale_token_are_rejected_and_write_nothing(
    runtime_store: RuntimeStore, runtime_fences: Any
) -> None:
    stale = Fence(identity="planner", token=runtime_fences.grant("planner"))
    current = runtime_fences.grant("planner")
    rec = receipt()
    with pytest.raises(StaleFencingToken) as excinfo:
        runtime_store.atomic_apply(RID, session(note="late"), rec, [accepted()], fence=stale)
    assert excinfo.value.context["current_token"] == current
    with pytest.raises(StaleFencingToken):
        runtime_store.commit_session_snapshot(RID, session(note="late"), fence=stale)
    with pytest.raises(StaleFencingToken):
        runtime_store.commit_machine_lifecycle(
            RID, plan_transition(None, RuntimeState.INITIALIZING, runtime_id=RID), [accepted()], fence=stale
        )
    assert runtime_store.load_session_snapshot(RID) is None
    assert runtime_store.load_boundary_receipt(RID, rec.run_id, rec.sequence) is None
    assert runtime_store.load_input_states(RID) == []
    assert runtime_store.load_runtime_state(RID) is None
    with pytest.raises(NotFound):
        runtime_store.get_runtime(RID)


# -- the OAuth-flow blob -------------------------------------------------------------------------


def test_oauth_flow_snapshot_is_one_global_blob(runtime_store: RuntimeStore) -> None:
    assert runtime_store.load_auth_oauth_flow_snapshot() is None
    runtime_store.persist_auth_oauth_flow_snapshot(b'{"flows": {}}')
    assert runtime_store.load_auth_oauth_flow_snapshot() == b'{"flows": {}}'
    with pytest.raises(InvalidSnapshot):
        runtime_store.persist_auth_oauth_flow_snapshot(b"not json")
    assert runtime_store.load_auth_oauth_flow_snapshot() == b'{"flows": {}}'


def test_oauth_flow_update_runs_the_function_on_the_current_blob(runtime_store: RuntimeStore) -> None:
    seen: list[bytes | None] = []

    def admit(current: bytes | None) -> bytes:
        seen.append(current)
        flows = json.loads(current or b'{"flows": []}')["flows"]
        return json.dumps({"flows": [*flows, f"flow-{len(flows)}"]}).encode()

    assert runtime_store.update_auth_oauth_flow_snapshot(admit) == b'{"flows": ["flow-0"]}'
    runtime_store.update_auth_oauth_flow_snapshot(admit)
    assert seen == [None, b'{"flows": ["flow-0"]}']
    assert json.loads(runtime_store.load_auth_oauth_flow_snapshot() or b"") == {"flows": ["flow-0", "flow-1"]}


def test_oauth_flow_update_that_raises_changes_nothing(runtime_store: RuntimeStore) -> None:
    runtime_store.persist_auth_oauth_flow_snapshot(b'{"flows": ["a"]}')

    def refuse(current: bytes | None) -> bytes:
        raise RuntimeError("capacity reached")

    with pytest.raises(RuntimeError, match="capacity reached"):
        runtime_store.update_auth_oauth_flow_snapshot(refuse)
    with pytest.raises(InvalidSnapshot):
        runtime_store.update_auth_oauth_flow_snapshot(lambda current: b"[]")
    assert runtime_store.load_auth_oauth_flow_snapshot() == b'{"flows": ["a"]}'


# -- reads for people and events -----------------------------------------------------------------


def test_get_runtime_summarises_everything_stored(runtime_store: RuntimeStore) -> None:
    with pytest.raises(NotFound):
        runtime_store.get_runtime(RID)
    move(runtime_store, RID, RuntimeState.INITIALIZING, RuntimeState.IDLE, inputs=[accepted()])
    runtime_store.atomic_apply(RID, session(), receipt(0), [accepted()])
    runtime_store.atomic_apply(RID, None, receipt(1), [])
    summary = runtime_store.get_runtime(RID)
    assert summary.state == RuntimeState.IDLE
    assert (summary.input_count, summary.receipt_count) == (2, 2)
    assert summary.has_session_snapshot and not summary.has_ops_lifecycle


def test_list_runtimes_filters_by_state_and_paginates(runtime_store: RuntimeStore) -> None:
    for n in range(5):
        move(runtime_store, f"rt:{n}", RuntimeState.INITIALIZING)
    move(runtime_store, "rt:3", RuntimeState.IDLE)
    runtime_store.persist_input_state("rt:stateless", accepted())
    everything = runtime_store.list_runtimes(limit=4)
    assert everything.total == 6 and len(everything.items) == 4
    assert len(runtime_store.list_runtimes(offset=4, limit=4).items) == 2
    idle = runtime_store.list_runtimes(state=RuntimeState.IDLE)
    assert [r.runtime_id for r in idle.items] == ["rt:3"]


def test_list_receipts_is_newest_first(runtime_store: RuntimeStore) -> None:
    recs = [receipt(n) for n in range(3)]
    for rec in recs:
        runtime_store.atomic_apply(RID, None, rec, [])
    page = runtime_store.list_receipts(RID, limit=2)
    assert page.total == 3
    assert [r.receipt for r in page.items] == [recs[2], recs[1]]


def test_commits_emit_self_contained_runtime_events(runtime_store: RuntimeStore) -> None:
    state = accepted()
    move(runtime_store, RID, RuntimeState.INITIALIZING, inputs=[state])
    rec = receipt(4)
    runtime_store.atomic_apply(RID, session(), rec, [state])
    events = runtime_store.events.since(0)  # type: ignore[attr-defined]
    changed = next(e for e in events if e.kind == "runtime.state_changed")
    assert (changed.subject_type, changed.subject_id) == ("runtime", RID)
    assert changed.payload["state"] == "initializing" and changed.payload["previous_state"] is None
    assert changed.payload["allowed_next"] == ["idle", "stopped", "destroyed"]
    boundary = next(e for e in events if e.kind == "runtime.boundary_committed")
    assert boundary.payload["receipt"] == rec.to_json()
    assert boundary.payload["state"] == "initializing"
    assert boundary.payload["inputs"] == [{"input_id": str(state.input_id), "current_state": "accepted"}]


def test_rejected_commits_emit_nothing(runtime_store: RuntimeStore) -> None:
    rec = receipt()
    runtime_store.atomic_apply(RID, None, rec, [])
    before = runtime_store.events.latest_id()  # type: ignore[attr-defined]
    with pytest.raises(WriteFailed):
        runtime_store.atomic_apply(RID, None, rec, [])
    with pytest.raises(InvalidTransition):
        runtime_store.commit_machine_lifecycle(
            RID, plan_transition(RuntimeState.IDLE, RuntimeState.RUNNING, runtime_id=RID), []
        )
    assert runtime_store.events.latest_id() == before  # type: ignore[attr-defined]
