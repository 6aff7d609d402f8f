"""Schemas of the threads router: checkpoints and pending writes travel as typed blobs (base64 bytes the
checkpointer's serializer produced), metadata as JSON the server can filter on."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from ninja import Schema
from pydantic import Field, field_validator, model_validator

from stores.thread_types import (
    MAX_CHANNEL,
    MAX_CHECKPOINT_ID,
    MAX_NAMESPACE,
    MAX_TASK_ID,
    MAX_THREAD_ID,
    Blob,
    CheckpointRecord,
    PendingWrite,
    PruneStrategy,
    ThreadSummary,
)
from stores.types import Fence
from swarmsite.api.schemas import NO_NUL, JsonObject, _clean_json

# Thread ids are one path segment: anything but "/", whitespace at the ends is kept as given.
ThreadId = Annotated[str, Field(min_length=1, max_length=MAX_THREAD_ID, pattern=r"^[^/\x00]+$")]
Namespace = Annotated[str, Field(max_length=MAX_NAMESPACE, pattern=NO_NUL)]
CheckpointId = Annotated[str, Field(min_length=1, max_length=MAX_CHECKPOINT_ID, pattern=NO_NUL)]
IdentityName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00/]+$")]
Token = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]  # a JSON number, never "5"
MAX_BLOB_B64 = 16 * 1024 * 1024


class BlobIO(Schema):
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    data: Annotated[str, Field(max_length=MAX_BLOB_B64, description="base64 of the serialized bytes")]

    @field_validator("data")
    @classmethod
    def is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("data must be base64") from exc
        return value

    def blob(self) -> Blob:
        return Blob(self.type, base64.b64decode(self.data))


def blob_out(blob: Blob) -> dict[str, str]:
    return {"type": blob.type, "data": base64.b64encode(blob.data).decode()}


class FenceIn(Schema):
    """Writes on behalf of an identity carry both (its lease's token); writes to unowned threads neither."""

    identity: IdentityName | None = None
    fencing_token: Token | None = None
    agent_id: UUID | None = None

    @model_validator(mode="after")
    def fence_is_whole(self) -> Self:
        if (self.identity is None) != (self.fencing_token is None):
            raise ValueError("identity and fencing_token go together: send both or neither")
        return self

    def fence(self) -> Fence | None:
        if self.identity is None or self.fencing_token is None:
            return None
        return Fence(identity=self.identity, token=self.fencing_token, agent_id=self.agent_id)


class FenceQuery(FenceIn):
    """The same fence in a query string (DELETE has no body), where every value arrives as text."""

    fencing_token: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None


class ThreadCheckpointIn(FenceIn):
    checkpoint_ns: Namespace = ""
    checkpoint_id: CheckpointId
    parent_checkpoint_id: CheckpointId | None = None
    checkpoint: BlobIO
    metadata: JsonObject = Field(default_factory=dict)


class WriteIn(Schema):
    task_id: Annotated[str, Field(min_length=1, max_length=MAX_TASK_ID, pattern=NO_NUL)]
    idx: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
    channel: Annotated[str, Field(min_length=1, max_length=MAX_CHANNEL, pattern=NO_NUL)]
    value: BlobIO
    task_path: Annotated[str, Field(max_length=500, pattern=NO_NUL)] = ""

    def write(self) -> PendingWrite:
        return PendingWrite(self.task_id, self.idx, self.channel, self.value.blob(), self.task_path)


class WritesIn(FenceIn):
    checkpoint_ns: Namespace = ""
    checkpoint_id: CheckpointId
    writes: list[WriteIn] = Field(max_length=10_000)


class CopyIn(FenceIn):
    target_thread_id: ThreadId


class RunsIn(FenceIn):
    run_ids: list[Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]] = Field(max_length=10_000)


class PruneIn(FenceIn):
    thread_ids: list[ThreadId] = Field(max_length=10_000)
    strategy: PruneStrategy = PruneStrategy.KEEP_LATEST


class CheckpointQueryIn(Schema):
    checkpoint_ns: Namespace | None = None
    checkpoint_id: CheckpointId | None = None
    before: CheckpointId | None = Field(None, description="Only checkpoints with a smaller (older) id.")
    limit: int | None = Field(None, ge=1, le=10_000)
    filter: Annotated[str, Field(max_length=20_000)] | None = Field(
        None, description='JSON object of metadata members that must match, e.g. {"source": "loop"}.')

    def metadata(self) -> dict[str, Any]:
        if self.filter is None:
            return {}
        try:
            wanted = json.loads(self.filter)
        except ValueError as exc:
            raise ValueError("filter must be a JSON object") from exc
        if not isinstance(wanted, dict):
            raise ValueError("filter must be a JSON object")
        return dict(_clean_json(wanted))


class GetQuery(Schema):
    checkpoint_ns: Namespace = ""
    checkpoint_id: CheckpointId | None = Field(None, description="Default: the newest of the namespace.")


class ThreadsQuery(Schema):
    identity: IdentityName | None = None
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(50, ge=1, le=500)


class PendingWriteOut(Schema):
    task_id: str
    idx: int
    channel: str
    value: BlobIO
    task_path: str


class ThreadCheckpointOut(Schema):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    checkpoint: BlobIO
    metadata: dict[str, Any]
    created_at: datetime
    identity: str | None
    fencing_token: int | None
    pending_writes: list[PendingWriteOut]


class ThreadOut(Schema):
    thread_id: str
    identity: str | None
    checkpoints: int
    latest_checkpoint_id: str | None
    latest_step: int | None
    latest_source: str | None
    updated_at: datetime


def checkpoint_out(record: CheckpointRecord) -> dict[str, Any]:
    return {
        "thread_id": record.thread_id, "checkpoint_ns": record.checkpoint_ns, "checkpoint_id": record.checkpoint_id,
        "parent_checkpoint_id": record.parent_checkpoint_id, "checkpoint": blob_out(record.checkpoint),
        "metadata": record.metadata, "created_at": record.created_at, "identity": record.identity,
        "fencing_token": record.fencing_token,
        "pending_writes": [
            {"task_id": w.task_id, "idx": w.idx, "channel": w.channel, "value": blob_out(w.value),
             "task_path": w.task_path}
            for w in record.pending_writes
        ],
    }


def thread_out(summary: ThreadSummary) -> dict[str, Any]:
    return {
        "thread_id": summary.thread_id, "identity": summary.identity, "checkpoints": summary.checkpoints,
        "latest_checkpoint_id": summary.latest_checkpoint_id, "latest_step": summary.latest_step,
        "latest_source": summary.latest_source, "updated_at": summary.updated_at,
    }
