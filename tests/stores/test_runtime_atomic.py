"""All-or-nothing, proven: a failure injected between the writes of atomic_apply and
commit_machine_lifecycle leaves nothing of the commit visible, on every backend and database.

The failure comes through real seams: the stores' `after_write` hook (called after each write,
inside the transaction) and the receipts' unique key (a duplicate makes the second write fail).
The ORM tests run with real transactions (transactional_db) and read the result back from
another database connection, so "nothing visible" means nothing was committed. Run them on
SQLite (the default) and on PostgreSQL (DATABASE_URL=postgres://...).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from django.db import connection

from stores.backends.memory.runtime import InMemoryRuntimeStore
from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.runtime import OrmRuntimeStore
from stores.errors import FencingUnavailable, InvalidTransition, WriteFailed
from stores.events import InMemoryEventLog
from stores.fencing import InMemoryFenceGuard
from stores.runtime_state import plan_transition
from stores.runtime_types import (
    InputLifecycleState,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RuntimeState,
    SessionDelta,
    StoredInputState,
)
from stores.types import Event, Fence

T = TypeVar("T")
RID = "rt:atomic"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class InjectedFault(Exception):
    pass


class Harness:
    """A store whose after_write hook fails at a chosen step, and a view of what is committed."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.fail_at: str | None = None
        self.steps: list[str] = []
        self.published: list[Event] = []
        self.guard = InMemoryFenceGuard()
        events = OrmEventLog(publisher=self.published.append) if backend == "orm" else InMemoryEventLog(
            publisher=self.published.append
        )
        cls = OrmRuntimeStore if backend == "orm" else InMemoryRuntimeStore
        self.store = cls(events=events, fence_guard=self.guard, after_write=self._after_write)  # type: ignore[abstract]

    def _after_write(self, step: str) -> None:
        self.steps.append(step)
        if step == self.fail_at:
            raise InjectedFault(f"injected after the {step} write")

    def committed(self, read: Callable[[], T]) -> T:
        """Run a read the way another process would see it: on the ORM, on a fresh connection."""
        if self.backend != "orm":
            return read()
        result: list[Any] = []

        def other_connection() -> None:
            try:
                result.append(read())
            finally:
                connection.close()

        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(timeout=30)
        return result[0]  # type: ignore[no-any-return]

    def visible(self) -> dict[str, Any]:
        store = self.store

        def read() -> dict[str, Any]:
            return {
                "snapshot": store.load_session_snapshot(RID),
                "state": store.load_runtime_state(RID),
                "inputs": store.load_input_states(RID),
                "receipts": [r.receipt for r in store.list_receipts(RID).items],
                "runtimes": store.list_runtimes().total,
                "events": [e.kind for e in store.events.since(0)],
            }

        return self.committed(read)


@pytest.fixture(params=["in_memory", "orm"])
def harness(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[Harness]:
    yield Harness(str(request.param))


def receipt(sequence: int = 0) -> RunBoundaryReceipt:
    return RunBoundaryReceipt(run_id=uuid.UUID(int=7), boundary=RunApplyBoundary.RUN_CHECKPOINT, sequence=sequence)


def snapshot(**doc: Any) -> SessionDelta:
    return SessionDelta(json.dumps(doc).encode())


def inputs(n: int) -> list[StoredInputState]:
    return [StoredInputState.new_accepted(uuid.uuid4(), NOW) for _ in range(n)]


@pytest.mark.parametrize("step", ["snapshot", "receipt", "inputs"])
def test_atomic_apply_failing_between_its_writes_leaves_nothing(harness: Harness, step: str) -> None:
    harness.fail_at = step
    with pytest.raises(InjectedFault):
        harness.store.atomic_apply(RID, snapshot(v=1), receipt(), inputs(3))
    assert harness.steps[-1] == step
    assert harness.visible() == {
        "snapshot": None, "state": None, "inputs": [], "receipts": [], "runtimes": 0, "events": [],
    }
    assert harness.published == []


@pytest.mark.parametrize("step", ["snapshot", "receipt", "inputs"])
def test_atomic_apply_failing_on_an_existing_runtime_keeps_the_previous_commit(harness: Harness, step: str) -> None:
    kept = inputs(2)
    harness.store.atomic_apply(RID, snapshot(v="kept"), receipt(0), kept)
    before = harness.visible()
    harness.fail_at = step
    consumed = StoredInputState(kept[0].input_id, InputLifecycleState.CONSUMED, created_at=NOW, updated_at=NOW)
    updated = [consumed, *inputs(1)]
    with pytest.raises(InjectedFault):
        harness.store.atomic_apply(RID, snapshot(v="lost"), receipt(1), updated)
    assert harness.visible() == before
    assert json.loads(harness.visible()["snapshot"]) == {"v": "kept"}
    assert [e.kind for e in harness.published] == ["runtime.boundary_committed"]


def test_duplicate_receipt_fails_the_second_write_and_rolls_back_the_first(harness: Harness) -> None:
    harness.store.atomic_apply(RID, snapshot(v="first"), receipt(4), inputs(1))
    before = harness.visible()
    harness.steps.clear()
    with pytest.raises(WriteFailed):
        harness.store.atomic_apply(RID, snapshot(v="second"), receipt(4), inputs(2))
    # The snapshot write happened inside the transaction before the receipt insert failed.
    assert harness.steps == ["snapshot"]
    assert harness.visible() == before


@pytest.mark.parametrize("step", ["runtime_state", "inputs"])
def test_commit_machine_lifecycle_failing_between_its_writes_leaves_nothing(harness: Harness, step: str) -> None:
    store = harness.store
    store.commit_machine_lifecycle(RID, plan_transition(None, RuntimeState.INITIALIZING), inputs(1))
    before = harness.visible()
    harness.fail_at = step
    with pytest.raises(InjectedFault):
        store.commit_machine_lifecycle(
            RID, plan_transition(RuntimeState.INITIALIZING, RuntimeState.IDLE), inputs(2)
        )
    assert harness.visible() == before
    assert harness.visible()["state"] == RuntimeState.INITIALIZING
    assert len(harness.published) == 1


def test_first_commit_machine_lifecycle_failing_leaves_no_runtime(harness: Harness) -> None:
    harness.fail_at = "inputs"
    with pytest.raises(InjectedFault):
        harness.store.commit_machine_lifecycle(RID, plan_transition(None, RuntimeState.INITIALIZING), inputs(3))
    assert harness.visible()["runtimes"] == 0


def test_stale_fence_is_rejected_before_any_write(harness: Harness) -> None:
    harness.guard.grant("planner", 2)
    with pytest.raises(Exception, match="fencing token"):
        harness.store.atomic_apply(RID, snapshot(v=1), receipt(), inputs(1), fence=Fence("planner", 1))
    assert harness.steps == []
    assert harness.visible()["runtimes"] == 0


def test_fenced_commit_without_a_guard_is_refused(transactional_db: None) -> None:
    for store in (InMemoryRuntimeStore(), OrmRuntimeStore(events=OrmEventLog())):
        with pytest.raises(FencingUnavailable):
            store.atomic_apply(RID, None, receipt(), [], fence=Fence("planner", 1))
        assert store.load_input_states(RID) == []


def race(workers: int, work: Callable[[int], None]) -> list[BaseException | None]:
    """Run `work` in threads that start together; each returns None or the error it raised."""
    barrier = threading.Barrier(workers)
    outcomes: list[BaseException | None] = [None] * workers

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - the outcome is the assertion
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_racing_commits_planned_from_the_same_state_let_exactly_one_win(harness: Harness) -> None:
    store = harness.store
    store.commit_machine_lifecycle(RID, plan_transition(None, RuntimeState.INITIALIZING), [])
    store.commit_machine_lifecycle(RID, plan_transition(RuntimeState.INITIALIZING, RuntimeState.IDLE), [])
    targets = [RuntimeState.RUNNING, RuntimeState.ATTACHED, RuntimeState.RETIRED, RuntimeState.STOPPED]
    plans = [plan_transition(RuntimeState.IDLE, t) for t in targets]
    outcomes = race(len(plans), lambda i: store.commit_machine_lifecycle(RID, plans[i], inputs(1)))
    winners = [targets[i] for i, o in enumerate(outcomes) if o is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, InvalidTransition) for o in outcomes if o is not None)
    assert harness.visible()["state"] == winners[0]
    assert len(harness.visible()["inputs"]) == 1


def test_racing_applies_of_one_receipt_commit_exactly_once(harness: Harness) -> None:
    store = harness.store
    outcomes = race(4, lambda i: store.atomic_apply(RID, snapshot(writer=i), receipt(9), inputs(1)))
    winners = [i for i, o in enumerate(outcomes) if o is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, WriteFailed) for o in outcomes if o is not None)
    seen = harness.visible()
    assert json.loads(seen["snapshot"]) == {"writer": winners[0]}
    assert len(seen["inputs"]) == 1 and len(seen["receipts"]) == 1
