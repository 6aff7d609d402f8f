"""OutputStore helpers shared by every backend: refs, previews, event payloads, waking long-polls."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from stores.errors import InvalidInput
from stores.output_types import (
    Artifact,
    ContentRef,
    FileRef,
    Final,
    InlineContent,
    OutputDraft,
    OutputEvent,
    OutputRecord,
    OutputRef,
    Partial,
    Progress,
    event_to_json,
)

PREVIEW_CHARS = 160
MAX_PARENTS = 100


def new_ref() -> OutputRef:
    """A fresh ref: 40 random bits. Backends still enforce uniqueness and draw again on a clash."""
    return f"out-{secrets.token_hex(5)}"


def check_parent_refs(parent_refs: Sequence[OutputRef]) -> tuple[OutputRef, ...]:
    """The parents as stored (verbatim order); a ref named twice is a caller bug, not lineage."""
    refs = tuple(parent_refs)
    if len(set(refs)) != len(refs):
        dupes = sorted({r for r in refs if refs.count(r) > 1})
        raise InvalidInput(f"parent refs name {', '.join(dupes)} more than once", duplicate_refs=dupes)
    if len(refs) > MAX_PARENTS:
        raise InvalidInput(f"at most {MAX_PARENTS} parent refs", limit=MAX_PARENTS)
    return refs


def check_drafts(drafts: Sequence[OutputDraft]) -> list[tuple[OutputRef, ...]]:
    """Each draft's parents as stored; InvalidInput if a producer's idempotency key is named twice."""
    keys = [(d.producer_agent, d.idempotency_key) for d in drafts if d.idempotency_key is not None]
    if len(set(keys)) != len(keys):
        twice = sorted({f"{p}/{k}" for p, k in keys if keys.count((p, k)) > 1})
        raise InvalidInput(f"one producer's idempotency key is used twice in the batch: {', '.join(twice)}",
                           duplicate_keys=twice)
    return [check_parent_refs(d.parent_refs) for d in drafts]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def content_preview(content: ContentRef) -> str:
    if isinstance(content, FileRef):
        return f"file {content.path}" + (f" ({content.mime})" if content.mime else "")
    assert isinstance(content, InlineContent)
    value = content.value
    if isinstance(value, str):
        return _clip(value)
    return _clip(json.dumps(value, ensure_ascii=False, sort_keys=True))


def preview_text(event: OutputEvent) -> str:
    """One short line saying what an output holds (pages, events, identity inspection)."""
    if isinstance(event, Progress):
        return _clip(f"{event.stage}: {event.note}" if event.note else event.stage)
    if isinstance(event, Partial):
        return content_preview(event.chunk)
    if isinstance(event, Artifact):
        return _clip(f"{event.name}: {content_preview(event.content)}")
    assert isinstance(event, Final)
    return _clip(f"{'ok' if event.ok else 'failed'}: {content_preview(event.content)}")


def output_payload(record: OutputRecord) -> dict[str, Any]:
    """The self-contained snapshot carried by an output.appended event."""
    payload: dict[str, Any] = {
        "ref": record.ref,
        "seq": record.seq,
        "task_id": record.task_id,
        "attempt": record.attempt,
        "producer": record.producer_agent,
        "kind": record.kind.value,
        "preview": preview_text(record.event),
        "parents": list(record.parent_refs),
        "created_at": record.created_at.isoformat(),
    }
    if record.identity is not None:
        payload["identity"] = record.identity
        payload["fencing_token"] = record.fencing_token
    return payload


def same_append(
    record: OutputRecord, task_id: str, attempt: int, event: OutputEvent, parent_refs: Sequence[OutputRef]
) -> bool:
    """Whether a retried append (same idempotency key) asks for what the stored record holds."""
    return (
        record.task_id == task_id
        and record.attempt == attempt
        and event_to_json(record.event) == event_to_json(event)
        and record.parent_refs == tuple(parent_refs)
    )


class ProducerSignal:
    """Wakes long-polls when a producer appends (after commit), so they never sleep-poll.

    `notify` wakes the waiters of this process. Appends in other processes reach them through a
    listener (`listen_with`; on PostgreSQL, LISTEN/NOTIFY: stores/backends/orm/wakeups.py) that calls
    `notify` here; the re-check every `poll_s` is only the fallback if that listener is down.
    Memory stays bounded: a producer is tracked only while someone waits for it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # producer -> [waiters, version]; an entry lives only while it has waiters.
        self._waiting: dict[str, list[int]] = {}
        self._listener: Callable[[Callable[[str], None]], None] | None = None
        self._listening = False

    def listen_with(self, listener: Callable[[Callable[[str], None]], None]) -> None:
        """Install how this process hears other processes' appends (started at the first wait)."""
        with self._cond:
            if self._listener is None:
                self._listener = listener

    def tracked(self) -> int:
        with self._cond:
            return len(self._waiting)

    def notify(self, producer: str) -> None:
        with self._cond:
            entry = self._waiting.get(producer)
            if entry is not None:
                entry[1] += 1
                self._cond.notify_all()

    def _start_listening(self) -> None:
        with self._cond:
            if self._listening or self._listener is None:
                return
            self._listening = True
            listener = self._listener
        listener(self.notify)

    def wait(
        self,
        producer: str,
        check: Callable[[], OutputRecord | None],
        *,
        timeout_s: float,
        poll_s: float,
    ) -> OutputRecord | None:
        """Return check()'s first record within timeout_s; re-check on a notify or every poll_s."""
        self._start_listening()
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            entry = self._waiting.setdefault(producer, [0, 0])
            entry[0] += 1
        try:
            while True:
                # Read the version before checking, so an append between the check and the wait
                # still wakes us (its notify bumps the version we compare against).
                with self._cond:
                    seen = entry[1]
                found = check()
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                with self._cond:
                    self._cond.wait_for(lambda seen=seen: entry[1] != seen, timeout=min(poll_s, remaining))  # type: ignore[misc]
        finally:
            with self._cond:
                entry[0] -= 1
                if entry[0] == 0:
                    del self._waiting[producer]


# One per process: every ORM store in the process wakes every waiter in it.
producer_signal = ProducerSignal()
