"""Storage errors: one root, one subclass per outcome a contract names, each with a stable code.

The domain never knows HTTP; `swarmsite/api.py` maps these classes to status codes in one table.
"""

from __future__ import annotations

from typing import Any


class StorageError(Exception):
    """Root of every error a store raises. `context` is extra JSON-safe detail for clients."""

    code = "storage_error"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class NotFound(StorageError):
    code = "not_found"


class AgentExpired(NotFound):
    """The agent was online but stayed silent past the TTL; it must register again."""

    code = "agent_expired"


class Conflict(StorageError):
    code = "conflict"


class InvalidInput(StorageError):
    code = "invalid_input"


class Backend(StorageError):
    """The backend failed for a reason that is not the caller's (unreachable, transport error)."""

    code = "backend_error"


class Serialization(StorageError):
    code = "serialization_error"


class StaleFencingToken(Conflict):
    """A write carried a fencing token lower than the identity's current one (or its lease is gone).

    The root of every refusal of a write to what an identity owns, so each is recorded the same way."""

    code = "stale_fencing_token"


class FenceMismatch(StaleFencingToken):
    """A write to what identity X owns carried a fence of another identity (a token that was never X's)."""

    code = "fence_mismatch"


class FencingTokenRequired(StaleFencingToken):
    """A write by an agent to what an identity owns carried no fencing token."""

    code = "fencing_token_required"


# OutputStore (semantics 2, SPEC 3). A rejected append writes nothing.
class UnknownParent(NotFound):
    """An append named parent refs that are not stored outputs (the lineage graph never dangles)."""

    code = "unknown_parent"


class IdempotencyKeyReused(Conflict):
    """An idempotency key already used by this producer for a different append."""

    code = "idempotency_key_reused"


# The event log (retention).
class EventsPruned(Conflict):
    """A resume from an event id the log has pruned past: events in between are gone, so the client
    must resync (read current state, then resume after `pruned_through`) instead of starting later."""

    code = "events_pruned"


class FencingUnavailable(Backend):
    """A fenced write reached a store built without a FenceGuard, so the token cannot be checked."""

    code = "fencing_unavailable"


# RuntimeStore (semantics 4.3). Rejected runtime writes leave nothing behind.
class WriteFailed(Conflict):
    """A runtime write could not be applied (a duplicate boundary receipt); the whole commit rolled back."""

    code = "write_failed"


class InvalidSnapshot(InvalidInput):
    """A session (or OAuth-flow) snapshot is not a UTF-8 JSON object, or its "id" is not a UUID."""

    code = "invalid_snapshot"


class SessionKeyMismatch(InvalidInput):
    """The snapshot's session id differs from the session_store_key sent with it (same request: 422)."""

    code = "session_key_mismatch"


class InvalidTransition(Conflict):
    """The runtime state cannot move from its current state to the requested one."""

    code = "invalid_transition"


class OAuthFlowChanged(Conflict):
    """A compare-and-swap of the OAuth-flow snapshot found a different snapshot than the caller read."""

    code = "oauth_flow_changed"


class StaleCheckpointVersion(Conflict):
    """A checkpoint version that does not advance past the stored one for its (identity, generation)."""

    code = "stale_checkpoint_version"


class StaleContinuityGeneration(Conflict):
    """A continuity write that would move an identity's generation backwards."""

    code = "stale_continuity_generation"


class SessionNotCurrent(NotFound):
    """A checkpoint for a session that is no longer the identity's current one (fail closed)."""

    code = "session_not_current"


# RuntimePersistence (semantics 5.3). A rejected commit or claim operation leaves nothing behind.
class SessionBindingMismatch(Conflict):
    """A write for another session than the one the store is bound to."""

    code = "session_binding_mismatch"


class UnsupportedReadScope(InvalidInput):
    code = "unsupported_read_scope"


class HeadRevisionConflict(Conflict):
    """The commit expected another head revision than the stored one (optimistic CAS lost)."""

    code = "head_revision_conflict"


class RuntimeTurnCommitConflict(Conflict):
    """The turn was already committed with a different state hash (or the stamp names another session)."""

    code = "runtime_turn_commit_conflict"


class QueuedWorkClaimExpired(Conflict):
    """The claim no longer holds its batches (reclaimed, completed, abandoned, or a wrong lease token)."""

    code = "queued_work_claim_expired"


class QueuedWorkBatchHeld(Conflict):
    """The batch is held by a live claim, so it cannot be cancelled."""

    code = "queued_work_batch_held"


class SessionNodeConflict(Conflict):
    """An appended graph node id already exists in the session (the whole commit rolled back)."""

    code = "session_node_conflict"


class UnsupportedRecordSchemaVersion(Serialization):
    """A stored record (a checkpoint manifest) has a schema version this code cannot read."""

    code = "unsupported_record_schema_version"
