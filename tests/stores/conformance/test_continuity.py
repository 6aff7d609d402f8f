"""ContinuityStore conformance (semantics 3.8 "Contracts" plus the hardened rules of 3.7 / SPEC 4),
run against every backend."""

from __future__ import annotations

import uuid

import pytest

from identities.contracts import ContinuityStore
from identities.types import ContinuityFailureKind, ContinuityRecord, ResolveKind
from stores.errors import SessionNotCurrent, StaleCheckpointVersion, StaleContinuityGeneration, StaleFencingToken


def record(identity: str = "alpha", *, generation: int = 0, version: int = 0, session: uuid.UUID | None = None,
           runtime_id: str | None = None) -> ContinuityRecord:
    return ContinuityRecord(
        identity=identity, agent_runtime_id=runtime_id or f"rt:{identity}:{generation}",
        session_id=session or uuid.uuid4(), generation=generation, checkpoint_version=version,
    )


def test_resolve_many_returns_exactly_one_state_per_identity(continuity: ContinuityStore) -> None:
    continuity.upsert_continuity_record(record("a"), 1)
    states = continuity.resolve_many(["a", "b", "c"])
    assert set(states) == {"a", "b", "c"}


def test_upsert_then_resolve_is_ready(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    state = continuity.resolve_many(["a"])["a"]
    assert state.kind == ResolveKind.READY
    assert state.record == rec


def test_resolve_of_unknown_identity_is_uninitialized(continuity: ContinuityStore) -> None:
    assert continuity.resolve_many(["ghost"])["ghost"].kind == ResolveKind.UNINITIALIZED


def test_snapshot_round_trips(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    saved = continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"\x00state\xff")
    assert saved.version == 1 and saved.size == 7
    assert continuity.load_session_snapshot(rec.session_id) == b"\x00state\xff"
    latest = continuity.latest_checkpoint("a")
    assert latest is not None and latest.data == b"\x00state\xff" and latest.version == 1


def test_load_of_unknown_session_is_none(continuity: ContinuityStore) -> None:
    assert continuity.load_session_snapshot(uuid.uuid4()) is None
    assert continuity.latest_checkpoint("nobody") is None


def test_save_with_stale_token_is_rejected_and_equal_token_is_accepted(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 5)
    with pytest.raises(StaleFencingToken) as excinfo:
        continuity.save_session_snapshot("a", rec.session_id, 0, 1, 3, b"old owner")
    assert excinfo.value.context["presented_token"] == 3
    assert excinfo.value.context["current_token"] == 5
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 5, b"owner")
    assert continuity.load_session_snapshot(rec.session_id) == b"owner"


def test_save_with_non_increasing_version_is_rejected(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"v1")
    continuity.save_session_snapshot("a", rec.session_id, 0, 2, 1, b"v2")
    for version in (2, 1):
        with pytest.raises(StaleCheckpointVersion):
            continuity.save_session_snapshot("a", rec.session_id, 0, version, 1, b"again")
    assert continuity.load_session_snapshot(rec.session_id) == b"v2"


def test_save_below_a_seeded_version_is_rejected(continuity: ContinuityStore) -> None:
    rec = record("a", version=3)
    continuity.upsert_continuity_record(rec, 1)
    with pytest.raises(StaleCheckpointVersion):
        continuity.save_session_snapshot("a", rec.session_id, 0, 2, 1, b"cache promotion")


def test_save_with_higher_token_advances_the_stored_token(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 7, b"new owner")
    with pytest.raises(StaleFencingToken):
        continuity.save_session_snapshot("a", rec.session_id, 0, 2, 1, b"zombie")
    assert continuity.max_fencing_token() == 7


def test_save_for_a_session_that_is_no_longer_current_is_not_found(continuity: ContinuityStore) -> None:
    old = record("a")
    continuity.upsert_continuity_record(old, 1)
    continuity.upsert_continuity_record(record("a", generation=1), 2)
    with pytest.raises(SessionNotCurrent) as excinfo:
        continuity.save_session_snapshot("a", old.session_id, 0, 1, 2, b"late")
    assert excinfo.value.code == "session_not_current"


def test_save_without_a_record_is_accepted_unchecked(continuity: ContinuityStore) -> None:
    session = uuid.uuid4()
    continuity.save_session_snapshot("loose", session, 0, 1, 0, b"x")
    assert continuity.load_session_snapshot(session) == b"x"


def test_upsert_with_stale_token_is_rejected_and_equal_token_is_accepted(continuity: ContinuityStore) -> None:
    continuity.upsert_continuity_record(record("a"), 5)
    with pytest.raises(StaleFencingToken):
        continuity.upsert_continuity_record(record("a"), 4)
    continuity.upsert_continuity_record(record("a"), 5)


def test_upsert_never_moves_the_generation_back(continuity: ContinuityStore) -> None:
    continuity.upsert_continuity_record(record("a", generation=2), 1)
    with pytest.raises(StaleContinuityGeneration):
        continuity.upsert_continuity_record(record("a", generation=1), 2)


def test_rebinding_the_session_within_a_generation_keeps_the_checkpoint_version(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"v1")
    continuity.save_session_snapshot("a", rec.session_id, 0, 2, 1, b"v2")
    rebound = record("a", session=uuid.uuid4(), version=0)
    continuity.upsert_continuity_record(rebound, 1)
    state = continuity.resolve_many(["a"])["a"].record
    assert state is not None and state.session_id == rebound.session_id and state.checkpoint_version == 2


def test_checkpoint_versions_are_scoped_to_the_generation(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"gen0 v1")
    continuity.save_session_snapshot("a", rec.session_id, 0, 2, 1, b"gen0 v2")
    fresh = record("a", generation=1, version=0)
    continuity.upsert_continuity_record(fresh, 2)
    continuity.save_session_snapshot("a", fresh.session_id, 1, 1, 2, b"gen1 v1")
    latest = continuity.latest_checkpoint("a")
    assert latest is not None and (latest.generation, latest.version, latest.data) == (1, 1, b"gen1 v1")


def test_archiving_keeps_old_generations_but_latest_ignores_them(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"gen0")
    fresh = record("a", generation=1)
    continuity.upsert_continuity_record(fresh, 2)
    assert continuity.archive_generations_before("a", 1) == 1
    assert continuity.latest_checkpoint("a") is None
    listed = continuity.list_checkpoints("a")
    assert [(c.generation, c.version, c.archived) for c in listed.items] == [(0, 1, True)]
    assert listed.items[0].data is None
    assert continuity.load_session_snapshot(rec.session_id) == b"gen0"


def test_only_the_newest_checkpoints_of_a_generation_are_kept(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    for version in range(1, 9):
        continuity.save_session_snapshot("a", rec.session_id, 0, version, 1, f"v{version}".encode())
    kept = [c.version for c in continuity.list_checkpoints("a").items]
    assert kept == [8, 7, 6, 5, 4]  # the fixture keeps 5


def test_delete_with_stale_token_is_rejected(continuity: ContinuityStore) -> None:
    continuity.upsert_continuity_record(record("a"), 5)
    with pytest.raises(StaleFencingToken):
        continuity.delete_continuity_record("a", 4)
    assert continuity.resolve_many(["a"])["a"].kind == ResolveKind.READY


def test_delete_removes_record_and_snapshots_and_unknown_is_fine(continuity: ContinuityStore) -> None:
    rec = record("a")
    continuity.upsert_continuity_record(rec, 1)
    continuity.save_session_snapshot("a", rec.session_id, 0, 1, 1, b"x")
    continuity.delete_continuity_record("a", 2)
    assert continuity.resolve_many(["a"])["a"].kind == ResolveKind.UNINITIALIZED
    assert continuity.load_session_snapshot(rec.session_id) is None
    continuity.delete_continuity_record("never-existed", 1)


def test_record_naming_a_missing_snapshot_resolves_as_broken(continuity: ContinuityStore) -> None:
    rec = record("a", version=3)
    continuity.upsert_continuity_record(rec, 1)
    state = continuity.resolve_many(["a"])["a"]
    assert state.kind == ResolveKind.BROKEN
    assert state.failure is not None and state.failure.kind == ContinuityFailureKind.SNAPSHOT_MISSING
    assert state.failure.record == rec and "no snapshot" in state.failure.detail


def test_max_fencing_token_is_the_highest_stored(continuity: ContinuityStore) -> None:
    assert continuity.max_fencing_token() == 0
    continuity.upsert_continuity_record(record("a"), 4)
    continuity.upsert_continuity_record(record("b"), 9)
    assert continuity.max_fencing_token() == 9
