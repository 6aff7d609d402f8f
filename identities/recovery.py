"""Recovery actions: respawn, reset, retire, delete. Each fences first (a new token is minted and the
old holder's lease ends, so its late writes fail), is audited in the same transaction, and emits events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from identities.continuity import CheckpointOps
from identities.errors import InvalidState
from identities.types import ContinuityRecord, IdentityState, LeaseState, ResolveKind
from stores.errors import StorageError


class RecoveryOps(CheckpointOps):
    @contextlib.contextmanager
    def _audited_failure(self, actor: str, action: str, identity: str, reason: str) -> Iterator[None]:
        """A refused action is audited too, after its transaction rolled back."""
        try:
            yield
        except StorageError as exc:
            with self._atomic():
                self._audit(actor, action, identity, reason, self._clock.now(), ok=False,
                            result={"error": exc.code, "detail": exc.detail})
            raise

    def _fence(self, identity: str, now: datetime, action: str) -> int:
        token, ended = self._leases.fence(identity)
        if ended is not None:
            self._emit_lost(ended, now, f"fenced by {action}")
        else:  # no live lease, but claims made under an earlier one may still be held
            self._revoke_claims(identity, f"fenced by {action}")
        return token

    def _cancel_left_behind(self, record: ContinuityRecord | None, action: str) -> list[str]:
        """Reset and delete leave the current session behind: what is still in its inbox is cancelled
        (queue.cancelled events; the count is in the audit entry and the recovery preview), never orphaned."""
        if record is None or self._inbox is None:
            return []
        return self._inbox.cancel_pending(record.session_id, f"session left behind by {action}")

    def _set_state(self, identity: str, state: IdentityState, now: datetime, reason: str = "") -> None:
        before = self._entry(identity).state
        self._registry.set_state(identity, state, now, reason=reason)
        if before != state:
            self._emit("state_changed", identity, now, previous_state=before, new_state=state)

    def _finish(
        self, actor: str, action: str, identity: str, reason: str, now: datetime, **result: Any
    ) -> None:
        self._audit(actor, action, identity, reason, now, ok=True, result=result)
        self._emit(action, identity, now, actor=actor, reason=reason, **result)

    def respawn(self, identity: str, *, actor: str = "system", reason: str = "") -> ContinuityRecord:
        """Non-destructive: fence the owner, keep generation, session and checkpoints, set Active. The
        next agent to take the lease resumes from the latest checkpoint."""
        with self._audited_failure(actor, "respawned", identity, reason):
            now = self._clock.now()
            with self._atomic():
                self._entry(identity)
                record = self._current_record(identity, "respawn")
                previous = self._leases.get(identity)
                token = self._fence(identity, now, "respawn")
                # Raise the record's token too, so the continuity store itself refuses the old owner.
                self._continuity.upsert_continuity_record(record, token)
                self._set_state(identity, IdentityState.ACTIVE, now, reason=f"respawned by {actor}")
                self._finish(
                    actor, "respawned", identity, reason, now, fencing_token=token,
                    previous_holder=previous.holder if previous.state == LeaseState.HELD else None,
                    generation=record.generation, checkpoint_version=record.checkpoint_version,
                )
                return record

    def reset(self, identity: str, *, actor: str = "system", reason: str = "") -> ContinuityRecord:
        """Destructive: fence, move to generation + 1 with a fresh session and checkpoint 0; the old
        generation's snapshots are archived, not deleted. Old-owner writes are then stale."""
        with self._audited_failure(actor, "reset", identity, reason):
            now = self._clock.now()
            with self._atomic():
                self._entry(identity)
                resolved = self._continuity.resolve_many([identity])[identity]
                # A Broken record still names its generation; never reuse it (mobkit counted it as 0).
                old_generation = resolved.record.generation if resolved.record is not None else -1
                token = self._fence(identity, now, "reset")
                cancelled = self._cancel_left_behind(resolved.record, "reset")
                record = self._fresh_record(identity, old_generation + 1, uuid.uuid4())
                self._continuity.upsert_continuity_record(record, token)
                self._own_record(record)
                archived = self._continuity.archive_generations_before(identity, record.generation)
                self._set_state(identity, IdentityState.ACTIVE, now, reason=f"reset by {actor}")
                self._finish(
                    actor, "reset", identity, reason, now, fencing_token=token, generation=record.generation,
                    previous_generation=None if resolved.kind == ResolveKind.UNINITIALIZED else old_generation,
                    session_id=record.session_id, archived_checkpoints=archived, cancelled_batches=len(cancelled),
                )
                return record

    def retire(self, identity: str, *, actor: str = "system", reason: str = "") -> int:
        """Fence the owner and set Retiring: no new deliveries. Returns the fencing token minted."""
        with self._audited_failure(actor, "retired", identity, reason):
            now = self._clock.now()
            with self._atomic():
                entry = self._entry(identity)
                if entry.state == IdentityState.UNINITIALIZED:
                    raise InvalidState(
                        f"cannot retire identity {identity} in state uninitialized",
                        identity=identity, state=entry.state.value, operation="retire",
                    )
                token = self._fence(identity, now, "retire")
                self._set_state(identity, IdentityState.RETIRING, now, reason=reason or f"retired by {actor}")
                self._finish(actor, "retired", identity, reason, now, fencing_token=token)
                return token

    def delete_identity(self, identity: str, *, actor: str = "system", reason: str = "") -> None:
        """Fence, then remove continuity and every snapshot: the identity becomes Uninitialized (its
        spec stays, so a roster restore or create brings it back from nothing)."""
        with self._audited_failure(actor, "deleted", identity, reason):
            now = self._clock.now()
            with self._atomic():
                self._entry(identity)
                token = self._fence(identity, now, "delete")
                current = self._continuity.resolve_many([identity])[identity].record
                cancelled = self._cancel_left_behind(current, "delete")
                self._continuity.delete_continuity_record(identity, token)
                self._set_state(identity, IdentityState.UNINITIALIZED, now, reason=f"deleted by {actor}")
                self._finish(actor, "deleted", identity, reason, now, fencing_token=token,
                             cancelled_batches=len(cancelled))

    def preview_recovery(self, identity: str, action: str) -> dict[str, Any]:
        """What an action would do, for the confirmation the dashboard shows before destroying."""
        now = self._clock.now()
        entry = self._entry(identity)
        status = self._status(entry, now)
        holder = status.lease.holder if status.lease is not None else None
        effects = {
            "respawn": "fence the current owner; keep generation, session and checkpoints; set active",
            "reset": f"fence the current owner; start generation {(status.generation or 0) + 1} with a fresh "
                     "session; archive the current checkpoints",
            "retire": "fence the current owner; set retiring (no new deliveries)",
            "delete": "fence the current owner; delete continuity and every checkpoint (cannot be undone)",
        }
        return {
            "identity": identity, "action": action, "effect": effects.get(action, "unknown action"),
            "fences_holder": str(holder) if holder else None, "generation": status.generation,
            "checkpoint_version": status.checkpoint_version, "destructive": action in ("reset", "delete"),
        }
