"""Every operation of the API has a client method (the catalogue in swarmclient/endpoints*.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from swarmclient.core import Call
from swarmclient.endpoints import Endpoints
from swarmsite.api.assembly import api


class Recorder(Endpoints[Call]):
    """Records the Call each method describes instead of sending it."""

    agent_id = "{agent_id}"  # type: ignore[assignment]

    def _send(self, call: Call) -> Call:
        return call


def client_operations() -> set[tuple[str, str]]:
    c, claim = Recorder(), {"claim_id": "c", "lease_token": "t", "batch_ids": ["b"]}
    i, s, r, t = "{identity}", "{session_id}", "{runtime_id}", "{thread_id}"
    calls: list[Any] = [
        c.health(), c.request("GET", "/noop"), c.request("POST", "/noop"),
        c.register(), c.heartbeat(), c.heartbeat_many([]), c.deregister(), c.get_agent(), c.list_agents(),
        c.append_output("t", 0, "p", {}), c.append_outputs([]), c.list_outputs(), c.latest_output("p"),
        c.wait_output("p"),
        c.outputs_for_attempt("t", 0), c.get_output("{ref}"), c.output_children("{ref}"),
        c.oauth_flow(), c.put_oauth_flow({}), c.update_oauth_flow({}, expected_sha256=None),
        c.list_runtimes(), c.get_runtime(r), c.apply_run_boundary(r, {}), c.runtime_snapshot(r),
        c.put_runtime_snapshot(r, {}), c.runtime_state(r), c.set_runtime_state(r, "idle"), c.input_states(r),
        c.input_state(r, "{input_id}"), c.put_input_state(r, {"input_id": "{input_id}"}), c.receipts(r),
        c.receipt(r, "{run_id}", "{sequence}"), c.ops_lifecycle(r), c.put_ops_lifecycle(r, {}),
        c.create_identity(i, "p"), c.list_identities(), c.identity_status(i), c.delete_identity(i), c.get_spec(i),
        c.update_spec(i, "p"), c.acquire_lease(i), c.renew_lease(i, 1), c.release_lease(i, 1), c.send(i, "x"),
        c.dispatch(i, "x"), c.checkpoint(i, b"", fencing_token=1), c.list_checkpoints(i), c.latest_checkpoint(i),
        c.inspect(i), c.wait_for_output(i), c.peers(i), c.events(i), c.rejections(i), c.audit(i), c.respawn(i),
        c.retire(i), c.reset(i), c.restore_roster([]), c.reconcile_roster([]), c.peer_edges(), c.set_peer_edges([]),
        c.list_sessions(), c.commit_session(s), c.load_session(s), c.load_node(s, "{node_id}"),
        c.tombstone_nodes(s, []), c.session_meta(s), c.save_session_meta(s, {}), c.vacuum_session(s),
        c.gc_session(s), c.enqueue(s, []), c.list_queue(s), c.claim(s), c.renew_claim(s, claim),
        c.abandon_claim(s, claim), c.complete_claim(s, claim), c.claim_many(s), c.complete_claims(s, [claim]),
        c.list_queue(s, pending_only=True),
        c.cancel_batch(s, "{batch_id}"), c.record_attachment_intent(s, "a", "u"), c.commit_attachments(s, []),
        c.uncommitted_attachments(s), c.forget_attachment(s, "{attachment_id}"),
        c.list_threads(), c.put_thread_checkpoint(t, {}, checkpoint_id="x"), c.put_thread_writes(t, "x", []),
        c.get_thread_checkpoint(t), c.list_thread_checkpoints(t), c.list_thread_checkpoints(),
        c.delete_thread(t), c.copy_thread(t, "y"), c.delete_thread_runs([]), c.prune_threads([]),
    ]
    return {(call.method, unquote(call.path)) for call in calls}


def server_operations() -> set[tuple[str, str]]:
    paths = api.get_openapi_schema()["paths"]
    return {(method.upper(), path.removeprefix("/api/v1")) for path, ops in paths.items() for method in ops}


def test_every_api_operation_has_a_client_method() -> None:
    missing = server_operations() - client_operations()
    assert not missing, f"add these to swarmclient/endpoints*.py: {sorted(missing)}"


def test_every_client_method_names_a_real_operation() -> None:
    assert client_operations() <= server_operations()
