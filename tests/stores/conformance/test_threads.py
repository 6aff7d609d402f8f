"""ThreadStore conformance: checkpoint threads behave the same on every backend, and every write to an
owned thread is fenced by its owner's current token."""

from __future__ import annotations

import pytest

from stores.contracts import ThreadStore
from stores.errors import InvalidInput, StaleFencingToken
from stores.fencing import InMemoryFenceGuard
from stores.thread_types import Blob, CheckpointPut, CheckpointQuery, PendingWrite, PruneStrategy
from stores.types import Fence

ALICE = Fence(identity="alice", token=7)


def put(store: ThreadStore, thread: str, cid: str, *, ns: str = "", parent: str | None = None,
        fence: Fence | None = ALICE, **metadata: object) -> None:
    store.put_checkpoint(
        CheckpointPut(thread, ns, cid, parent, Blob("json", f'{{"id": "{cid}"}}'.encode()), dict(metadata)),
        fence=fence,
    )


def ids(store: ThreadStore, **query: object) -> list[str]:
    return [r.checkpoint_id for r in store.list_checkpoints(CheckpointQuery(**query))]  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _alice_holds_token_7(thread_fences: InMemoryFenceGuard) -> None:
    thread_fences.grant("alice", 7)


def test_put_then_get_returns_payload_parent_and_metadata(threads: ThreadStore) -> None:
    put(threads, "t1", "01", source="input", step=-1)
    put(threads, "t1", "02", parent="01", source="loop", step=0)
    latest = threads.get_checkpoint("t1", "", None)
    assert latest is not None
    assert (latest.checkpoint_id, latest.parent_checkpoint_id) == ("02", "01")
    assert latest.checkpoint == Blob("json", b'{"id": "02"}')
    assert latest.metadata == {"source": "loop", "step": 0}
    assert (latest.identity, latest.fencing_token) == ("alice", 7)
    first = threads.get_checkpoint("t1", "", "01")
    assert first is not None and first.parent_checkpoint_id is None


def test_get_of_missing_thread_or_checkpoint_is_none(threads: ThreadStore) -> None:
    put(threads, "t1", "01")
    assert threads.get_checkpoint("nope", "", None) is None
    assert threads.get_checkpoint("t1", "", "99") is None
    assert threads.get_checkpoint("t1", "child:1", None) is None


def test_list_is_newest_first_and_filters_by_namespace_metadata_before_and_limit(threads: ThreadStore) -> None:
    for i, source in enumerate(["input", "loop", "input", "loop"]):
        put(threads, "t1", f"0{i}", source=source, step=i)
    put(threads, "t1", "05", ns="child:1", source="loop", step=9)
    put(threads, "t2", "06", source="input", step=0)
    assert ids(threads, thread_id="t1", checkpoint_ns="") == ["03", "02", "01", "00"]
    assert ids(threads, thread_id="t1", metadata={"source": "input"}) == ["02", "00"]
    assert ids(threads, thread_id="t1", metadata={"source": "loop", "step": 9}) == ["05"]
    assert ids(threads, thread_id="t1", checkpoint_ns="", before="02") == ["01", "00"]
    assert ids(threads, thread_id="t1", checkpoint_ns="", before="03", limit=1) == ["02"]
    assert ids(threads, metadata={"source": "input"}) == ["06", "02", "00"]


def test_metadata_filter_does_not_confuse_true_with_one(threads: ThreadStore) -> None:
    put(threads, "t1", "01", flag=True)
    put(threads, "t1", "02", flag=1)
    assert ids(threads, thread_id="t1", metadata={"flag": 1}) == ["02"]
    assert ids(threads, thread_id="t1", metadata={"flag": True}) == ["01"]


def test_bad_filter_key_is_invalid_input(threads: ThreadStore) -> None:
    with pytest.raises(InvalidInput):
        threads.list_checkpoints(CheckpointQuery(thread_id="t1", metadata={"a__b": 1}))


def test_pending_writes_are_kept_once_per_task_and_index_and_special_ones_replaced(threads: ThreadStore) -> None:
    put(threads, "t1", "01")
    w = PendingWrite("task", 0, "ch", Blob("json", b'"a"'))
    threads.put_writes("t1", "", "01", [w, PendingWrite("task", -1, "__error__", Blob("json", b'"x"'))], fence=ALICE)
    threads.put_writes("t1", "", "01", [PendingWrite("task", 0, "ch", Blob("json", b'"b"')),
                                        PendingWrite("task", -1, "__error__", Blob("json", b'"y"'))], fence=ALICE)
    record = threads.get_checkpoint("t1", "", "01")
    assert record is not None
    assert [(p.idx, p.value.data) for p in record.pending_writes] == [(-1, b'"y"'), (0, b'"a"')]
    put(threads, "t1", "02", parent="01")
    newer = threads.get_checkpoint("t1", "", None)
    assert newer is not None and newer.pending_writes == ()


def test_writes_may_arrive_before_their_checkpoint(threads: ThreadStore) -> None:
    threads.put_writes("t1", "", "01", [PendingWrite("task", 0, "ch", Blob("json", b"1"))], fence=ALICE)
    assert threads.get_checkpoint("t1", "", "01") is None
    put(threads, "t1", "01")
    record = threads.get_checkpoint("t1", "", "01")
    assert record is not None and [p.value.data for p in record.pending_writes] == [b"1"]


def test_stale_token_on_an_owned_thread_is_refused_and_nothing_is_written(
    threads: ThreadStore, thread_fences: InMemoryFenceGuard
) -> None:
    put(threads, "t1", "01")
    thread_fences.grant("alice", 8)
    with pytest.raises(StaleFencingToken):
        put(threads, "t1", "02", parent="01")
    with pytest.raises(StaleFencingToken):
        threads.put_writes("t1", "", "01", [PendingWrite("t", 0, "ch", Blob("json", b"1"))], fence=ALICE)
    for refused in (lambda: threads.delete_thread("t1", fence=ALICE),
                    lambda: threads.prune(["t1"], PruneStrategy.DELETE, fence=ALICE)):
        with pytest.raises(StaleFencingToken):
            refused()
    assert ids(threads, thread_id="t1") == ["01"]
    put(threads, "t1", "02", parent="01", fence=Fence("alice", 8))
    assert ids(threads, thread_id="t1") == ["02", "01"]


def test_owned_thread_refuses_writes_without_a_fence_or_with_another_identity(
    threads: ThreadStore, thread_fences: InMemoryFenceGuard
) -> None:
    thread_fences.grant("bob", 3)
    put(threads, "t1", "01")
    with pytest.raises(StaleFencingToken):
        put(threads, "t1", "02", fence=None)
    with pytest.raises(StaleFencingToken):
        put(threads, "t1", "02", fence=Fence("bob", 3))
    with pytest.raises(StaleFencingToken):
        threads.delete_thread("t1", fence=Fence("bob", 3))
    assert ids(threads, thread_id="t1") == ["01"]


def test_unowned_threads_are_unfenced_and_a_fenced_write_adopts_them(threads: ThreadStore) -> None:
    put(threads, "free", "01", fence=None)
    put(threads, "free", "02", fence=None)
    assert threads.list_threads().items[0].identity is None
    put(threads, "free", "03", fence=ALICE)
    assert threads.list_threads(identity="alice").items[0].thread_id == "free"
    with pytest.raises(StaleFencingToken):
        put(threads, "free", "04", fence=None)


def test_delete_thread_removes_every_namespace_and_leaves_others(threads: ThreadStore) -> None:
    put(threads, "t1", "01")
    put(threads, "t1", "02", ns="child:1")
    put(threads, "t2", "03")
    threads.delete_thread("t1", fence=ALICE)
    threads.delete_thread("never", fence=ALICE)
    assert ids(threads, thread_id="t1") == []
    assert ids(threads, thread_id="t2") == ["03"]


def test_delete_for_runs_removes_those_runs_everywhere_with_their_writes(threads: ThreadStore) -> None:
    put(threads, "t1", "01", run_id="r1")
    put(threads, "t1", "02", ns="child:1", run_id="r1")
    put(threads, "t1", "03", run_id="r2")
    threads.put_writes("t1", "", "01", [PendingWrite("t", 0, "ch", Blob("json", b"1"))], fence=ALICE)
    threads.delete_for_runs(["r1"], fence=ALICE)
    threads.delete_for_runs([], fence=ALICE)
    assert ids(threads, thread_id="t1") == ["03"]
    assert threads.get_checkpoint("t1", "", "01") is None


def test_copy_thread_copies_checkpoints_namespaces_and_writes(threads: ThreadStore) -> None:
    put(threads, "src", "01", step=0)
    put(threads, "src", "02", parent="01", step=1)
    put(threads, "src", "03", ns="child:1")
    threads.put_writes("src", "", "02", [PendingWrite("t", 0, "ch", Blob("json", b'"w"'))], fence=ALICE)
    threads.copy_thread("src", "dst", fence=ALICE)
    threads.copy_thread("missing", "dst2", fence=ALICE)
    assert ids(threads, thread_id="dst") == ids(threads, thread_id="src") == ["03", "02", "01"]
    copied = threads.get_checkpoint("dst", "", None)
    assert copied is not None
    assert (copied.parent_checkpoint_id, copied.metadata) == ("01", {"step": 1})
    assert [p.value.data for p in copied.pending_writes] == [b'"w"']
    assert ids(threads, thread_id="dst2") == []


def test_prune_keeps_the_latest_per_namespace_or_deletes_all(threads: ThreadStore) -> None:
    for cid in ("01", "02", "03"):
        put(threads, "t1", cid)
    put(threads, "t1", "04", ns="child:1")
    put(threads, "t1", "05", ns="child:1")
    threads.put_writes("t1", "", "03", [PendingWrite("t", 0, "ch", Blob("json", b"1"))], fence=ALICE)
    put(threads, "t2", "06")
    put(threads, "t2", "07")
    threads.prune(["t1", "missing"], PruneStrategy.KEEP_LATEST, fence=ALICE)
    assert ids(threads, thread_id="t1") == ["05", "03"]
    kept = threads.get_checkpoint("t1", "", None)
    assert kept is not None and len(kept.pending_writes) == 1
    assert ids(threads, thread_id="t2") == ["07", "06"]
    threads.prune(["t2"], PruneStrategy.DELETE, fence=ALICE)
    assert ids(threads, thread_id="t2") == []


def test_list_threads_shows_owner_size_and_latest_root_checkpoint(threads: ThreadStore) -> None:
    put(threads, "t1", "01", step=0, source="input")
    put(threads, "t1", "02", parent="01", step=1, source="loop")
    put(threads, "t1", "09", ns="child:1", step=5)
    put(threads, "free", "03", fence=None)
    page = threads.list_threads(identity="alice")
    assert page.total == 1
    [summary] = page.items
    assert (summary.thread_id, summary.checkpoints, summary.latest_checkpoint_id) == ("t1", 3, "02")
    assert (summary.latest_step, summary.latest_source) == (1, "loop")
    assert threads.list_threads().total == 2
