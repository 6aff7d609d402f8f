"""The API, described once: each method returns what the client's `_send` returns for its Call
(a value for SwarmClient, an awaitable for AsyncSwarmClient).

Groups live in sibling modules (identities, outputs, sessions, runtimes); this class joins them and
adds liveness and the generic `request`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from swarmclient.core import Call, R, Sender, with_key
from swarmclient.endpoints_identities import IdentityEndpoints
from swarmclient.endpoints_outputs import OutputEndpoints
from swarmclient.endpoints_runtimes import RuntimeEndpoints
from swarmclient.endpoints_sessions import SessionEndpoints
from swarmclient.endpoints_threads import ThreadEndpoints


class AgentEndpoints(Sender[R]):
    def register(self, name: str = "", metadata: dict[str, Any] | None = None) -> R:
        """Mark this agent online (an upsert; safe to retry)."""
        body = {"name": name, "metadata": metadata}
        return self._send(Call("POST", f"/agents/{self.agent_id}/register", json=body, idempotent=True))

    def heartbeat(self) -> R:
        """Refresh liveness; raises AgentExpired after a silence past the TTL (register again)."""
        return self._send(Call("POST", f"/agents/{self.agent_id}/heartbeat", idempotent=True))

    def heartbeat_many(self, agent_ids: Iterable[uuid.UUID | str]) -> R:
        """Refresh up to 500 agents in one call (a process hosting many): `{"results": [{"agent_id",
        "outcome": "ok" | "agent_expired" | "not_found", "last_heartbeat"}], "ok", "ttl_s"}`. One expired
        agent never fails the batch; register it again. Safe to retry."""
        body = {"agent_ids": [str(a) for a in agent_ids]}
        return self._send(Call("POST", "/agents/heartbeats", json=body, idempotent=True))

    def deregister(self) -> R:
        """Mark this agent offline on a clean shutdown (idempotent)."""
        return self._send(Call("POST", f"/agents/{self.agent_id}/deregister", idempotent=True))

    def get_agent(self, agent_id: uuid.UUID | str | None = None) -> R:
        return self._send(Call("GET", f"/agents/{agent_id or self.agent_id}", idempotent=True))

    def list_agents(self, state: str | None = None, offset: int = 0, limit: int = 50) -> R:
        params = {"state": state, "offset": offset, "limit": limit}
        return self._send(Call("GET", "/agents", params=params, idempotent=True))

    def health(self) -> R:
        return self._send(Call("GET", "/health", idempotent=True))


class Endpoints(
    AgentEndpoints[R], IdentityEndpoints[R], OutputEndpoints[R], SessionEndpoints[R], RuntimeEndpoints[R],
    ThreadEndpoints[R],
):
    def request(
        self, method: str, path: str, json: Any = None, *, params: dict[str, Any] | None = None,
        idempotency_key: str | None = None, idempotent: bool | None = None,
    ) -> R:
        """Any API call by path (under /api/v1). Writes get an Idempotency-Key and become retryable."""
        write = method.upper() not in {"GET", "HEAD"}
        headers = with_key(None, idempotency_key) if write else {}
        safe = (not write or idempotency_key is not None) if idempotent is None else idempotent
        return self._send(Call(method.upper(), path, json=json, params=params, idempotent=safe, headers=headers))
