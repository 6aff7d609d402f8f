"""Transport shared by the sync and async clients: one request description, two executors.

Every call is described once as a `Call`; `SwarmClient` and `AsyncSwarmClient` execute it. Calls
marked idempotent (reads, and writes that carry an idempotency key) are retried with exponential
backoff on transport errors and 502/503/504; others are sent once."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from swarmclient.errors import SwarmError, TransportError, error_for

RETRY_STATUS = {502, 503, 504}
R = TypeVar("R")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    idempotent: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    # Shapes a successful answer (None for 204 included) into what the method returns.
    parse: Callable[[Any], Any] | None = None


def idempotency_key() -> str:
    return uuid.uuid4().hex


def with_key(call_headers: dict[str, str] | None, key: str | None) -> dict[str, str]:
    """Headers carrying an Idempotency-Key (a fresh one unless the caller passes its own)."""
    return {**(call_headers or {}), "Idempotency-Key": key or idempotency_key()}


def fenced(call_headers: dict[str, str] | None, token: int | None) -> dict[str, str]:
    """Headers carrying the owning identity's fencing token (routes whose body has no fence field)."""
    if token is None:
        return dict(call_headers or {})
    return {**(call_headers or {}), "Fencing-Token": str(token)}


def backoff_s(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    return min(cap, base * (2**attempt)) * (0.5 + random.random() / 2)


def clean_params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in params.items() if v is not None}


def decode(response: httpx.Response, call: Call | None = None) -> Any:
    body: Any = None
    if response.status_code != 204 and response.content:
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
    if not response.is_success:
        raise error_for(response.status_code, body)
    return call.parse(body) if call is not None and call.parse is not None else body


def should_retry(
    call: Call, attempt: int, retries: int, exc: BaseException | None, response: httpx.Response | None
) -> bool:
    if not call.idempotent or attempt >= retries:
        return False
    if exc is not None:
        return isinstance(exc, httpx.TransportError)
    return response is not None and response.status_code in RETRY_STATUS


def transport_error(exc: BaseException) -> SwarmError:
    return TransportError(0, "transport_error", f"could not reach Swarmsite: {exc}")


def fields(**values: Any) -> dict[str, Any]:
    """A JSON body without the members left at None (the server's defaults apply)."""
    return {k: v for k, v in values.items() if v is not None}


class Sender(Generic[R]):
    """What every group of endpoints builds on: a `Call` goes in, the client's answer comes out."""

    agent_id: uuid.UUID

    def _send(self, call: Call) -> R:
        raise NotImplementedError
