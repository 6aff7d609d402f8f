"""What both ThreadStore backends share: the ownership fence rule and the checks on input."""

from __future__ import annotations

import re
from typing import Any

from stores.contracts import FenceGuard
from stores.errors import InvalidInput, StaleFencingToken
from stores.fencing import check_fence
from stores.thread_types import FILTER_KEY_PATTERN, CheckpointQuery
from stores.types import Fence

_FILTER_KEY = re.compile(FILTER_KEY_PATTERN)


def guard_thread(guard: FenceGuard | None, owner: str | None, fence: Fence | None, operation: str) -> None:
    """Call inside the write's transaction, after reading the thread's owner and before writing.

    An owned thread takes only its owner's current token: no fence, or another identity's fence, is
    refused like a stale token (so the rejection is recorded and the worker stops)."""
    if owner is not None and (fence is None or fence.identity != owner):
        raise StaleFencingToken(
            f"{operation} on a thread owned by {owner!r} must carry {owner!r}'s current fencing token",
            identity=owner,
            presented_token=fence.token if fence is not None else None,
            presented_identity=fence.identity if fence is not None else None,
            current_token=None,
            operation=operation,
        )
    check_fence(guard, fence, operation)


def check_query(query: CheckpointQuery) -> None:
    for key in query.metadata:
        if not _FILTER_KEY.match(key):
            raise InvalidInput(f"metadata filter key {key!r} must match {FILTER_KEY_PATTERN}", key=key)
    if query.limit is not None and query.limit < 0:
        raise InvalidInput("limit must not be negative")


def run_id_of(metadata: dict[str, Any]) -> str | None:
    run_id = metadata.get("run_id")
    return str(run_id) if run_id is not None else None


def step_of(metadata: dict[str, Any]) -> int | None:
    step = metadata.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def source_of(metadata: dict[str, Any]) -> str | None:
    source = metadata.get("source")
    return source if isinstance(source, str) else None
