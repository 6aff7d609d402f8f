"""OutputStore conformance, batch appends: several outputs in one call are stored as the single appends
would store them, all or nothing, run against every backend."""

from __future__ import annotations

import pytest

from stores.contracts import EventSink, OutputStore
from stores.errors import IdempotencyKeyReused, InvalidInput, StaleFencingToken, UnknownParent
from stores.output_types import Final, InlineContent, OutputDraft, Progress
from stores.types import Fence
from tests.stores.conformance.conftest import LeaseFences

DONE = Final(content=InlineContent({"verdict": "pass"}), ok=True)


def draft(task: str, producer: str = "p", *, parents: tuple[str, ...] = (), key: str | None = None,
          fence: Fence | None = None, stage: str = "step") -> OutputDraft:
    return OutputDraft(task, 0, producer, Progress(stage=stage), parents, fence, key)


def appended(events: EventSink) -> list[str]:
    return [e.subject_id for e in reversed(events.recent(limit=500)) if e.kind == "output.appended"]


def test_append_many_stores_every_draft_in_order_with_its_lineage(
    outputs: OutputStore, output_events: EventSink
) -> None:
    root = outputs.append("t", 0, "planner", Progress(stage="plan"))
    other = outputs.append("t", 0, "planner", Progress(stage="plan b"))
    records = outputs.append_many([
        draft("t", "coder", parents=(root.ref,)), draft("t", "coder", parents=(other.ref, root.ref), stage="s2"),
        OutputDraft("t", 1, "reviewer", DONE),
    ])
    assert [r.producer_agent for r in records] == ["coder", "coder", "reviewer"]
    assert [r.seq for r in records] == sorted(r.seq for r in records) and records[0].seq > other.seq
    assert records[1].parent_refs == (other.ref, root.ref)
    assert len({r.ref for r in records}) == 3
    assert [outputs.get(r.ref) for r in records] == records
    assert [c.ref for c in outputs.children_of(root.ref).items] == [records[0].ref, records[1].ref]
    assert outputs.get_latest_by_name("coder") == records[1]
    assert outputs.list_for_attempt("t", 1) == [records[2]]
    assert appended(output_events) == [root.ref, other.ref] + [r.ref for r in records]
    assert outputs.append_many([]) == []


def test_append_many_with_an_unknown_parent_writes_nothing(outputs: OutputStore, output_events: EventSink) -> None:
    known = outputs.append("t", 0, "p", Progress(stage="known"))
    with pytest.raises(UnknownParent) as excinfo:
        outputs.append_many([draft("t", parents=(known.ref,)), draft("t", parents=("out-00000000ff",))])
    assert excinfo.value.context["unknown_refs"] == ["out-00000000ff"]
    assert outputs.list_outputs().total == 1
    assert appended(output_events) == [known.ref]


def test_append_many_replays_keyed_drafts_and_appends_the_rest(outputs: OutputStore) -> None:
    first = outputs.append("t", 0, "p", Progress(stage="step"), idempotency_key="k1")
    records = outputs.append_many([draft("t", key="k1"), draft("t", key="k2"), draft("t")])
    assert records[0] == first
    again = outputs.append_many([draft("t", key="k1"), draft("t", key="k2")])
    assert again == records[:2]
    assert outputs.list_outputs().total == 3


def test_append_many_with_a_reused_key_for_other_content_writes_nothing(outputs: OutputStore) -> None:
    outputs.append("t", 0, "p", Progress(stage="step"), idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        outputs.append_many([draft("t", key="k2"), draft("t", key="k1", stage="something else")])
    assert outputs.list_outputs().total == 1


def test_append_many_refuses_one_producers_key_twice_and_a_parent_named_twice(outputs: OutputStore) -> None:
    parent = outputs.append("t", 0, "p", Progress(stage="step"))
    with pytest.raises(InvalidInput):
        outputs.append_many([draft("t", key="k"), draft("u", key="k")])
    with pytest.raises(InvalidInput):
        outputs.append_many([draft("t", parents=(parent.ref, parent.ref))])
    assert len(outputs.append_many([draft("t", key="k"), draft("u", "q", key="k")])) == 2  # keys are per producer


def test_append_many_under_a_stale_fence_writes_nothing(
    outputs: OutputStore, output_fences: LeaseFences, output_events: EventSink
) -> None:
    old = output_fences.grant("writer-1")
    current = output_fences.grant("writer-1")
    other = output_fences.grant("writer-2")
    batch = [draft("t", "writer-2", fence=Fence("writer-2", other)),
             draft("t", "writer-1", fence=Fence("writer-1", old))]
    with pytest.raises(StaleFencingToken):
        outputs.append_many(batch)
    assert outputs.list_outputs().total == 0 and appended(output_events) == []
    records = outputs.append_many([batch[0], draft("t", "writer-1", fence=Fence("writer-1", current))])
    assert [(r.identity, r.fencing_token) for r in records] == [("writer-2", other), ("writer-1", current)]
