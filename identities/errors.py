"""Errors of the identity runtime: one root, one subclass per outcome, each with a stable code.

Each also subclasses the store error whose HTTP status it shares (NotFound 404, Conflict 409,
InvalidInput 422), so `swarmsite/api.py`'s one table maps them without new rows."""

from __future__ import annotations

from stores.errors import Conflict, InvalidInput, NotFound, StorageError


class IdentityRuntimeError(StorageError):
    """Root of the runtime's errors (a bare one is an internal failure: 500)."""

    code = "identity_runtime_error"


class UnknownIdentity(IdentityRuntimeError, NotFound):
    code = "unknown_identity"


class InvalidIdentity(IdentityRuntimeError, InvalidInput):
    code = "invalid_identity"


class SelfEdge(IdentityRuntimeError, InvalidInput):
    code = "self_edge"


class NotAddressable(IdentityRuntimeError, Conflict):
    code = "not_addressable"


class NoActiveLease(IdentityRuntimeError, Conflict):
    code = "no_active_lease"


class LeaseLost(IdentityRuntimeError, Conflict):
    code = "lease_lost"


class LeaseHeld(IdentityRuntimeError, Conflict):
    """Another live agent holds the lease; context names the holder and its expiry."""

    code = "lease_held"


class InvalidState(IdentityRuntimeError, Conflict):
    code = "invalid_state"


class DuplicateIdentity(IdentityRuntimeError, Conflict):
    code = "duplicate_identity"


class WaitTimeout(IdentityRuntimeError):
    """wait_for_output saw no matching output before its deadline (the API answers 204)."""

    code = "wait_timeout"


class OwnedInbox(IdentityRuntimeError, Conflict):
    """A raw enqueue into an identity's session: its inbox is written by send/dispatch only."""

    code = "owned_inbox"
