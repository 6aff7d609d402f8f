"""The sessions API through the real URL conf, with real tokens and the real database."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

S = "/api/v1/sessions/sess-1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def a_commit(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "config": {"provider_id": "anthropic", "model": "model-x"},
        "graph": {"mode": "append", "nodes": [{"node_id": "root", "payload": {"type": "event", "event": {}}}],
                  "leaf_node_id": "root"},
        "checkpoint": {"turn_state": {"turn": 1}, "tool_state": b64(b'{"generation": 1}')},
    }
    return {**body, **changes}


def online_agent(api: Client) -> str:
    agent = str(uuid.uuid4())
    assert api.post(f"/api/v1/agents/{agent}/register", content_type="application/json").status_code == 200
    return agent


def enqueue(api: Client, text: str = "hello", **fields: Any) -> dict[str, Any]:
    body = {"payloads": [{"type": "turn_input", "input": {"text": text}}], **fields}
    response = api.post(f"{S}/queue", body, content_type="application/json")
    assert response.status_code == 200, response.json()
    return response.json()


def claim(api: Client, agent: str, **fields: Any) -> Any:
    return api.post(f"{S}/queue/claim", {"agent_id": agent, **fields}, content_type="application/json")


def post(api: Client, path: str, body: Any) -> Any:
    return api.post(path, body, content_type="application/json")


def test_commit_then_load_round_trips_the_head_graph_and_checkpoint(api: Client) -> None:
    committed = post(api, f"{S}/commit", a_commit(expected_head_revision=0))
    assert committed.status_code == 200
    assert committed.json()["head_revision"] == 1
    loaded = api.get(S).json()
    assert loaded["head_revision"] == 1
    assert [n["node_id"] for n in loaded["graph"]["nodes"]] == ["root"]
    assert base64.b64decode(loaded["checkpoint"]["tool_state"]) == b'{"generation": 1}'
    assert loaded["checkpoint_ref"] == committed.json()["checkpoint_ref"]
    assert api.get(f"{S}/nodes/root").json()["node_id"] == "root"
    assert api.get(f"{S}/nodes/missing").status_code == 404
    assert api.get("/api/v1/sessions/never-committed").json()["code"] == "not_found"


def test_commit_with_a_stale_head_revision_is_409_head_revision_conflict(api: Client) -> None:
    post(api, f"{S}/commit", a_commit(expected_head_revision=0))
    late = post(api, f"{S}/commit", a_commit(expected_head_revision=0, graph={"mode": "unchanged"}))
    assert late.status_code == 409
    assert late.json() | {"detail": ""} == {"detail": "", "code": "head_revision_conflict", "expected": 0, "actual": 1}
    assert api.get(S).json()["head_revision"] == 1


def test_a_retried_turn_commit_returns_the_stored_result(api: Client) -> None:
    first = post(api, f"{S}/commit", a_commit(expected_head_revision=0, turn_id="turn-1"))
    assert first.status_code == 200
    post(api, f"{S}/commit", a_commit(graph={"mode": "unchanged", "leaf_node_id": "root"}))  # the head moves on
    retry = post(api, f"{S}/commit", a_commit(expected_head_revision=0, turn_id="turn-1"))
    assert retry.status_code == 200
    assert retry.json() == first.json()
    changed = post(api, f"{S}/commit", a_commit(turn_id="turn-1", checkpoint={"turn_state": "other"}))
    assert changed.status_code == 409 and changed.json()["code"] == "runtime_turn_commit_conflict"
    assert api.get(S).json()["head_revision"] == 2


def test_the_idempotency_key_header_stamps_the_turn(api: Client) -> None:
    headers = {"Idempotency-Key": "turn-7"}
    first = api.post(f"{S}/commit", a_commit(), content_type="application/json", headers=headers)
    again = api.post(f"{S}/commit", a_commit(), content_type="application/json", headers=headers)
    assert first.json()["turn_id"] == "turn-7" and again.json() == first.json()


def test_completion_with_a_wrong_lease_token_is_409_and_nothing_changes(api: Client) -> None:
    batch = enqueue(api)
    held = claim(api, online_agent(api)).json()
    forged = {"claim_id": held["claim_id"], "lease_token": "f" * 64, "batch_ids": [batch["batch_id"]]}
    response = post(api, f"{S}/queue/complete", forged)
    assert response.status_code == 409 and response.json()["code"] == "queued_work_claim_expired"
    via_commit = post(api, f"{S}/commit", a_commit(completed_queue_claims=[forged]))
    assert via_commit.status_code == 409 and via_commit.json()["code"] == "queued_work_claim_expired"
    assert api.get(S).status_code == 404  # the rejected commit left no head
    [still] = api.get(f"{S}/queue").json()["items"]
    assert still["claim"]["claim_id"] == held["claim_id"]
    genuine = {**forged, "lease_token": held["lease_token"]}
    assert post(api, f"{S}/queue/complete", genuine).json() == {"completed_batch_ids": [batch["batch_id"]]}
    assert api.get(f"{S}/queue").json()["total"] == 0


def test_enqueue_is_idempotent_by_source_key_or_idempotency_key_header(api: Client) -> None:
    first = enqueue(api, "original", source_key="msg-1")
    assert enqueue(api, "changed", source_key="msg-1") == first
    by_header = api.post(f"{S}/queue", {"payloads": [{"type": "turn_input", "input": "x"}]},
                         content_type="application/json", headers={"Idempotency-Key": "msg-2"})
    assert by_header.json()["source_key"] == "msg-2"
    assert api.get(f"{S}/queue").json()["total"] == 2


def test_claim_renew_abandon_and_pending_lists(api: Client) -> None:
    agent = online_agent(api)
    assert claim(api, agent).status_code == 204  # nothing queued
    batch = enqueue(api)
    held = claim(api, agent, lease_ttl_ms=1000).json()
    assert held["owner_id"] == agent and held["batches"][0]["batch_id"] == batch["batch_id"]
    assert api.get(f"{S}/queue/pending").json()["items"] == []
    ref = {"claim_id": held["claim_id"], "lease_token": held["lease_token"], "batch_ids": [batch["batch_id"]]}
    renewed = post(api, f"{S}/queue/renew", {**ref, "lease_ttl_ms": 60_000}).json()
    assert renewed["expires_at_ms"] > held["expires_at_ms"] and renewed["lease_token"] == held["lease_token"]
    assert post(api, f"{S}/queue/abandon", ref).status_code == 204
    assert [b["batch_id"] for b in api.get(f"{S}/queue/pending").json()["items"]] == [batch["batch_id"]]
    lost = post(api, f"{S}/queue/renew", ref)
    assert lost.status_code == 409 and lost.json()["code"] == "queued_work_claim_expired"
    again = claim(api, agent, batch_ids=[batch["batch_id"]]).json()
    assert again["fencing_token"] > held["fencing_token"]


def test_claim_by_an_agent_that_is_not_online_is_404(api: Client) -> None:
    enqueue(api)
    assert claim(api, str(uuid.uuid4())).status_code == 404
    agent = online_agent(api)
    api.post(f"/api/v1/agents/{agent}/deregister", content_type="application/json")
    assert claim(api, agent).status_code == 404


def test_cancel_removes_an_unclaimed_batch_and_refuses_a_held_one(api: Client) -> None:
    loose, held = enqueue(api, "loose", slot_policy="exclusive"), enqueue(api, "held")
    taken = claim(api, online_agent(api)).json()
    assert taken["batches"][0]["batch_id"] == loose["batch_id"]
    refused = api.delete(f"{S}/queue/{loose['batch_id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "queued_work_batch_held"
    assert api.delete(f"{S}/queue/{held['batch_id']}").json()["items"][0]["payload"]["input"] == {"text": "held"}
    assert api.delete(f"{S}/queue/{held['batch_id']}").status_code == 404


def test_attachment_manifest_over_http(api: Client) -> None:
    assert post(api, f"{S}/attachments", {"attachment_id": "a1", "canonical_uri": "s3://b/a1",
                                          "intent_at_epoch_ms": 100}).status_code == 204
    post(api, f"{S}/attachments", {"attachment_id": "a2", "canonical_uri": "s3://b/a2", "intent_at_epoch_ms": 100})
    assert post(api, f"{S}/attachments/commit", {"attachment_ids": ["a1"]}).status_code == 204
    orphans = api.get(f"{S}/attachments/uncommitted", {"older_than_epoch_ms": 200}).json()
    assert [o["attachment_id"] for o in orphans] == ["a2"]
    assert api.delete(f"{S}/attachments/a2").status_code == 204
    assert api.get(f"{S}/attachments/uncommitted").json() == []


def test_meta_tombstone_and_admin_maintenance_with_a_dry_run(api: Client, admin_api: Client) -> None:
    meta = {"session_name": "Review", "created_at": "2026-01-01T00:00:00Z", "model": "model-x",
            "relation": {"parent_session_id": "root", "caused_by": None}}
    assert api.put(f"{S}/meta", meta, content_type="application/json").status_code == 200
    assert api.get(f"{S}/meta").json()["relation"]["parent_session_id"] == "root"
    post(api, f"{S}/commit", a_commit())
    post(api, f"{S}/commit", a_commit(graph={"mode": "append", "nodes": [{"node_id": "gone", "parent_node_id": "root"}],
                                             "leaf_node_id": "root"}, checkpoint={"turn_state": 2}))
    assert post(api, f"{S}/tombstone", {"node_ids": ["gone"]}).status_code == 204
    assert post(api, f"{S}/vacuum?dry_run=true", {}).status_code == 403
    preview = post(admin_api, f"{S}/vacuum?dry_run=true", {}).json()
    assert preview == {"dry_run": True, "removed_node_count": 1, "node_ids": ["gone"]}
    assert post(admin_api, f"{S}/vacuum", {}).json()["removed_node_count"] == 1
    assert post(admin_api, f"{S}/vacuum", {}).json()["removed_node_count"] == 0
    gc_preview = post(admin_api, f"{S}/gc?dry_run=true", {}).json()
    assert gc_preview["deleted_blob_count"] == 2 and gc_preview["dry_run"] is True
    assert post(admin_api, f"{S}/gc", {}).json()["deleted_blob_count"] == 2
    assert post(admin_api, f"{S}/gc", {}).json()["deleted_blob_count"] == 0


def test_a_fenced_completion_without_a_live_lease_is_409_stale_fencing_token(api: Client) -> None:
    batch = enqueue(api)
    held = claim(api, online_agent(api)).json()
    ref = {"claim_id": held["claim_id"], "lease_token": held["lease_token"], "batch_ids": [batch["batch_id"]]}
    response = post(api, f"{S}/queue/complete", {**ref, "identity": "planner", "fencing_token": 3})
    assert response.status_code == 409 and response.json()["code"] == "stale_fencing_token"
    assert api.get(f"{S}/queue").json()["total"] == 1
    half = post(api, f"{S}/queue/complete", {**ref, "identity": "planner"})
    assert half.status_code == 422


def test_sessions_list_shows_head_and_queue_counts(api: Client) -> None:
    post(api, f"{S}/commit", a_commit())
    enqueue(api)
    enqueue(api)
    claim(api, online_agent(api), max_batches=1)
    [row] = api.get("/api/v1/sessions").json()["items"]
    assert (row["session_id"], row["head_revision"], row["graph_node_count"]) == ("sess-1", 1, 1)
    assert (row["pending_count"], row["claimed_count"]) == (1, 1)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/sessions/bad%00id/queue", {"payloads": [{"type": "turn_input"}]}),
        ("post", "/api/v1/sessions/" + "x" * 201 + "/queue", {"payloads": [{"type": "turn_input"}]}),
        ("post", "/api/v1/sessions/has%20space/commit", {}),
        ("post", f"{S}/queue", {"payloads": []}),
        ("post", f"{S}/queue", {"payloads": [{"type": "nope"}]}),
        ("post", f"{S}/queue", {"payloads": [{"type": "turn_input", "input": "a\x00b"}]}),
        ("post", f"{S}/queue", {"payloads": [{"type": "turn_input"}], "merge_key": "sometimes"}),
        ("post", f"{S}/queue", {"payloads": [{"type": "turn_input"}], "available_at_ms": 2**70}),
        ("post", f"{S}/queue", {"payloads": [{"type": "turn_input"}], "source_key": "k\x00"}),
        ("post", f"{S}/commit", {"checkpoint": {"tool_state": "***not base64***"}}),
        ("post", f"{S}/commit", {"expected_head_revision": -1}),
        ("post", f"{S}/commit", {"graph": {"mode": "unchanged", "nodes": [{"node_id": "n"}]}}),
        ("post", f"{S}/commit", {"graph": {"mode": "append", "nodes": [{"node_id": "a b"}]}}),
        ("post", f"{S}/queue/claim", {"agent_id": "not-a-uuid"}),
        ("post", f"{S}/queue/claim", {"agent_id": str(uuid.uuid4()), "lease_ttl_ms": 10**15}),
        ("post", f"{S}/queue/renew", {"claim_id": "c", "lease_token": "t", "batch_ids": []}),
        ("get", f"{S}/attachments/uncommitted?older_than_epoch_ms=99999999999999999999999", None),
        ("put", f"{S}/meta", {"session_name": "x" * 201, "created_at": "now", "model": "m"}),
    ],
)
def test_bad_input_is_422_never_500(api: Client, method: str, path: str, body: Any) -> None:
    response = api.generic(method.upper(), path, data=None if body is None else __import__("json").dumps(body),
                           content_type="application/json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_input"
