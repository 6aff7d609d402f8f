"""The continuity rules both ContinuityStore backends share (so they cannot drift apart)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from identities.types import ContinuityFailure, ContinuityFailureKind, ContinuityRecord, ContinuityResolveState
from stores.errors import SessionNotCurrent, StaleCheckpointVersion, StaleContinuityGeneration, StaleFencingToken


def check_token(identity: str, presented: int, stored: int, operation: str) -> None:
    if presented < stored:
        raise StaleFencingToken(
            f"{operation} for identity {identity!r} carried fencing token {presented}, "
            f"but the continuity record holds {stored}",
            identity=identity, presented_token=presented, current_token=stored, operation=operation,
        )


def check_upsert(new: ContinuityRecord, token: int, old: ContinuityRecord | None, stored_token: int) -> int:
    """Validate an upsert against the stored record; return the checkpoint version to store."""
    if old is None:
        return new.checkpoint_version
    check_token(new.identity, token, stored_token, "continuity upsert")
    if new.generation < old.generation:
        raise StaleContinuityGeneration(
            f"generation {new.generation} of {new.identity!r} is older than the stored {old.generation}",
            identity=new.identity, presented=new.generation, current=old.generation,
        )
    if new.generation == old.generation:
        # Rebinding to another session within one generation must not rewind the version.
        return max(new.checkpoint_version, old.checkpoint_version)
    return new.checkpoint_version


def check_save(
    identity: str, session_id: UUID, generation: int, version: int, token: int,
    record: ContinuityRecord | None, stored_token: int,
) -> None:
    if record is None:
        return
    check_token(identity, token, stored_token, "checkpoint")
    if session_id != record.session_id or generation != record.generation:
        raise SessionNotCurrent(
            f"session {session_id} (generation {generation}) is no longer the current session of {identity!r}",
            identity=identity, session_id=str(session_id), current_generation=record.generation,
        )
    if version <= record.checkpoint_version:
        raise StaleCheckpointVersion(
            f"checkpoint version {version} of {identity!r} does not advance past {record.checkpoint_version}",
            identity=identity, presented=version, current=record.checkpoint_version,
        )


def resolve(
    identity: str, record: ContinuityRecord | None, has_snapshot: bool, checkpointed_at: datetime | None = None
) -> ContinuityResolveState:
    """Ready, uninitialized, or broken when the record names a checkpoint whose snapshot is gone."""
    if record is None:
        return ContinuityResolveState.uninitialized()
    if record.checkpoint_version > 0 and not has_snapshot:
        return ContinuityResolveState.broken(
            ContinuityFailure(
                identity=identity,
                kind=ContinuityFailureKind.SNAPSHOT_MISSING,
                record=record,
                detail=f"checkpoint {record.checkpoint_version} of session {record.session_id} has no snapshot",
            )
        )
    return replace(ContinuityResolveState.ready(record), checkpointed_at=checkpointed_at)
