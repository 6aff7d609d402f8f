"""Exceptions for the API's error codes: catch the class, or read `.code`."""

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


class Unauthorized(SwarmError): ...


class Forbidden(SwarmError): ...


class NotFound(SwarmError): ...


class AgentExpired(NotFound):
    """This agent stayed silent past the TTL; register again (everything it held was freed)."""


class UnknownIdentity(NotFound): ...


class Conflict(SwarmError): ...


class StaleFencingToken(Conflict):
    """A newer owner holds the identity: stop working on it, your writes are rejected."""


class LeaseHeld(Conflict):
    """Another live agent holds the lease; `holder` and `expires_at` say who and until when."""

    @property
    def holder(self) -> str | None:
        return self.body.get("holder")

    @property
    def expires_at(self) -> str | None:
        return self.body.get("expires_at")


class LeaseLost(Conflict): ...


class NoActiveLease(Conflict): ...


class InvalidInput(SwarmError): ...


class PayloadTooLarge(SwarmError): ...


BY_CODE: dict[str, type[SwarmError]] = {
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "agent_expired": AgentExpired,
    "unknown_identity": UnknownIdentity,
    "stale_fencing_token": StaleFencingToken,
    "lease_held": LeaseHeld,
    "lease_lost": LeaseLost,
    "no_active_lease": NoActiveLease,
    "invalid_input": InvalidInput,
    "payload_too_large": PayloadTooLarge,
}
BY_STATUS: dict[int, type[SwarmError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge, 422: InvalidInput,
}


def error_for(status: int, body: Any) -> SwarmError:
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code") or f"http_{status}")
    detail = str(body.get("detail") or "")
    cls = BY_CODE.get(code) or BY_STATUS.get(status, SwarmError)
    return cls(status, code, detail, body)
