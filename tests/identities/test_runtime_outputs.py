"""inspect and wait_for_output, backed by the OutputStore: the newest output of producer = identity."""

from __future__ import annotations

import threading
import time

import pytest

from identities.errors import WaitTimeout
from identities.types import ManagedPeerEdge
from stores.output_types import Final, InlineContent, Partial
from stores.types import Fence
from tests.identities.conftest import Harness, build, spec


def append(h: Harness, text: str, *, final: bool = False, identity: str = "alpha", fence: Fence | None = None) -> str:
    event = Final(InlineContent(text), ok=True) if final else Partial(InlineContent(text))
    return h.outputs.append("task-1", 1, identity, event, fence=fence).ref


def test_inspect_reports_the_newest_output_and_reachable_peers(h: Harness) -> None:
    h.runtime.restore_flow([spec("alpha"), spec("beta"), spec("gamma")])
    h.runtime.reconcile_managed_peer_edges([ManagedPeerEdge.of("alpha", "beta"), ManagedPeerEdge.of("alpha", "gamma")])
    h.runtime.acquire_lease("beta", h.online_agent())
    empty = h.runtime.inspect("alpha")
    assert (empty.output_preview, empty.is_final, empty.peer_reachable_count) == (None, False, 1)
    agent = h.online_agent()
    grant = h.runtime.acquire_lease("alpha", agent)
    append(h, "thinking", fence=Fence("alpha", grant.fencing_token, agent))
    ref = append(h, "the answer", final=True)
    seen = h.runtime.inspect("alpha")
    assert seen.output_preview == "ok: the answer" and seen.is_final and seen.output_ref == ref


def test_an_output_appended_with_a_stale_token_is_refused(h: Harness) -> None:
    h.runtime.create_identity(spec("alpha"))
    agent = h.online_agent()
    old = h.runtime.acquire_lease("alpha", agent)
    h.runtime.acquire_lease("alpha", agent)
    from stores.errors import StaleFencingToken

    with pytest.raises(StaleFencingToken), h.runtime.recording_rejections():
        append(h, "late", fence=Fence("alpha", old.fencing_token, agent))
    assert h.runtime.inspect("alpha").output_preview is None
    [rejection] = h.runtime.registry().list_rejections(identity="alpha").items
    assert rejection.operation == "output.append" and rejection.agent_id == agent


def test_wait_for_output_returns_a_matching_output_at_once(h: Harness) -> None:
    h.runtime.create_identity(spec("alpha"))
    append(h, "hello world")
    assert h.runtime.wait_for_output("alpha", 1).output_preview == "hello world"
    assert h.runtime.wait_for_output_containing("alpha", "world", 1) == "hello world"


def test_wait_for_output_times_out_without_a_match(h: Harness) -> None:
    h.runtime.create_identity(spec("alpha"))
    append(h, "hello")
    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        h.runtime.wait_for_output_containing("alpha", "goodbye", 0.2)
    assert time.monotonic() - started < 2


def test_wait_for_output_is_woken_by_the_append() -> None:
    h = build("in_memory")
    h.runtime.create_identity(spec("alpha"))
    append(h, "working")
    timer = threading.Timer(0.1, lambda: append(h, "done: 42", final=True))
    timer.start()
    started = time.monotonic()
    found = h.runtime.wait_for_output("alpha", 5, containing="42")
    timer.join()
    assert found.is_final and found.output_preview == "ok: done: 42"
    assert time.monotonic() - started < 2
