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
    """A write carried a fencing token lower than the identity's current one (or its lease is gone)."""

    code = "stale_fencing_token"
