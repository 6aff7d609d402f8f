"""The outputs router (/api/v1/outputs): every OutputStore method, thin over the store.

Events travel in their wire form, `{"type": "progress"|"partial"|"artifact"|"final", ...}`, with
content tagged `{"kind": "inline", "value": <JSON>}` or `{"kind": "file_ref", "path": ...}`. Every
string is limited and NUL-free here, so the database never sees input it would reject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from django.conf import settings
from django.http import HttpRequest
from ninja import Header, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field, StrictBool, model_validator

from identities.types import Owned
from stores.output_types import (
    REF_PATTERN,
    Artifact,
    ContentRef,
    FileRef,
    Final,
    InlineContent,
    OutputDraft,
    OutputEvent,
    OutputKind,
    OutputRecord,
    Partial,
    Progress,
    event_to_json,
)
from stores.outputs import MAX_PARENTS, preview_text
from stores.types import Fence, Page
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.fencing import owned_write, owned_writes
from swarmsite.api.schemas import NO_NUL, JsonValue, PageOut, PageParams
from swarmsite.composition import output_store

outputs_router = Router(tags=["outputs"])

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Ref = Annotated[str, Field(pattern=REF_PATTERN, description="An output ref, like out-3fa85f6457")]
Attempt = Annotated[int, Field(ge=0, le=2**32 - 1)]
# Identity names are one path segment elsewhere in the API (SPEC 4): no whitespace or "/".
IdentityName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00/]+$")]

READ_ERRORS: dict[int, type[Schema]] = {404: ErrorOut, **COMMON_ERRORS}
WRITE_ERRORS: dict[int, type[Schema]] = {404: ErrorOut, 409: ErrorOut, 503: ErrorOut, **COMMON_ERRORS}


# -- schemas -------------------------------------------------------------------------------------


class InlineIn(Schema):
    kind: Literal["inline"]
    value: JsonValue = None


class FileRefIn(Schema):
    kind: Literal["file_ref"]
    path: Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
    mime: Annotated[str, Field(max_length=200, pattern=NO_NUL)] | None = None
    size_hint: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None


ContentIn = Annotated[InlineIn | FileRefIn, Field(discriminator="kind")]


class ProgressIn(Schema):
    type: Literal["progress"]
    stage: Name
    note: Annotated[str, Field(max_length=4000, pattern=NO_NUL)] | None = None


class PartialIn(Schema):
    type: Literal["partial"]
    chunk: ContentIn


class ArtifactIn(Schema):
    type: Literal["artifact"]
    name: Name
    content: ContentIn


class FinalIn(Schema):
    type: Literal["final"]
    content: ContentIn
    ok: StrictBool


EventIn = Annotated[ProgressIn | PartialIn | ArtifactIn | FinalIn, Field(discriminator="type")]


class AppendIn(Schema):
    task_id: Name
    attempt: Attempt
    producer_agent: Name
    event: EventIn
    parent_refs: list[Ref] = Field(default_factory=list, max_length=MAX_PARENTS)
    # An identity's outputs (producer_agent = its name) carry its current fencing token; `identity`, if
    # sent, must be the producer's. Outputs of producers that are no identity need neither.
    identity: IdentityName | None = None
    fencing_token: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None

    @model_validator(mode="after")
    def fence_is_whole(self) -> Self:
        if self.identity is not None and self.fencing_token is None:
            raise ValueError("identity needs its fencing_token")
        return self


# The most outputs one batch append may carry.
MAX_APPENDS = 100
ItemKey = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class AppendItemIn(AppendIn):
    idempotency_key: ItemKey | None = Field(
        None, description="As the single append's Idempotency-Key header: per producer, a retry returns the "
                          "first record (default: derived from the batch's header, `<key>:<index>`)",
    )


class AppendManyIn(Schema):
    outputs: list[AppendItemIn] = Field(min_length=1, max_length=MAX_APPENDS,
                                        description=f"1 to {MAX_APPENDS} appends, stored in this order")


class OutputOut(Schema):
    ref: str
    seq: int = Field(description="Insertion sequence: the higher, the later ('latest' means highest).")
    task_id: str
    attempt: int
    producer_agent: str
    kind: OutputKind
    event: EventIn
    parent_refs: list[str]
    preview: str
    created_at: datetime
    identity: str | None
    fencing_token: int | None


class AppendedOut(Schema):
    items: list[OutputOut] = Field(description="One record per append, in the order sent")


class OutputFilter(PageParams):
    task_id: Name | None = None
    attempt: Attempt | None = None
    producer: Name | None = None
    kind: OutputKind | None = None


class LatestQuery(Schema):
    producer: Name
    task_id: Name | None = None
    attempt: Attempt | None = None

    @model_validator(mode="after")
    def run_is_whole(self) -> Self:
        if (self.task_id is None) != (self.attempt is None):
            raise ValueError("task_id and attempt go together: send both (one run) or neither (all tasks)")
        return self


class AttemptQuery(Schema):
    task_id: Name
    attempt: Attempt


class WaitQuery(Schema):
    producer: Name
    after: Ref | None = Field(None, description="The last ref you saw; default: wait for one appended from now on.")
    timeout: float = Field(20.0, ge=0, le=86400, description="Seconds; capped by the server (30 s by default).")


class WaitOut(Schema):
    output: OutputOut | None
    timed_out: bool


class ChildrenQuery(Schema):
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(100, ge=1, le=500)


# -- conversions ---------------------------------------------------------------------------------


def to_content(content: InlineIn | FileRefIn) -> ContentRef:
    if isinstance(content, InlineIn):
        return InlineContent(value=content.value)
    return FileRef(path=content.path, mime=content.mime, size_hint=content.size_hint)


def to_event(event: ProgressIn | PartialIn | ArtifactIn | FinalIn) -> OutputEvent:
    if isinstance(event, ProgressIn):
        return Progress(stage=event.stage, note=event.note)
    if isinstance(event, PartialIn):
        return Partial(chunk=to_content(event.chunk))
    if isinstance(event, ArtifactIn):
        return Artifact(name=event.name, content=to_content(event.content))
    return Final(content=to_content(event.content), ok=event.ok)


def output_out(record: OutputRecord) -> dict[str, Any]:
    return {
        "ref": record.ref,
        "seq": record.seq,
        "task_id": record.task_id,
        "attempt": record.attempt,
        "producer_agent": record.producer_agent,
        "kind": record.kind,
        "event": event_to_json(record.event),
        "parent_refs": list(record.parent_refs),
        "preview": preview_text(record.event),
        "created_at": record.created_at,
        "identity": record.identity,
        "fencing_token": record.fencing_token,
    }


def page_out(page: Page[OutputRecord]) -> dict[str, Any]:
    return {"items": [output_out(r) for r in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


# -- routes (fixed paths before /{ref}) ----------------------------------------------------------


@outputs_router.post("", response={201: OutputOut, **WRITE_ERRORS})
def append(
    request: HttpRequest,
    body: AppendIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, pattern=NO_NUL)] = None,
) -> Status:
    """Append an output; answers its record with a fresh `ref`. Parents must exist (404
    `unknown_parent`, nothing written). With `Idempotency-Key`, a retry by the same producer returns
    the first record (409 `idempotency_key_reused` if the body differs). When `producer_agent` names an
    identity, the append needs that identity's current `fencing_token`, checked in the same transaction
    (409 `fencing_token_required`, `fence_mismatch`, `stale_fencing_token`)."""
    fence = None
    if body.fencing_token is not None:
        fence = Fence(identity=body.identity or "", token=body.fencing_token)
    with owned_write(request, Owned.IDENTITY, body.producer_agent, "output.append", fence=fence) as bound:
        record = output_store().append(
            body.task_id, body.attempt, body.producer_agent, to_event(body.event), body.parent_refs,
            fence=bound, idempotency_key=idempotency_key,
        )
    return Status(201, output_out(record))


@outputs_router.post("/batch", response={201: AppendedOut, **WRITE_ERRORS}, summary="Append several outputs")
def append_many(
    request: HttpRequest,
    body: AppendManyIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=190, pattern=NO_NUL)] = None,
) -> Status:
    """Append up to 100 outputs in one transaction, all or nothing: each is checked as the single
    `POST /outputs` checks it (parents must exist: 404 `unknown_parent`; an identity's outputs carry its
    current `fencing_token`: 409 `fencing_token_required`, `fence_mismatch`, `stale_fencing_token`), and
    one refusal writes nothing. Parents are outputs stored before the call. With an `Idempotency-Key`
    header (or an item's own `idempotency_key`), a retry returns the same records."""
    writes = [(item.producer_agent, _fence_of(item)) for item in body.outputs]
    keys = [item.idempotency_key or (f"{idempotency_key}:{i}" if idempotency_key else None)
            for i, item in enumerate(body.outputs)]
    with owned_writes(request, Owned.IDENTITY, writes, "output.append_many") as bound:
        records = output_store().append_many([
            OutputDraft(item.task_id, item.attempt, item.producer_agent, to_event(item.event), item.parent_refs,
                        fence, key)
            for item, fence, key in zip(body.outputs, bound, keys, strict=True)
        ])
    return Status(201, {"items": [output_out(r) for r in records]})


def _fence_of(item: AppendIn) -> Fence | None:
    return Fence(identity=item.identity or "", token=item.fencing_token) if item.fencing_token is not None else None


@outputs_router.get("", response={200: PageOut[OutputOut], **COMMON_ERRORS})
def list_outputs(request: HttpRequest, filters: Query[OutputFilter]) -> dict[str, Any]:
    """Outputs matching every given filter, newest first; paginated by offset/limit."""
    page = output_store().list_outputs(
        task_id=filters.task_id, attempt=filters.attempt, producer_agent=filters.producer, kind=filters.kind,
        offset=filters.offset, limit=filters.limit,
    )
    return page_out(page)


@outputs_router.get("/latest", response={200: OutputOut, **READ_ERRORS})
def latest(request: HttpRequest, query: Query[LatestQuery]) -> dict[str, Any]:
    """The producer's newest output (by insertion), across all tasks, or within one run when
    `task_id` and `attempt` are given. 404 `not_found` if it never emitted (there)."""
    store = output_store()
    if query.task_id is not None and query.attempt is not None:
        return output_out(store.get_latest_by_name_in_run(query.task_id, query.attempt, query.producer))
    return output_out(store.get_latest_by_name(query.producer))


@outputs_router.get("/wait", response={200: WaitOut, **READ_ERRORS})
def wait(request: HttpRequest, query: Query[WaitQuery]) -> dict[str, Any]:
    """Long-poll: the producer's next output after `after`, as soon as it is appended, or
    `timed_out` after `timeout` seconds. Poll again with the returned ref as `after`."""
    timeout_s = min(query.timeout, settings.SWARM_OUTPUT_WAIT_MAX_S)
    record = output_store().wait_for_next(query.producer, after_ref=query.after, timeout_s=timeout_s)
    return {"output": output_out(record) if record else None, "timed_out": record is None}


@outputs_router.get("/for-attempt", response={200: list[OutputOut], **COMMON_ERRORS})
def for_attempt(request: HttpRequest, query: Query[AttemptQuery]) -> list[dict[str, Any]]:
    """Every output of one (task_id, attempt), in insertion order; [] for an unknown pair."""
    return [output_out(r) for r in output_store().list_for_attempt(query.task_id, query.attempt)]


@outputs_router.get("/{ref}", response={200: OutputOut, **READ_ERRORS})
def get_output(request: HttpRequest, ref: Ref) -> dict[str, Any]:
    """One output by ref. 404 `not_found`."""
    return output_out(output_store().get(ref))


@outputs_router.get("/{ref}/children", response={200: PageOut[OutputOut], **READ_ERRORS})
def children(request: HttpRequest, ref: Ref, query: Query[ChildrenQuery]) -> dict[str, Any]:
    """Outputs that name `ref` among their parents, in insertion order. 404 `not_found`."""
    return page_out(output_store().children_of(ref, offset=query.offset, limit=query.limit))
