"""Outputs (/outputs): append with lineage and fencing, read, wait. Event builders for the wire form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swarmclient.core import Call, R, Sender, fields, with_key


# -- the wire form of output events ---------------------------------------------------------------
def inline(value: Any) -> dict[str, Any]:
    """Content carried in the output itself (any JSON value)."""
    return {"kind": "inline", "value": value}


def file_ref(path: str, *, mime: str | None = None, size_hint: int | None = None) -> dict[str, Any]:
    """Content stored elsewhere, referenced by path."""
    return {"kind": "file_ref", **fields(path=path, mime=mime, size_hint=size_hint)}


def _content(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and value.get("kind") in {"inline", "file_ref"}:
        return value
    return inline(value)


def progress(stage: str, note: str | None = None) -> dict[str, Any]:
    return {"type": "progress", **fields(stage=stage, note=note)}


def partial(chunk: Any) -> dict[str, Any]:
    return {"type": "partial", "chunk": _content(chunk)}


def artifact(name: str, content: Any) -> dict[str, Any]:
    return {"type": "artifact", "name": name, "content": _content(content)}


def final(content: Any, *, ok: bool = True) -> dict[str, Any]:
    """The task's result (text or any JSON value, or a file_ref(...))."""
    return {"type": "final", "content": _content(content), "ok": ok}


def output_item(
    task_id: str, attempt: int, producer: str, event: dict[str, Any], *, parent_refs: Iterable[str] = (),
    identity: str | None = None, fencing_token: int | None = None, idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One append of `append_outputs(...)` (the arguments of `append_output`)."""
    return fields(task_id=task_id, attempt=attempt, producer_agent=producer, event=event,
                  parent_refs=list(parent_refs), identity=identity, fencing_token=fencing_token,
                  idempotency_key=idempotency_key)


class OutputEndpoints(Sender[R]):
    def append_outputs(self, outputs: Iterable[Mapping[str, Any]], *, idempotency_key: str | None = None) -> R:
        """Append up to 100 outputs (`output_item(...)` each) in one call, all or nothing: the records,
        in order. Each is checked as `append_output` checks it (UnknownParent, StaleFencingToken, ...).
        Retried under one Idempotency-Key, so the batch is stored once."""
        body = {"outputs": [dict(o) for o in outputs]}
        return self._send(Call("POST", "/outputs/batch", json=body, idempotent=True,
                               headers=with_key(None, idempotency_key), parse=lambda answer: answer["items"]))

    def append_output(
        self, task_id: str, attempt: int, producer: str, event: dict[str, Any], *,
        parent_refs: Iterable[str] = (), identity: str | None = None, fencing_token: int | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """Append an output (`final(...)`, `progress(...)`, ...). `parent_refs` name the outputs it
        answers (UnknownParent if one does not exist). Under a lease pass `**lease.fence`: a stale
        token is StaleFencingToken. Retried under one Idempotency-Key, so it is stored once."""
        body = fields(task_id=task_id, attempt=attempt, producer_agent=producer, event=event,
                      parent_refs=list(parent_refs), identity=identity, fencing_token=fencing_token)
        return self._send(Call("POST", "/outputs", json=body, idempotent=True, headers=with_key(None, idempotency_key)))

    def get_output(self, ref: str) -> R:
        return self._send(Call("GET", f"/outputs/{ref}", idempotent=True))

    def latest_output(self, producer: str, *, task_id: str | None = None, attempt: int | None = None) -> R:
        """The producer's newest output, across tasks or within one (task_id, attempt). NotFound if none."""
        params = {"producer": producer, "task_id": task_id, "attempt": attempt}
        return self._send(Call("GET", "/outputs/latest", params=params, idempotent=True))

    def wait_output(self, producer: str, *, after: str | None = None, timeout: float = 20.0) -> R:
        """Long-poll for the producer's next output after ref `after`: `{"output": ..., "timed_out": ...}`."""
        params = {"producer": producer, "after": after, "timeout": timeout}
        return self._send(Call("GET", "/outputs/wait", params=params, idempotent=True, timeout=timeout + 10))

    def outputs_for_attempt(self, task_id: str, attempt: int) -> R:
        """Every output of one (task_id, attempt), in insertion order."""
        params = {"task_id": task_id, "attempt": attempt}
        return self._send(Call("GET", "/outputs/for-attempt", params=params, idempotent=True))

    def list_outputs(
        self, *, task_id: str | None = None, attempt: int | None = None, producer: str | None = None,
        kind: str | None = None, offset: int = 0, limit: int = 50,
    ) -> R:
        """Outputs matching every given filter, newest first."""
        params = {"task_id": task_id, "attempt": attempt, "producer": producer, "kind": kind, "offset": offset,
                  "limit": limit}
        return self._send(Call("GET", "/outputs", params=params, idempotent=True))

    def output_children(self, ref: str, *, offset: int = 0, limit: int = 100) -> R:
        """Outputs that name `ref` among their parents."""
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", f"/outputs/{ref}/children", params=params, idempotent=True))
