"""Outputs, sessions (with the inbox) and runtimes through the client; error codes; retries."""

from __future__ import annotations

import uuid

import httpx
import pytest

import swarmclient.errors as client_errors
from identities import errors as identity_errors
from stores import errors as store_errors
from swarmclient import (
    Conflict,
    HeadRevisionConflict,
    QueuedWorkClaimExpired,
    SwarmClient,
    UnknownParent,
    final,
    progress,
    turn_input,
)


def _codes(module: object) -> set[str]:
    return {
        cls.code for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, store_errors.StorageError)
    }


def test_every_server_error_code_maps_to_its_own_exception() -> None:
    # wait_timeout never reaches a client: the long-poll answers 204 instead.
    server = (_codes(store_errors) | _codes(identity_errors)) - {"wait_timeout"}
    api_level = {"unauthorized", "forbidden", "malformed_request", "payload_too_large", "invalid_input"}
    assert server | api_level <= set(client_errors.BY_CODE)
    for code, cls in client_errors.BY_CODE.items():
        assert client_errors.error_for(409, {"code": code, "detail": "x"}).__class__ is cls


def test_unknown_codes_fall_back_on_the_status_class() -> None:
    error = client_errors.error_for(409, {"code": "brand_new_conflict", "detail": "later server"})
    assert isinstance(error, Conflict) and error.code == "brand_new_conflict"
    assert isinstance(client_errors.error_for(502, "bad gateway"), client_errors.ServerError)


def test_outputs_append_with_lineage_and_read_back(swarm: SwarmClient) -> None:
    request = swarm.append_output("task-1", 0, "driver", progress("asked", note="reverse it"))
    answer = swarm.append_output("task-1", 0, "alpha", final("ti esrever"), parent_refs=[request["ref"]])
    assert answer["parent_refs"] == [request["ref"]] and answer["kind"] == "final"
    assert swarm.get_output(answer["ref"])["preview"] == "ok: ti esrever"
    assert swarm.latest_output("alpha")["ref"] == answer["ref"]
    assert swarm.latest_output("alpha", task_id="task-1", attempt=0)["ref"] == answer["ref"]
    assert [o["ref"] for o in swarm.outputs_for_attempt("task-1", 0)] == [request["ref"], answer["ref"]]
    assert [o["ref"] for o in swarm.output_children(request["ref"])["items"]] == [answer["ref"]]
    assert swarm.list_outputs(producer="alpha")["total"] == 1
    waited = swarm.wait_output("alpha", after=answer["ref"], timeout=0)
    assert waited == {"output": None, "timed_out": True}
    with pytest.raises(UnknownParent):
        swarm.append_output("task-1", 0, "alpha", final("x"), parent_refs=["out-0000000000"])


def test_a_lost_answer_is_retried_under_the_same_idempotency_key_and_stored_once(
    token: str, app_transport: httpx.WSGITransport
) -> None:
    app = app_transport
    dropped: list[str] = []

    class LosesFirstAnswer(httpx.BaseTransport):
        """The request reaches the server, then the connection drops before the answer arrives."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = app.handle_request(request)
            if request.method == "POST" and not dropped:
                dropped.append(request.headers["Idempotency-Key"])
                raise httpx.ReadError("connection reset")
            return response

    swarm = SwarmClient("http://testserver", token, transport=LosesFirstAnswer(), retries=2)
    out = swarm.append_output("task-1", 0, "alpha", final("once"))
    assert dropped and swarm.list_outputs(task_id="task-1")["total"] == 1
    assert out["ref"] == swarm.latest_output("alpha")["ref"]


def test_writes_without_deduplication_are_not_retried(token: str, app_transport: httpx.WSGITransport) -> None:
    calls = []

    class Refuses(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            raise httpx.ConnectError("refused")

    swarm = SwarmClient("http://testserver", token, transport=Refuses(), retries=3)
    with pytest.raises(client_errors.TransportError):
        swarm.complete_claim("s-1", {"claim_id": "c", "lease_token": "t", "batch_ids": ["b"]})
    assert len(calls) == 1


def test_a_claim_is_retried_under_one_idempotency_key(token: str, app_transport: httpx.WSGITransport) -> None:
    keys = []

    class Refuses(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            keys.append(request.headers.get("Idempotency-Key"))
            raise httpx.ConnectError("refused")

    swarm = SwarmClient("http://testserver", token, transport=Refuses(), retries=3)
    with pytest.raises(client_errors.TransportError):
        swarm.claim("s-1")
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0]


def test_session_commit_load_and_head_conflict(swarm: SwarmClient) -> None:
    graph = {"mode": "append", "nodes": [{"node_id": "n1", "payload": {"text": "hi"}}], "leaf_node_id": "n1"}
    first = swarm.commit_session("s-1", expected_head_revision=None, graph=graph, turn_id="turn-1",
                                 checkpoint={"turn_state": {"step": 1}})
    again = swarm.commit_session("s-1", expected_head_revision=None, graph=graph, turn_id="turn-1",
                                 checkpoint={"turn_state": {"step": 1}})
    assert again["head_revision"] == first["head_revision"]
    loaded = swarm.load_session("s-1")
    assert loaded["graph"]["leaf_node_id"] == "n1" and loaded["checkpoint"]["turn_state"] == {"step": 1}
    with pytest.raises(HeadRevisionConflict):
        swarm.commit_session("s-1", expected_head_revision=first["head_revision"] + 5)


def test_inbox_enqueue_claim_renew_abandon_and_expired_completion(swarm: SwarmClient) -> None:
    swarm.register()
    batch = swarm.enqueue("s-2", [turn_input({"text": "work"})], idempotency_key="k-1")
    assert swarm.enqueue("s-2", [turn_input({"text": "work"})], idempotency_key="k-1")["batch_id"] == batch["batch_id"]
    claim = swarm.claim("s-2", lease_ttl_ms=60_000)
    assert [b["batch_id"] for b in claim["batches"]] == [batch["batch_id"]]
    assert swarm.renew_claim("s-2", claim)["claim_id"] == claim["claim_id"]
    swarm.abandon_claim("s-2", claim)
    with pytest.raises(QueuedWorkClaimExpired):
        swarm.complete_claim("s-2", claim)
    second = swarm.claim("s-2")
    assert swarm.complete_claim("s-2", second)["completed_batch_ids"] == [batch["batch_id"]]
    assert swarm.list_queue("s-2")["items"] == []


def test_runtime_state_machine_and_run_boundary(swarm: SwarmClient) -> None:
    assert swarm.set_runtime_state("rt-1", "initializing")["allowed_next"]
    swarm.set_runtime_state("rt-1", "idle")
    receipt = {"run_id": str(uuid.uuid4()), "boundary": "run_start", "sequence": 0}
    state = swarm.apply_run_boundary("rt-1", receipt, session_snapshot={"messages": 1})
    assert state["state"] == "idle"
    with pytest.raises(client_errors.WriteFailed):
        swarm.apply_run_boundary("rt-1", receipt, session_snapshot={"messages": 2})
    assert swarm.runtime_snapshot("rt-1")["session_snapshot"] == {"messages": 1}
    assert swarm.receipt("rt-1", receipt["run_id"], 0)["boundary"] == "run_start"
    with pytest.raises(client_errors.InvalidTransition):
        swarm.set_runtime_state("rt-1", "initializing")
    assert swarm.get_runtime("rt-1")["receipt_count"] == 1
