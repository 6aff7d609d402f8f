"""InMemoryFenceGuard: fencing for in-memory stores and for conformance suites of fenced writes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from stores.contracts import FenceGuard
from stores.errors import FencingUnavailable, StaleFencingToken
from stores.types import Fence

# The fence the write in progress (on this thread) was authorized with, and the lease it was checked
# against: set by the identity runtime's owned_write for the length of the write's transaction.
_checked: ContextVar[tuple[str, int, object] | None] = ContextVar("swarm_checked_fence", default=None)


# Set while the caller's transaction is one whole write that any error rolls back entirely (the
# identity runtime's owned_write): inside it the stores' own blocks need no savepoint of their own.
_whole_write: ContextVar[bool] = ContextVar("swarm_whole_write", default=False)


@contextlib.contextmanager
def whole_write() -> Iterator[None]:
    """The transaction under way is the whole write: an error anywhere in it propagates and rolls it
    all back (nobody catches it and writes on), so nested blocks may skip their savepoints."""
    reset = _whole_write.set(True)
    try:
        yield
    finally:
        _whole_write.reset(reset)


def in_whole_write() -> bool:
    return _whole_write.get()


@contextlib.contextmanager
def checked_in_this_transaction(fence: Fence, lease: object) -> Iterator[None]:
    """The caller checked `fence` inside the transaction it now runs the write in, with the lease row
    locked until that transaction ends: the stores' own check of the same fence would read the same
    locked row again, so for the length of this block it is answered from here."""
    reset = _checked.set((fence.identity, fence.token, lease))
    try:
        yield
    finally:
        _checked.reset(reset)


def already_checked(fence: Fence) -> object | None:
    """The lease `fence` was checked against in the transaction under way, or None."""
    checked = _checked.get()
    return checked[2] if checked is not None and checked[:2] == (fence.identity, fence.token) else None


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
    if already_checked(fence) is None:
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
