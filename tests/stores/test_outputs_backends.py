"""OutputStore facts beyond the conformance suite: long-polls woken by the append (threads, real
commits), ref clashes, concurrent idempotent retries, fencing without a guard, the registry hook."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stores.backends.memory.outputs import InMemoryOutputStore
from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.outputs import OrmOutputStore
from stores.contracts import OutputStore
from stores.errors import FencingUnavailable, StaleFencingToken
from stores.fencing import InMemoryFenceGuard
from stores.models import Output
from stores.output_types import Final, InlineContent, OutputRecord, Progress
from stores.outputs import ProducerSignal
from stores.types import Fence
from swarmsite import composition as registry

DONE = Final(content=InlineContent("done"), ok=True)
# Far above any wait below: a waiter that returns quickly was woken by the append, not by a poll.
SLOW_POLL_S = 30.0


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run fn in a thread with its own database connection; the result lands in box["result"]."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # surfaced by the test
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.fixture(params=["in_memory", "orm"])
def committed_store(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[OutputStore]:
    """A store whose appends really commit (waiters in other threads must see them)."""
    if request.param == "orm":
        yield OrmOutputStore(events=OrmEventLog(), poll_interval_s=SLOW_POLL_S)
    else:
        yield InMemoryOutputStore()


def test_wait_for_next_wakes_on_an_append_in_the_same_process(committed_store: OutputStore) -> None:
    seen = committed_store.append("t", 1, "writer", Progress(stage="seen"))
    started = time.monotonic()
    thread, box = in_thread(lambda: committed_store.wait_for_next("writer", after_ref=seen.ref, timeout_s=10))
    time.sleep(0.2)  # let the waiter block first (the test passes either way; this makes it meaningful)
    committed_store.append("t", 1, "someone-else", Progress(stage="not for this waiter"))
    appended = committed_store.append("t", 1, "writer", DONE)
    thread.join(timeout=15)
    assert "error" not in box
    assert box["result"] == appended
    assert time.monotonic() - started < 5, "woken by a poll, not by the append"


def test_wait_for_next_without_after_waits_for_an_output_appended_later(committed_store: OutputStore) -> None:
    committed_store.append("t", 1, "writer", Progress(stage="old news"))
    thread, box = in_thread(lambda: committed_store.wait_for_next("writer", timeout_s=10))
    time.sleep(0.2)
    appended = committed_store.append("t", 1, "writer", DONE)
    thread.join(timeout=15)
    assert box["result"] == appended


def test_orm_waiter_in_another_process_finds_the_append_by_polling(transactional_db: None) -> None:
    writer = OrmOutputStore(events=OrmEventLog())
    # Its own signal stands for another server process: it never hears this process's appends.
    elsewhere = OrmOutputStore(events=OrmEventLog(), signal=ProducerSignal(), poll_interval_s=0.1)
    seen = writer.append("t", 1, "writer", Progress(stage="seen"))
    thread, box = in_thread(lambda: elsewhere.wait_for_next("writer", after_ref=seen.ref, timeout_s=10))
    time.sleep(0.2)
    appended = writer.append("t", 1, "writer", DONE)
    thread.join(timeout=15)
    assert box["result"] == appended


def test_orm_wait_reads_the_database_once_per_poll_interval_not_in_a_loop(db: None) -> None:
    store = OrmOutputStore(events=OrmEventLog(), poll_interval_s=SLOW_POLL_S)
    with CaptureQueriesContext(connection) as queries:
        assert store.wait_for_next("writer", timeout_s=0.3) is None
    # The cursor, the first check, and the last check when the timeout ends the wait.
    assert len(queries) <= 3


@pytest.mark.parametrize("backend", ["in_memory", "orm"])
def test_append_draws_again_when_the_random_ref_clashes(
    backend: str, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: OutputStore = OrmOutputStore(events=OrmEventLog()) if backend == "orm" else InMemoryOutputStore()
    first = store.append("t", 1, "p", DONE)
    draws = iter([first.ref.removeprefix("out-"), "00000000ab"])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(draws))
    second = store.append("t", 1, "p", DONE)
    assert second.ref == "out-00000000ab"
    assert store.get(first.ref) == first
    assert store.list_outputs().total == 2


def test_concurrent_retries_with_one_idempotency_key_store_one_output(transactional_db: None) -> None:
    store = OrmOutputStore(events=OrmEventLog())
    barrier = threading.Barrier(4)

    def append() -> OutputRecord:
        barrier.wait()
        return store.append("t", 1, "p", DONE, idempotency_key="same-emit")

    runs = [in_thread(append) for _ in range(4)]
    for thread, _ in runs:
        thread.join(timeout=30)
    assert [box.get("error") for _, box in runs] == [None] * 4
    assert len({box["result"].ref for _, box in runs}) == 1
    assert Output.objects.count() == 1


@pytest.mark.parametrize("backend", ["in_memory", "orm"])
def test_fenced_append_without_a_fence_guard_is_refused_and_writes_nothing(backend: str, db: None) -> None:
    store: OutputStore = OrmOutputStore(events=OrmEventLog()) if backend == "orm" else InMemoryOutputStore()
    with pytest.raises(FencingUnavailable) as excinfo:
        store.append("t", 1, "writer-1", DONE, fence=Fence(identity="writer-1", token=1))
    assert excinfo.value.code == "fencing_unavailable"
    assert store.list_outputs().total == 0


def test_registry_builds_the_orm_store_and_uses_a_fence_guard_once_one_exists(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(registry.output_store(), OrmOutputStore)
    guard = InMemoryFenceGuard()
    guard.grant("writer-1", 5)
    # Stands in for the identity runtime's guard (the registry's hook: a cached fence_guard builder).
    monkeypatch.setattr(registry, "fence_guard", functools.cache(lambda: guard), raising=False)
    registry.reset()
    store = registry.output_store()
    assert store.append("t", 1, "writer-1", DONE, fence=Fence("writer-1", 5)).fencing_token == 5
    with pytest.raises(StaleFencingToken):
        store.append("t", 1, "writer-1", DONE, fence=Fence("writer-1", 4))
