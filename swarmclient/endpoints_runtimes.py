"""Runtimes (/runtimes): atomic run-boundary commits, the state machine, inputs, receipts, ops."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swarmclient.core import Call, R, Sender, fenced, fields


class RuntimeEndpoints(Sender[R]):
    def apply_run_boundary(
        self, runtime_id: str, receipt: Mapping[str, Any], *, session_snapshot: Any = None,
        input_updates: Iterable[Mapping[str, Any]] = (), session_store_key: str | None = None,
        identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        """Commit a run boundary: snapshot, receipt and input updates, or nothing. WriteFailed if the
        (run_id, sequence) receipt exists, which is how a retry learns the first attempt landed; so
        it is sent once and the caller checks `receipt(...)` after a transport error."""
        body = fields(receipt=dict(receipt), session_snapshot=session_snapshot,
                      input_updates=[dict(u) for u in input_updates], session_store_key=session_store_key,
                      identity=identity, fencing_token=fencing_token)
        return self._send(Call("POST", f"/runtimes/{runtime_id}/apply", json=body))

    def list_runtimes(self, *, state: str | None = None, offset: int = 0, limit: int = 50) -> R:
        params = {"state": state, "offset": offset, "limit": limit}
        return self._send(Call("GET", "/runtimes", params=params, idempotent=True))

    def get_runtime(self, runtime_id: str) -> R:
        return self._send(Call("GET", f"/runtimes/{runtime_id}", idempotent=True))

    def runtime_snapshot(self, runtime_id: str) -> R:
        return self._send(Call("GET", f"/runtimes/{runtime_id}/snapshot", idempotent=True))

    def put_runtime_snapshot(
        self, runtime_id: str, session_snapshot: Any, *, identity: str | None = None, fencing_token: int | None = None
    ) -> R:
        """Replace the session snapshot outside a run boundary (a PUT: retried)."""
        body = fields(session_snapshot=session_snapshot, identity=identity, fencing_token=fencing_token)
        body["session_snapshot"] = session_snapshot
        return self._send(Call("PUT", f"/runtimes/{runtime_id}/snapshot", json=body, idempotent=True))

    def runtime_state(self, runtime_id: str) -> R:
        """The committed state and the states it may move to."""
        return self._send(Call("GET", f"/runtimes/{runtime_id}/state", idempotent=True))

    def set_runtime_state(
        self, runtime_id: str, state: str, *, input_states: Iterable[Mapping[str, Any]] = (),
        identity: str | None = None, fencing_token: int | None = None,
    ) -> R:
        """Move the runtime to `state` (InvalidTransition if the table forbids it). Sending the
        current state again is allowed, so a retry is safe."""
        body = fields(state=state, input_states=[dict(s) for s in input_states], identity=identity,
                      fencing_token=fencing_token)
        return self._send(Call("PUT", f"/runtimes/{runtime_id}/state", json=body, idempotent=True))

    def input_states(self, runtime_id: str, *, offset: int = 0, limit: int = 50) -> R:
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", f"/runtimes/{runtime_id}/inputs", params=params, idempotent=True))

    def input_state(self, runtime_id: str, input_id: str) -> R:
        return self._send(Call("GET", f"/runtimes/{runtime_id}/inputs/{input_id}", idempotent=True))

    def put_input_state(self, runtime_id: str, state: Mapping[str, Any], *, fencing_token: int | None = None) -> R:
        path = f"/runtimes/{runtime_id}/inputs/{state['input_id']}"
        return self._send(Call("PUT", path, json=dict(state), idempotent=True, headers=fenced(None, fencing_token)))

    def receipts(self, runtime_id: str, *, offset: int = 0, limit: int = 50) -> R:
        params = {"offset": offset, "limit": limit}
        return self._send(Call("GET", f"/runtimes/{runtime_id}/receipts", params=params, idempotent=True))

    def receipt(self, runtime_id: str, run_id: str, sequence: int) -> R:
        return self._send(Call("GET", f"/runtimes/{runtime_id}/receipts/{run_id}/{sequence}", idempotent=True))

    def ops_lifecycle(self, runtime_id: str) -> R:
        return self._send(Call("GET", f"/runtimes/{runtime_id}/ops", idempotent=True))

    def put_ops_lifecycle(self, runtime_id: str, snapshot: Mapping[str, Any], *, fencing_token: int | None = None) -> R:
        return self._send(Call("PUT", f"/runtimes/{runtime_id}/ops", json={"snapshot": dict(snapshot)},
                               idempotent=True, headers=fenced(None, fencing_token)))

    # -- the global OAuth-flow snapshot (admin) --------------------------------------------------
    def oauth_flow(self) -> R:
        return self._send(Call("GET", "/runtimes/-/oauth-flow", idempotent=True))

    def put_oauth_flow(self, snapshot: Mapping[str, Any]) -> R:
        return self._send(Call("PUT", "/runtimes/-/oauth-flow", json={"snapshot": dict(snapshot)}, idempotent=True))

    def update_oauth_flow(self, snapshot: Mapping[str, Any], *, expected_sha256: str | None) -> R:
        """Compare-and-swap: OAuthFlowChanged unless the stored snapshot still hashes to `expected_sha256`."""
        body = {"snapshot": dict(snapshot), "expected_sha256": expected_sha256}
        return self._send(Call("POST", "/runtimes/-/oauth-flow/update", json=body))
