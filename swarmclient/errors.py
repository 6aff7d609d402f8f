"""Exceptions for the API's error codes: catch the class, or read `.code`.

The hierarchy follows the server's: every 409 is a `Conflict`, every 404 a `NotFound`, every 422 an
`InvalidInput`, so `except Conflict` catches codes this client does not know yet."""

from __future__ import annotations

from typing import Any


class SwarmError(Exception):
    """An error answer from Swarmsite: HTTP status, stable `code`, human `detail`, and context."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}


class TransportError(SwarmError):
    """The server could not be reached (after retries for idempotent calls)."""


class MalformedRequest(SwarmError): ...


class Unauthorized(SwarmError): ...


class Forbidden(SwarmError): ...


class PayloadTooLarge(SwarmError): ...


class ServerError(SwarmError):
    """The server failed (5xx): not the caller's fault; idempotent calls were retried first."""


class BackendUnavailable(ServerError): ...


# -- 404 ------------------------------------------------------------------------------------------
class NotFound(SwarmError): ...


class AgentExpired(NotFound):
    """This agent stayed silent past the TTL; register again (everything it held was freed)."""


class UnknownIdentity(NotFound): ...


class UnknownParent(NotFound):
    """An output named parent refs that do not exist; nothing was written."""


class SessionNotCurrent(NotFound): ...


# -- 409 ------------------------------------------------------------------------------------------
class Conflict(SwarmError): ...


class StaleFencingToken(Conflict):
    """A newer owner holds the identity: stop working on it, your writes are rejected."""

    @property
    def current_token(self) -> int | None:
        return self.body.get("current_token")


class FenceMismatch(StaleFencingToken):
    """The write carried another identity's fencing token: send the token of the identity that owns it."""


class FencingTokenRequired(StaleFencingToken):
    """The resource belongs to an identity: send that identity's current fencing token (from its Lease)."""


class OwnedInbox(Conflict):
    """An identity's inbox is written through send/dispatch only (`detail` names the route)."""


class LeaseHeld(Conflict):
    """Another live agent holds the lease; `holder` and `expires_at` say who and until when."""

    @property
    def holder(self) -> str | None:
        return self.body.get("holder")

    @property
    def expires_at(self) -> str | None:
        return self.body.get("expires_at")


class LeaseLost(Conflict):
    """The lease ran out, was fenced by a recovery action, or was taken over: stop working."""


class NoActiveLease(Conflict): ...


class NotAddressable(Conflict): ...


class InvalidState(Conflict): ...


class DuplicateIdentity(Conflict): ...


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before with a different body."""


class EventsPruned(Conflict):
    """The events after your cursor were pruned by the server's retention: resync (read the current
    state), then resume after `pruned_through`. Raised by events(), poll_events() and stream_events()."""

    @property
    def pruned_through(self) -> int:
        return int(self.body.get("pruned_through") or 0)


class WriteFailed(Conflict):
    """The runtime already has a receipt for this (run_id, sequence)."""


class InvalidTransition(Conflict): ...


class OAuthFlowChanged(Conflict): ...


class StaleCheckpointVersion(Conflict): ...


class StaleContinuityGeneration(Conflict): ...


class SessionBindingMismatch(Conflict): ...


class HeadRevisionConflict(Conflict):
    """The session head moved since you read it: load it again and rebuild the commit."""


class RuntimeTurnCommitConflict(Conflict): ...


class QueuedWorkClaimExpired(Conflict):
    """The inbox claim lost a batch (expired, abandoned, or its agent expired): do not complete it."""


class QueuedWorkBatchHeld(Conflict): ...


class SessionNodeConflict(Conflict): ...


# -- 422 ------------------------------------------------------------------------------------------
class InvalidInput(SwarmError): ...


class InvalidIdentity(InvalidInput): ...


class SelfEdge(InvalidInput): ...


class InvalidSnapshot(InvalidInput): ...


class SessionKeyMismatch(InvalidInput): ...


class UnsupportedReadScope(InvalidInput): ...


class SerializationError(InvalidInput): ...


BY_CODE: dict[str, type[SwarmError]] = {
    "malformed_request": MalformedRequest,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "payload_too_large": PayloadTooLarge,
    "backend_error": BackendUnavailable,
    "fencing_unavailable": BackendUnavailable,
    "storage_error": ServerError,
    "identity_runtime_error": ServerError,
    "not_found": NotFound,
    "agent_expired": AgentExpired,
    "unknown_identity": UnknownIdentity,
    "unknown_parent": UnknownParent,
    "session_not_current": SessionNotCurrent,
    "conflict": Conflict,
    "stale_fencing_token": StaleFencingToken,
    "fence_mismatch": FenceMismatch,
    "fencing_token_required": FencingTokenRequired,
    "owned_inbox": OwnedInbox,
    "lease_held": LeaseHeld,
    "lease_lost": LeaseLost,
    "no_active_lease": NoActiveLease,
    "not_addressable": NotAddressable,
    "invalid_state": InvalidState,
    "duplicate_identity": DuplicateIdentity,
    "idempotency_key_reused": IdempotencyKeyReused,
    "write_failed": WriteFailed,
    "events_pruned": EventsPruned,
    "invalid_transition": InvalidTransition,
    "oauth_flow_changed": OAuthFlowChanged,
    "stale_checkpoint_version": StaleCheckpointVersion,
    "stale_continuity_generation": StaleContinuityGeneration,
    "session_binding_mismatch": SessionBindingMismatch,
    "head_revision_conflict": HeadRevisionConflict,
    "runtime_turn_commit_conflict": RuntimeTurnCommitConflict,
    "queued_work_claim_expired": QueuedWorkClaimExpired,
    "queued_work_batch_held": QueuedWorkBatchHeld,
    "session_node_conflict": SessionNodeConflict,
    "invalid_input": InvalidInput,
    "invalid_identity": InvalidIdentity,
    "self_edge": SelfEdge,
    "invalid_snapshot": InvalidSnapshot,
    "session_key_mismatch": SessionKeyMismatch,
    "unsupported_read_scope": UnsupportedReadScope,
    "serialization_error": SerializationError,
    "unsupported_record_schema_version": SerializationError,
}
BY_STATUS: dict[int, type[SwarmError]] = {
    400: MalformedRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge,
    422: InvalidInput, 503: BackendUnavailable,
}


def error_for(status: int, body: Any) -> SwarmError:
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code") or f"http_{status}")
    detail = str(body.get("detail") or "")
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or (ServerError if status >= 500 else SwarmError)
    return cls(status, code, detail, body)
