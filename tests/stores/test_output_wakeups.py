"""Output long-polls wake across processes (PostgreSQL LISTEN/NOTIFY), and their signal stays bounded."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.outputs import OrmOutputStore
from stores.output_types import Final, InlineContent
from stores.outputs import ProducerSignal

DONE = Final(content=InlineContent("done"), ok=True)


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY needs PostgreSQL (CI's second pass)")
def test_waiter_in_another_process_is_woken_by_the_append_not_by_its_poll(transactional_db: None) -> None:
    writer = OrmOutputStore(events=OrmEventLog())
    # Its own signal stands for another server process; its poll is far longer than the wait, so
    # only the NOTIFY sent at the append's commit can answer it in time.
    elsewhere = OrmOutputStore(events=OrmEventLog(), signal=ProducerSignal(), poll_interval_s=600)
    seen = writer.append("t", 1, "writer", DONE)
    thread, box = in_thread(lambda: elsewhere.wait_for_next("writer", after_ref=seen.ref, timeout_s=20))
    time.sleep(0.5)  # let the waiter start its listener and block
    appended = writer.append("t", 1, "writer", DONE)
    thread.join(timeout=30)
    assert box["result"] == appended


def test_signal_forgets_a_producer_once_nobody_waits_for_it() -> None:
    signal = ProducerSignal()
    for i in range(1000):
        signal.notify(f"producer-{i}")  # appends nobody waits for leave nothing behind
        assert signal.wait(f"producer-{i}", lambda: None, timeout_s=0, poll_s=1) is None
    assert signal.tracked() == 0


def test_notify_wakes_a_waiting_producer_at_once() -> None:
    signal = ProducerSignal()
    hits: list[int] = []

    def check() -> Any:
        hits.append(1)
        return "found" if len(hits) > 1 else None

    thread, box = in_thread(lambda: signal.wait("p", check, timeout_s=20, poll_s=600))
    while signal.tracked() == 0:
        time.sleep(0.01)
    signal.notify("p")
    thread.join(timeout=30)
    assert box["result"] == "found" and signal.tracked() == 0
