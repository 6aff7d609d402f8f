"""Identities, leases, delivery, checkpoints, inspection, recovery and the roster (/identities, /roster)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from swarmclient.core import Call, R, Sender, fields, with_key


def _path(identity: str, rest: str = "") -> str:
    return f"/identities/{quote(identity, safe='')}{rest}"


def _with_bytes(body: Any) -> Any:
    """A checkpoint answer with its snapshot decoded; None (204: no checkpoint yet) stays None."""
    if isinstance(body, dict) and isinstance(body.get("data"), str):
        return {**body, "data": base64.b64decode(body["data"])}
    return body


def spec_fields(
    profile: str, *, addressability: str | None = None, display_name: str | None = None,
    labels: Mapping[str, str] | None = None, context: Any = None,
    additional_instructions: Sequence[str] | None = None, initial_message: Any = None,
    runtime_mode_override: str | None = None,
) -> dict[str, Any]:
    """An identity spec in its wire form (for create_identity, update_spec and restore_roster)."""
    return fields(
        profile=profile, addressability=addressability, display_name=display_name,
        labels=dict(labels) if labels is not None else None, context=context,
        additional_instructions=list(additional_instructions) if additional_instructions is not None else None,
        initial_message=initial_message, runtime_mode_override=runtime_mode_override,
    )


class IdentityEndpoints(Sender[R]):
    # -- identities ------------------------------------------------------------------------------
    def create_identity(self, identity: str, profile: str, **spec: Any) -> R:
        """Create an identity (operator scope); DuplicateIdentity if it exists. See `spec_fields`."""
        return self._send(Call("POST", "/identities", json={"identity": identity, **spec_fields(profile, **spec)}))

    def list_identities(
        self, *, state: str | None = None, profile: str | None = None, label: str | None = None,
        q: str | None = None, offset: int = 0, limit: int = 50,
    ) -> R:
        """Identities with their status; `label="team=blue"` filters by label, `q` searches names."""
        params = {"state": state, "profile": profile, "label": label, "q": q, "offset": offset, "limit": limit}
        return self._send(Call("GET", "/identities", params=params, idempotent=True))

    def identity_status(self, identity: str) -> R:
        """State, lease (holder, token, TTL left), continuity, and `why_stuck` in words."""
        return self._send(Call("GET", _path(identity), idempotent=True))

    def get_spec(self, identity: str) -> R:
        return self._send(Call("GET", _path(identity, "/spec"), idempotent=True))

    def update_spec(self, identity: str, profile: str, **spec: Any) -> R:
        """Replace the spec (operator scope); running agents see `identity.spec_updated`."""
        return self._send(Call("PUT", _path(identity, "/spec"), json=spec_fields(profile, **spec), idempotent=True))

    # -- leases (see also SwarmClient.lease, which renews in the background) ---------------------
    def acquire_lease(self, identity: str, *, ttl_s: float | None = None) -> R:
        """Take the identity's lease for this agent: a new, higher fencing token. LeaseHeld if another
        agent's lease is live. Safe to retry: a repeat by the same agent grants it again."""
        body = fields(agent_id=str(self.agent_id), ttl_s=ttl_s)
        return self._send(Call("POST", _path(identity, "/lease"), json=body, idempotent=True))

    def renew_lease(self, identity: str, fencing_token: int, *, ttl_s: float | None = None) -> R:
        """Extend the lease (same token). LeaseLost once it expired, was fenced or taken over."""
        body = fields(agent_id=str(self.agent_id), fencing_token=fencing_token, ttl_s=ttl_s)
        return self._send(Call("POST", _path(identity, "/lease/renew"), json=body, idempotent=True))

    def release_lease(self, identity: str, fencing_token: int) -> R:
        """Give the lease up; a stale token is a no-op."""
        body = {"agent_id": str(self.agent_id), "fencing_token": fencing_token}
        return self._send(Call("POST", _path(identity, "/lease/release"), json=body, idempotent=True))

    # -- delivery --------------------------------------------------------------------------------
    def send(self, identity: str, content: Any, *, idempotency_key: str | None = None) -> R:
        """Put a message in an addressable identity's inbox. Retried under one Idempotency-Key, so
        it is delivered once; pass your own key to make retries across restarts safe too."""
        call = Call("POST", _path(identity, "/send"), json={"content": content}, idempotent=True,
                    headers=with_key(None, idempotency_key))
        return self._send(call)

    def dispatch(
        self, identity: str, content: Any, *, origin: str | None = None, correlation_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """Like send, for internal traffic (internal_only identities accept it)."""
        body = fields(content=content, origin=origin, correlation_id=correlation_id)
        body["content"] = content
        call = Call("POST", _path(identity, "/dispatch"), json=body, idempotent=True,
                    headers=with_key(None, idempotency_key))
        return self._send(call)

    # -- continuity ------------------------------------------------------------------------------
    def checkpoint(self, identity: str, data: bytes, *, fencing_token: int, version: int | None = None) -> R:
        """Save the next checkpoint under the lease. StaleFencingToken if a newer owner exists (the
        server records the rejection), LeaseLost / NoActiveLease if the lease ended. Sent once: a
        blind retry could save the same snapshot twice."""
        body = fields(agent_id=str(self.agent_id), fencing_token=fencing_token, version=version,
                      data=base64.b64encode(data).decode())
        return self._send(Call("POST", _path(identity, "/checkpoints"), json=body))

    def latest_checkpoint(self, identity: str) -> R:
        """The checkpoint a new owner resumes from, with `data` as bytes; None if there is none yet."""
        return self._send(Call("GET", _path(identity, "/checkpoints/latest"), idempotent=True, parse=_with_bytes))

    def list_checkpoints(self, identity: str, *, offset: int = 0, limit: int = 50) -> R:
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", _path(identity, "/checkpoints"), params=params, idempotent=True))

    # -- inspection ------------------------------------------------------------------------------
    def inspect(self, identity: str) -> R:
        """The identity's newest output (preview, whether final) and how many peers are reachable."""
        return self._send(Call("GET", _path(identity, "/inspect"), idempotent=True))

    def wait_for_output(self, identity: str, *, timeout_s: float = 25.0, contains: str | None = None) -> R:
        """Long-poll for the identity's output (containing `contains`); None when `timeout_s` passes."""
        params = {"timeout_s": timeout_s, "contains": contains}
        return self._send(Call("GET", _path(identity, "/output"), params=params, idempotent=True,
                               timeout=timeout_s + 10))

    def peers(self, identity: str) -> R:
        """The identity's managed peers and how many of them can take a message now."""
        return self._send(Call("GET", _path(identity, "/peers"), idempotent=True))

    def events(self, identity: str, *, after: int = 0, limit: int = 100) -> R:
        """The identity's events after event id `after`, oldest first (see stream_events)."""
        params = {"after": after, "limit": limit}
        return self._send(Call("GET", _path(identity, "/events"), params=params, idempotent=True))

    def rejections(self, identity: str, *, offset: int = 0, limit: int = 50) -> R:
        """Writes the server refused for a stale fencing token: who, which token, against which."""
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", _path(identity, "/rejections"), params=params, idempotent=True))

    def audit(self, identity: str, *, offset: int = 0, limit: int = 50) -> R:
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", _path(identity, "/audit"), params=params, idempotent=True))

    # -- recovery (operator: respawn, retire; admin: reset, delete) ------------------------------
    def respawn(self, identity: str, *, reason: str = "") -> R:
        return self._send(Call("POST", _path(identity, "/respawn"), json={"reason": reason}))

    def retire(self, identity: str, *, reason: str = "") -> R:
        return self._send(Call("POST", _path(identity, "/retire"), json={"reason": reason}))

    def reset(self, identity: str, *, reason: str = "") -> R:
        return self._send(Call("POST", _path(identity, "/reset"), json={"reason": reason}))

    def delete_identity(self, identity: str, *, reason: str = "") -> R:
        return self._send(Call("DELETE", _path(identity), json={"reason": reason}))

    # -- roster (admin) --------------------------------------------------------------------------
    def restore_roster(
        self, identities: Iterable[Mapping[str, Any]], *, topology: str | Iterable[Sequence[str]] = "none"
    ) -> R:
        """Create or resume every identity (each `{"identity": ..., **spec_fields(...)}`); `topology` is
        "none", "full_mesh" or a list of [a, b] peer edges. Safe to retry: a repeat resumes."""
        wire_topology = topology if isinstance(topology, str) else {"edges": [list(e) for e in topology]}
        body = {"identities": [dict(i) for i in identities], "topology": wire_topology}
        return self._send(Call("POST", "/roster/restore", json=body, idempotent=True))

    def reconcile_roster(
        self, identities: Iterable[Mapping[str, Any]], *, dry_run: bool = True, reason: str = "reconcile"
    ) -> R:
        body = {"identities": [dict(i) for i in identities], "dry_run": dry_run, "reason": reason}
        return self._send(Call("POST", "/roster/reconcile", json=body, idempotent=dry_run))

    def peer_edges(self) -> R:
        return self._send(Call("GET", "/roster/edges", idempotent=True))

    def set_peer_edges(self, edges: Iterable[Sequence[str]]) -> R:
        body = {"edges": [list(e) for e in edges]}
        return self._send(Call("PUT", "/roster/edges", json=body, idempotent=True))
