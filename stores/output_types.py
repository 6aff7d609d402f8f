"""Values of the OutputStore contract (semantics 2.2): frozen dataclasses and their JSON wire form.

Both backends store an event as its wire form (`{"type": ..., ...}` with content tagged by
`"kind"`), so adding a variant needs no migration and the API speaks the same shape.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stores.errors import InvalidInput
from stores.types import Fence

# "out-" + 10 lowercase hex digits. Unique, not unguessable: access control lives elsewhere.
OutputRef = str
REF_PATTERN = r"^out-[0-9a-f]{10}$"
_REF_RE = re.compile(REF_PATTERN)


def is_output_ref(value: str) -> bool:
    return bool(_REF_RE.match(value))


class OutputKind(enum.StrEnum):
    PROGRESS = "progress"
    PARTIAL = "partial"
    ARTIFACT = "artifact"
    FINAL = "final"


@dataclass(frozen=True)
class InlineContent:
    """Content carried in the record itself: any JSON value (a JSON string for text)."""

    value: Any

    kind = "inline"


@dataclass(frozen=True)
class FileRef:
    """Content that lives elsewhere; the store keeps only the reference."""

    path: str
    mime: str | None = None
    size_hint: int | None = None

    kind = "file_ref"


ContentRef = InlineContent | FileRef


@dataclass(frozen=True)
class Progress:
    """A marker with no payload."""

    stage: str
    note: str | None = None

    kind = OutputKind.PROGRESS


@dataclass(frozen=True)
class Partial:
    """One streamed chunk."""

    chunk: ContentRef

    kind = OutputKind.PARTIAL


@dataclass(frozen=True)
class Artifact:
    """A named artifact."""

    name: str
    content: ContentRef

    kind = OutputKind.ARTIFACT


@dataclass(frozen=True)
class Final:
    """The terminal event of an attempt. `ok` is transport-level success; verdicts live in content."""

    content: ContentRef
    ok: bool

    kind = OutputKind.FINAL


OutputEvent = Progress | Partial | Artifact | Final


@dataclass(frozen=True)
class OutputRecord:
    """An appended output. Immutable; `seq` is the insertion sequence that decides "latest"."""

    ref: OutputRef
    seq: int
    task_id: str
    attempt: int
    producer_agent: str
    event: OutputEvent
    parent_refs: tuple[OutputRef, ...]
    created_at: datetime
    # Set when the output was appended on behalf of an identity under its lease.
    identity: str | None = None
    fencing_token: int | None = None

    @property
    def kind(self) -> OutputKind:
        return self.event.kind


@dataclass(frozen=True)
class OutputDraft:
    """One append of a batch (OutputStore.append_many): the single append's arguments."""

    task_id: str
    attempt: int
    producer_agent: str
    event: OutputEvent
    parent_refs: Sequence[OutputRef] = ()
    fence: Fence | None = None
    idempotency_key: str | None = None


def content_to_json(content: ContentRef) -> dict[str, Any]:
    if isinstance(content, InlineContent):
        return {"kind": "inline", "value": content.value}
    return {"kind": "file_ref", "path": content.path, "mime": content.mime, "size_hint": content.size_hint}


def content_from_json(data: Mapping[str, Any]) -> ContentRef:
    kind = data.get("kind")
    if kind == "inline":
        return InlineContent(value=data.get("value"))
    if kind == "file_ref":
        return FileRef(path=str(data["path"]), mime=data.get("mime"), size_hint=data.get("size_hint"))
    raise InvalidInput(f"unknown content kind {kind!r}", kind=str(kind))


def event_to_json(event: OutputEvent) -> dict[str, Any]:
    if isinstance(event, Progress):
        return {"type": "progress", "stage": event.stage, "note": event.note}
    if isinstance(event, Partial):
        return {"type": "partial", "chunk": content_to_json(event.chunk)}
    if isinstance(event, Artifact):
        return {"type": "artifact", "name": event.name, "content": content_to_json(event.content)}
    return {"type": "final", "content": content_to_json(event.content), "ok": event.ok}


def event_from_json(data: Mapping[str, Any]) -> OutputEvent:
    """The event of a wire-form dict; InvalidInput for an unknown type or a missing field."""
    kind = data.get("type")
    try:
        if kind == "progress":
            return Progress(stage=str(data["stage"]), note=data.get("note"))
        if kind == "partial":
            return Partial(chunk=content_from_json(data["chunk"]))
        if kind == "artifact":
            return Artifact(name=str(data["name"]), content=content_from_json(data["content"]))
        if kind == "final":
            return Final(content=content_from_json(data["content"]), ok=bool(data["ok"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"malformed {kind} event: {exc}", type=str(kind)) from exc
    raise InvalidInput(f"unknown output event type {kind!r}", type=str(kind))
