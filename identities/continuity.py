"""Checkpoints: saved under the identity's lease, fenced in the same transaction as the write."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from identities.core import lease_error
from identities.errors import InvalidState
from identities.ownership import OwnershipOps
from identities.types import Checkpoint, ContinuityRecord, ContinuityResolveState, ResolveKind
from stores.errors import StaleFencingToken
from stores.types import Fence, Page


class CheckpointOps(OwnershipOps):
    def checkpoint(
        self, identity: str, snapshot: bytes, *, token: int | None = None, agent_id: UUID | None = None,
        version: int | None = None,
    ) -> Checkpoint:
        """Save the next checkpoint version (1, 2, ...) of the identity's current session.

        With `token` (the API always passes one) the write is fenced by it: StaleFencingToken unless
        it is the current token, LeaseLost / NoActiveLease when that lease has ended. Without one,
        the live lease's token is used (mobkit's in-process form). A stale write is recorded. An
        explicit `version` must advance past the stored one (StaleCheckpointVersion otherwise)."""
        with self.recording_rejections():
            return self._checkpoint(identity, snapshot, token, agent_id, version)

    def _checkpoint(
        self, identity: str, snapshot: bytes, token: int | None, agent_id: UUID | None, version: int | None
    ) -> Checkpoint:
        now = self._clock.now()
        with self._atomic():
            entry = self._entry(identity)
            if token is None:
                token = self._check_lease(identity, now)
            try:
                # Locks the lease row: no grant or fence can slip between this check and the save.
                lease = self._leases.check_and_get(Fence(identity, token, agent_id), operation="checkpoint")
            except StaleFencingToken as exc:
                if exc.context.get("current_token") == token:  # the token is current, its lease is over
                    lease_error(self._leases.get(identity))
                raise
            record = self._current_record(identity, "checkpoint")
            saved = self._continuity.save_session_snapshot(
                identity, record.session_id, record.generation,
                record.checkpoint_version + 1 if version is None else version, token, snapshot,
            )
            after = replace(record, checkpoint_version=saved.version)
            self._emit(
                "checkpoint_completed", identity, now, entry=entry, lease=lease,
                resolved=replace(ContinuityResolveState.ready(after), checkpointed_at=now),
                version=saved.version, generation=saved.generation, session_id=saved.session_id, size=saved.size,
                fencing_token=token, agent_id=agent_id,
            )
            return saved

    def _current_record(self, identity: str, operation: str) -> ContinuityRecord:
        resolved = self._continuity.resolve_many([identity])[identity]
        if resolved.kind != ResolveKind.READY or resolved.record is None:
            raise InvalidState(
                f"cannot {operation} identity {identity}: its continuity is {resolved.kind.value}",
                identity=identity, state=resolved.kind.value, operation=operation,
            )
        return resolved.record

    def latest_checkpoint(self, identity: str) -> Checkpoint | None:
        """The newest checkpoint (with bytes) of the current generation: what a new owner resumes from."""
        self._entry(identity)
        return self._continuity.latest_checkpoint(identity)

    def list_checkpoints(self, identity: str, *, offset: int = 0, limit: int = 50) -> Page[Checkpoint]:
        self._entry(identity)
        return self._continuity.list_checkpoints(identity, offset=offset, limit=limit)

    def runtime_id_for(self, identity: str) -> str:
        """The identity's agent runtime id. UnknownIdentity; InvalidState without continuity."""
        self._entry(identity)
        return self._current_record(identity, "resolve the runtime id of").agent_runtime_id

    def continuity_record(self, identity: str) -> ContinuityRecord | None:
        self._entry(identity)
        return self._continuity.resolve_many([identity])[identity].record

    @staticmethod
    def _fresh_record(identity: str, generation: int, session_id: UUID) -> ContinuityRecord:
        runtime_id = f"rt:{identity}:0" if generation == 0 else f"{identity}:gen{generation}"
        return ContinuityRecord(
            identity=identity, agent_runtime_id=runtime_id, session_id=session_id, generation=generation,
            checkpoint_version=0,
        )
