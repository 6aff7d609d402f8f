"""OutputStore conformance (semantics 2.6, plus SPEC 3's decisions), run against every backend."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from stores.contracts import EventSink, OutputStore
from stores.errors import IdempotencyKeyReused, InvalidInput, NotFound, StaleFencingToken, UnknownParent
from stores.output_types import (
    Artifact,
    FileRef,
    Final,
    InlineContent,
    OutputKind,
    Partial,
    Progress,
)
from stores.types import Fence
from tests.stores.conformance.conftest import LeaseFences

DONE = Final(content=InlineContent({"verdict": "pass"}), ok=True)


def note(text: str) -> Progress:
    return Progress(stage=text)


def appended_events(events: EventSink) -> list:
    return [e for e in reversed(events.recent(limit=500)) if e.kind == "output.appended"]


# Semantics 2.6, cases 1-8.


def test_append_then_get_round_trips_every_field(outputs: OutputStore) -> None:
    record = outputs.append("task-1", 1, "planner", DONE)
    fetched = outputs.get(record.ref)
    assert fetched == record
    assert (fetched.task_id, fetched.attempt, fetched.producer_agent) == ("task-1", 1, "planner")
    assert fetched.event == DONE
    assert fetched.parent_refs == ()
    assert fetched.kind == OutputKind.FINAL


def test_get_of_unknown_ref_is_not_found(outputs: OutputStore) -> None:
    with pytest.raises(NotFound) as excinfo:
        outputs.get("missing")
    assert excinfo.value.code == "not_found"


def test_list_for_attempt_keeps_insertion_order_across_producers_and_excludes_other_attempts(
    outputs: OutputStore,
) -> None:
    first = outputs.append("task-1", 1, "a", note("one"))
    outputs.append("task-1", 2, "a", note("other attempt"))
    second = outputs.append("task-1", 1, "b", note("two"))
    outputs.append("task-2", 1, "a", note("other task"))
    third = outputs.append("task-1", 1, "a", note("three"))
    assert [r.ref for r in outputs.list_for_attempt("task-1", 1)] == [first.ref, second.ref, third.ref]


def test_list_for_attempt_of_unknown_pair_is_empty(outputs: OutputStore) -> None:
    assert outputs.list_for_attempt("nobody", 7) == []


def test_refs_are_out_and_ten_lowercase_hex_and_unique(outputs: OutputStore) -> None:
    refs = [outputs.append("task", 1, "p", note(str(i))).ref for i in range(200)]
    assert all(re.fullmatch(r"out-[0-9a-f]{10}", ref) for ref in refs)
    assert len(set(refs)) == len(refs)


def test_get_latest_by_name_returns_the_producers_newest_emit_across_tasks(outputs: OutputStore) -> None:
    outputs.append("task-1", 1, "writer", note("first"))
    outputs.append("task-1", 1, "someone-else", note("noise"))
    second = outputs.append("task-2", 3, "writer", note("second"))
    latest = outputs.get_latest_by_name("writer")
    assert latest.ref == second.ref
    assert latest.task_id == "task-2"


def test_get_latest_by_name_of_unknown_producer_is_not_found(outputs: OutputStore) -> None:
    with pytest.raises(NotFound):
        outputs.get_latest_by_name("never-emitted")


def test_parent_refs_are_persisted_verbatim_in_order(outputs: OutputStore) -> None:
    a = outputs.append("t", 1, "p", note("a"))
    b = outputs.append("t", 1, "p", note("b"))
    c = outputs.append("t", 1, "p", note("c"))
    child = outputs.append("t", 2, "q", DONE, [c.ref, a.ref, b.ref])
    assert child.parent_refs == (c.ref, a.ref, b.ref)
    assert outputs.get(child.ref).parent_refs == (c.ref, a.ref, b.ref)


def test_get_latest_by_name_in_run_never_resolves_across_runs(outputs: OutputStore) -> None:
    run1_old = outputs.append("task", 1, "coder", note("run 1 old"))
    run1_new = outputs.append("task", 1, "coder", note("run 1 new"))
    run2 = outputs.append("task", 2, "coder", note("run 2"))
    outputs.append("task", 1, "reviewer", note("other producer, same run"))
    assert outputs.get_latest_by_name_in_run("task", 1, "coder").ref == run1_new.ref
    assert outputs.get_latest_by_name_in_run("task", 2, "coder").ref == run2.ref
    assert run1_old.ref != run1_new.ref
    with pytest.raises(NotFound):
        outputs.get_latest_by_name_in_run("task", 3, "coder")
    with pytest.raises(NotFound):
        outputs.get_latest_by_name_in_run("other-task", 1, "coder")


# "Latest" is the insertion sequence, never a timestamp or an event type.


def test_latest_is_by_insertion_even_when_the_clock_goes_back(outputs: OutputStore) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        outputs.append("t", 1, "p", note("written first"))
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        later = outputs.append("t", 1, "p", note("written second, earlier clock"))
    assert outputs.get_latest_by_name("p").ref == later.ref
    assert outputs.get_latest_by_name_in_run("t", 1, "p").ref == later.ref
    assert outputs.list_for_attempt("t", 1)[-1].ref == later.ref


def test_latest_after_a_final_is_whatever_came_next(outputs: OutputStore) -> None:
    outputs.append("t", 1, "p", DONE)
    progress = outputs.append("t", 1, "p", note("after final"))
    assert outputs.get_latest_by_name("p").ref == progress.ref


def test_every_event_variant_and_content_kind_round_trips(outputs: OutputStore) -> None:
    events = [
        Progress(stage="planning", note=None),
        Progress(stage="coding", note="half way"),
        Partial(chunk=InlineContent("some text")),
        Artifact(name="report.md", content=FileRef(path="s3://bucket/report.md", mime="text/markdown", size_hint=4096)),
        Artifact(name="bare", content=FileRef(path="/tmp/x")),
        Final(content=InlineContent({"verdict": "blocked", "why": ["tests", 3, None, 1.5]}), ok=False),
        Final(content=InlineContent(None), ok=True),
    ]
    refs = [outputs.append("t", 1, "p", event).ref for event in events]
    assert [outputs.get(ref).event for ref in refs] == events
    assert [outputs.get(ref).kind for ref in refs] == [e.kind for e in events]


def test_records_are_immutable(outputs: OutputStore) -> None:
    record = outputs.append("t", 1, "p", DONE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.task_id = "changed"  # type: ignore[misc]


# Lineage: parents must exist (checked in the append's transaction); children_of reads the edges.


def test_append_naming_an_unknown_parent_is_unknown_parent_and_writes_nothing(
    outputs: OutputStore, output_events: EventSink
) -> None:
    known = outputs.append("t", 1, "p", note("known"))
    before = len(appended_events(output_events))
    with pytest.raises(UnknownParent) as excinfo:
        outputs.append("t", 1, "p", DONE, [known.ref, "out-0000000000", "not-a-ref"])
    assert isinstance(excinfo.value, NotFound)
    assert excinfo.value.code == "unknown_parent"
    assert excinfo.value.context["unknown_refs"] == ["out-0000000000", "not-a-ref"]
    assert outputs.list_outputs().total == 1
    assert outputs.children_of(known.ref).total == 0
    assert len(appended_events(output_events)) == before
    with pytest.raises(NotFound):
        outputs.get_latest_by_name_in_run("t", 1, "nobody")
    assert outputs.get_latest_by_name("p").ref == known.ref


def test_append_naming_a_parent_twice_is_invalid_input(outputs: OutputStore) -> None:
    parent = outputs.append("t", 1, "p", note("x"))
    with pytest.raises(InvalidInput):
        outputs.append("t", 1, "p", DONE, [parent.ref, parent.ref])
    assert outputs.list_outputs().total == 1


def test_children_of_lists_children_in_insertion_order(outputs: OutputStore) -> None:
    root = outputs.append("t", 1, "p", note("root"))
    other = outputs.append("t", 1, "p", note("other"))
    c1 = outputs.append("t", 2, "q", note("c1"), [root.ref])
    outputs.append("t", 2, "q", note("unrelated"), [other.ref])
    c2 = outputs.append("t", 3, "r", DONE, [other.ref, root.ref])
    children = outputs.children_of(root.ref)
    assert [r.ref for r in children.items] == [c1.ref, c2.ref]
    assert children.total == 2
    assert outputs.children_of(c2.ref).total == 0
    page = outputs.children_of(root.ref, offset=1, limit=1)
    assert [r.ref for r in page.items] == [c2.ref] and page.total == 2


def test_children_of_unknown_ref_is_not_found(outputs: OutputStore) -> None:
    with pytest.raises(NotFound):
        outputs.children_of("out-ffffffffff")


def test_get_many_returns_the_known_refs(outputs: OutputStore) -> None:
    a = outputs.append("t", 1, "p", note("a"))
    b = outputs.append("t", 1, "p", note("b"))
    found = outputs.get_many([a.ref, "out-0000000000", b.ref])
    assert found == {a.ref: a, b.ref: b}
    assert outputs.get_many([]) == {}


# The filtered, paginated list.


def test_list_outputs_filters_by_task_attempt_producer_and_kind_newest_first(outputs: OutputStore) -> None:
    a = outputs.append("t1", 1, "p", note("a"))
    b = outputs.append("t1", 1, "q", DONE)
    c = outputs.append("t1", 2, "p", DONE)
    d = outputs.append("t2", 1, "p", note("d"))
    assert [r.ref for r in outputs.list_outputs().items] == [d.ref, c.ref, b.ref, a.ref]
    assert [r.ref for r in outputs.list_outputs(task_id="t1").items] == [c.ref, b.ref, a.ref]
    assert [r.ref for r in outputs.list_outputs(task_id="t1", attempt=1).items] == [b.ref, a.ref]
    assert [r.ref for r in outputs.list_outputs(producer_agent="p").items] == [d.ref, c.ref, a.ref]
    assert [r.ref for r in outputs.list_outputs(kind=OutputKind.FINAL).items] == [c.ref, b.ref]
    assert [r.ref for r in outputs.list_outputs(attempt=2, producer_agent="p").items] == [c.ref]
    assert outputs.list_outputs(task_id="nope").total == 0


def test_list_outputs_paginates(outputs: OutputStore) -> None:
    refs = [outputs.append("t", 1, "p", note(str(i))).ref for i in range(7)]
    page = outputs.list_outputs(offset=2, limit=3)
    assert page.total == 7 and (page.offset, page.limit) == (2, 3)
    assert [r.ref for r in page.items] == list(reversed(refs))[2:5]


# Idempotent retries.


def test_retry_with_the_same_idempotency_key_returns_the_first_record(
    outputs: OutputStore, output_events: EventSink
) -> None:
    first = outputs.append("t", 1, "p", DONE, idempotency_key="emit-1")
    again = outputs.append("t", 1, "p", DONE, idempotency_key="emit-1")
    assert again == first
    assert outputs.list_outputs().total == 1
    assert len(appended_events(output_events)) == 1


def test_same_idempotency_key_for_a_different_append_is_a_conflict(outputs: OutputStore) -> None:
    first = outputs.append("t", 1, "p", DONE, idempotency_key="emit-1")
    with pytest.raises(IdempotencyKeyReused) as excinfo:
        outputs.append("t", 1, "p", note("something else"), idempotency_key="emit-1")
    assert excinfo.value.code == "idempotency_key_reused"
    assert excinfo.value.context["ref"] == first.ref
    assert outputs.list_outputs().total == 1


def test_idempotency_keys_are_scoped_to_the_producer(outputs: OutputStore) -> None:
    mine = outputs.append("t", 1, "p", DONE, idempotency_key="k")
    theirs = outputs.append("t", 1, "q", DONE, idempotency_key="k")
    assert mine.ref != theirs.ref


# Fencing (appends made on behalf of an identity).


def test_fenced_append_with_the_current_token_records_the_identity(
    outputs: OutputStore, output_fences: LeaseFences
) -> None:
    token = output_fences.grant("writer-1")
    record = outputs.append("t", 1, "writer-1", DONE, fence=Fence(identity="writer-1", token=token))
    assert (record.identity, record.fencing_token) == ("writer-1", token)
    assert outputs.get(record.ref) == record


def test_fenced_append_with_a_stale_token_is_rejected_and_writes_nothing(
    outputs: OutputStore, output_fences: LeaseFences, output_events: EventSink
) -> None:
    old = output_fences.grant("writer-1")
    new = output_fences.grant("writer-1")  # the lease changed hands: the old holder is fenced
    with pytest.raises(StaleFencingToken) as excinfo:
        outputs.append("t", 1, "writer-1", DONE, fence=Fence(identity="writer-1", token=old))
    assert excinfo.value.context["current_token"] == new
    assert outputs.list_outputs().total == 0
    assert appended_events(output_events) == []
    with pytest.raises(NotFound):
        outputs.get_latest_by_name("writer-1")


# Events.


def test_append_emits_output_appended_with_a_self_contained_snapshot(
    outputs: OutputStore, output_events: EventSink, output_fences: LeaseFences
) -> None:
    parent = outputs.append("t", 1, "planner", Partial(chunk=InlineContent("step one of the plan")))
    token = output_fences.grant("coder-1")
    child = outputs.append(
        "t", 2, "coder-1", Final(content=InlineContent("all green"), ok=True), [parent.ref],
        fence=Fence(identity="coder-1", token=token),
    )
    first, second = appended_events(output_events)
    assert (first.subject_type, first.subject_id) == ("output", parent.ref)
    assert first.payload["preview"] == "step one of the plan"
    assert "identity" not in first.payload
    assert second.subject_id == child.ref
    assert {k: second.payload[k] for k in ("ref", "task_id", "attempt", "producer", "kind", "parents", "identity")} == {
        "ref": child.ref,
        "task_id": "t",
        "attempt": 2,
        "producer": "coder-1",
        "kind": "final",
        "parents": [parent.ref],
        "identity": "coder-1",
    }
    assert second.payload["preview"] == "ok: all green"


# Long-poll for a producer's next output (the waking itself is in tests/stores/test_outputs_wait.py).


def test_wait_for_next_returns_at_once_when_a_newer_output_exists(outputs: OutputStore) -> None:
    seen = outputs.append("t", 1, "p", note("seen"))
    outputs.append("t", 1, "someone-else", note("not this producer"))
    nxt = outputs.append("t", 1, "p", note("next"))
    outputs.append("t", 1, "p", note("after next"))
    assert outputs.wait_for_next("p", after_ref=seen.ref, timeout_s=5) == nxt


def test_wait_for_next_times_out_with_none(outputs: OutputStore) -> None:
    last = outputs.append("t", 1, "p", note("last"))
    assert outputs.wait_for_next("p", after_ref=last.ref, timeout_s=0) is None
    assert outputs.wait_for_next("p", timeout_s=0.05) is None
    assert outputs.wait_for_next("never-emitted", timeout_s=0) is None


def test_wait_for_next_after_an_unknown_ref_is_not_found(outputs: OutputStore) -> None:
    with pytest.raises(NotFound):
        outputs.wait_for_next("p", after_ref="out-0000000000", timeout_s=0)


def test_fenced_append_after_the_lease_ran_out_is_rejected(outputs: OutputStore, output_fences: LeaseFences) -> None:
    """The guard is the real lease table: a current token whose lease expired writes nothing."""
    token = output_fences.grant("writer-1", ttl_ms=1_000)
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        with pytest.raises(StaleFencingToken):
            outputs.append("t", 1, "writer-1", DONE, fence=Fence(identity="writer-1", token=token))
    assert outputs.list_outputs().total == 0
