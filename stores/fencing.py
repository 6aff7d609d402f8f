"""InMemoryFenceGuard: fencing for in-memory stores and for conformance suites of fenced writes."""

from __future__ import annotations

import threading

from stores.contracts import FenceGuard
from stores.errors import FencingUnavailable, StaleFencingToken
from stores.types import Fence


def check_fence(guard: FenceGuard | None, fence: Fence | None, operation: str) -> None:
    """Every store's fenced write calls this inside its transaction, before its first write. A fenced
    write with no guard to check it is refused rather than let through unchecked."""
    if fence is None:
        return
    if guard is None:
        raise FencingUnavailable(
            f"{operation} carried a fence but no fence guard is configured to check it",
            operation=operation,
            identity=fence.identity,
        )
    guard.check(fence, operation=operation)


class InMemoryFenceGuard:
    """Current token per identity; the identity runtime's lease provider sets it on every grant."""

    def __init__(self) -> None:
        self._current: dict[str, int] = {}
        self._lock = threading.Lock()

    def grant(self, identity: str, token: int) -> None:
        with self._lock:
            self._current[identity] = max(token, self._current.get(identity, 0))

    def revoke(self, identity: str) -> None:
        with self._lock:
            self._current.pop(identity, None)

    def check(self, fence: Fence, *, operation: str) -> None:
        with self._lock:
            current = self._current.get(fence.identity)
        if current is None or fence.token != current:
            raise StaleFencingToken(
                f"{operation} for identity {fence.identity!r} carried fencing token {fence.token}, "
                f"but the current token is {current}",
                identity=fence.identity,
                presented_token=fence.token,
                current_token=current,
                operation=operation,
            )
