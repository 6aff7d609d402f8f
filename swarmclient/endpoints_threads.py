"""Checkpoint threads (/threads): what swarmclient.langgraph.SwarmsiteSaver sends. Fenced writes take
`**lease.fence` (identity and fencing_token); a stale token is StaleFencingToken and nothing is written."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from swarmclient.core import Call, R, Sender, fields


def _thread(thread_id: str) -> str:
    return f"/threads/{quote(thread_id, safe='')}"


def _fence(identity: str | None, fencing_token: int | None, agent_id: Any = None) -> dict[str, Any]:
    agent = str(agent_id) if agent_id and identity else None
    return fields(identity=identity, fencing_token=fencing_token, agent_id=agent)


class ThreadEndpoints(Sender[R]):
    def list_threads(self, identity: str | None = None, offset: int = 0, limit: int = 50) -> R:
        params = {"identity": identity, "offset": offset, "limit": limit}
        return self._send(Call("GET", "/threads", params=params, idempotent=True))

    def put_thread_checkpoint(
        self, thread_id: str, checkpoint: dict[str, Any], *, checkpoint_id: str, checkpoint_ns: str = "",
        parent_checkpoint_id: str | None = None, metadata: dict[str, Any] | None = None,
        identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        """Store a checkpoint (`checkpoint` is `{"type", "data": base64}`); the same id again replaces it,
        so a retry is safe."""
        body = fields(checkpoint_ns=checkpoint_ns, checkpoint_id=checkpoint_id, checkpoint=checkpoint,
                      parent_checkpoint_id=parent_checkpoint_id, metadata=metadata or {},
                      **_fence(identity, fencing_token, self.agent_id))
        return self._send(Call("POST", f"{_thread(thread_id)}/checkpoints", json=body, idempotent=True))

    def put_thread_writes(
        self, thread_id: str, checkpoint_id: str, writes: list[dict[str, Any]], *, checkpoint_ns: str = "",
        identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        """Pending writes `{"task_id", "idx", "channel", "value": {"type", "data"}, "task_path"}`; a repeated
        (task_id, idx) is kept once, so a retry is safe."""
        body = fields(checkpoint_ns=checkpoint_ns, checkpoint_id=checkpoint_id, writes=writes,
                      **_fence(identity, fencing_token, self.agent_id))
        return self._send(Call("POST", f"{_thread(thread_id)}/writes", json=body, idempotent=True))

    def get_thread_checkpoint(self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None) -> R:
        """One checkpoint (default: the namespace's newest) with its pending writes; NotFound if absent."""
        params = {"checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id}
        return self._send(Call("GET", f"{_thread(thread_id)}/checkpoint", params=params, idempotent=True))

    def list_thread_checkpoints(
        self, thread_id: str | None = None, *, checkpoint_ns: str | None = None, checkpoint_id: str | None = None,
        metadata: dict[str, Any] | None = None, before: str | None = None, limit: int | None = None,
    ) -> R:
        """Checkpoints newest first (of one thread, or of all when thread_id is None)."""
        params = {"checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id, "before": before, "limit": limit,
                  "filter": json.dumps(metadata) if metadata else None}
        path = f"{_thread(thread_id)}/checkpoints" if thread_id is not None else "/threads/checkpoints"
        return self._send(Call("GET", path, params=params, idempotent=True))

    def delete_thread(self, thread_id: str, *, identity: str | None = None, fencing_token: int | None = None) -> R:
        params = _fence(identity, fencing_token, self.agent_id)
        return self._send(Call("DELETE", _thread(thread_id), params=params, idempotent=True))

    def copy_thread(
        self, thread_id: str, target_thread_id: str, *, identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        body = {"target_thread_id": target_thread_id, **_fence(identity, fencing_token, self.agent_id)}
        return self._send(Call("POST", f"{_thread(thread_id)}/copy", json=body, idempotent=True))

    def delete_thread_runs(
        self, run_ids: list[str], *, identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        body = {"run_ids": list(run_ids), **_fence(identity, fencing_token, self.agent_id)}
        return self._send(Call("POST", "/threads/delete-for-runs", json=body, idempotent=True))

    def prune_threads(
        self, thread_ids: list[str], strategy: str = "keep_latest", *, identity: str | None = None,
        fencing_token: int | None = None,
    ) -> R:
        body = {"thread_ids": list(thread_ids), "strategy": strategy, **_fence(identity, fencing_token, self.agent_id)}
        return self._send(Call("POST", "/threads/prune", json=body, idempotent=True))
