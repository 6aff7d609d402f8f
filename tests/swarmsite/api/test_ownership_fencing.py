"""No stale owner can ever write: for each way identity X is taken over (agent expiry, lease timeout,
respawn, reset), the old owner tries every mutating route on X's resources with its old token, with no
token and with another identity's valid token. Every attempt is refused and recorded with who tried,
nothing changes, and the new owner's writes succeed, including its claim of the old owner's in-flight work.

Everything goes through the real URL conf, real API tokens, the real lease table and the configured
database (SQLite, and PostgreSQL on CI's second pass)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from swarmsite.models import ApiToken
from swarmsite.sweeper import sweep_once

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
NOW = "2026-01-02T03:04:05.000001+00:00"
TAKEOVERS = ["agent_expiry", "lease_timeout", "respawn", "reset"]


def client_named(name: str, scope: str = "agent") -> Client:
    _, secret = ApiToken.issue(name, scope)
    return Client(headers={"Authorization": f"Bearer {secret}"})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def send(client: Client, method: str, path: str, body: Any = None, token: int | None = None) -> Any:
    headers = {"Fencing-Token": str(token)} if token is not None else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, data=data, content_type="application/json", headers=headers)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def register(client: Client) -> str:
    agent = str(uuid.uuid4())
    ok(client.post(f"{V1}/agents/{agent}/register", content_type="application/json"))
    return agent


def lease(client: Client, identity: str, agent: str) -> int:
    return int(ok(send(client, "post", f"{V1}/identities/{identity}/lease", {"agent_id": agent}))["fencing_token"])


def commit_body() -> dict[str, Any]:
    return {"config": {"provider_id": "p", "model": "m"},
            "graph": {"mode": "append", "nodes": [{"node_id": f"n-{uuid.uuid4().hex[:8]}", "payload": {}}]},
            "checkpoint": {"turn_state": {"late": True}}}


def input_state(input_id: str) -> dict[str, Any]:
    return {"input_id": input_id, "current_state": "accepted", "created_at": NOW, "updated_at": NOW,
            "attempt_count": 0, "recovery_count": 0}


@dataclass
class Owned:
    """What identity X owns and the handles its first owner kept."""

    identity: str
    session: str
    runtime: str
    claim: dict[str, Any]
    batch_id: str


# Every mutating route that can touch what an identity owns: (name, how it carries a fence, request).
# `body` routes put the token in the body, `header` routes in the Fencing-Token header, `items` routes in
# each owned item of a batch body (the unowned items of such a batch carry none). The OpenAPI
# coverage test below fails when a new mutating route is neither here nor in NOT_OWNED.
Request = Callable[[Owned], tuple[str, str, Any]]
ROUTES: dict[tuple[str, str], tuple[str, Request]] = {
    ("post", "/outputs"): ("body", lambda o: ("post", f"{V1}/outputs", {
        "task_id": "late", "attempt": 0, "producer_agent": o.identity,
        "event": {"type": "progress", "stage": "late"}})),
    ("post", "/outputs/batch"): ("items", lambda o: ("post", f"{V1}/outputs/batch", {"outputs": [
        {"task_id": "late", "attempt": 0, "producer_agent": "tool", "event": {"type": "progress", "stage": "unowned"}},
        {"task_id": "late", "attempt": 0, "producer_agent": o.identity, "event": {"type": "progress", "stage": "late"}},
    ]})),
    ("post", "/identities/{identity}/checkpoints"): ("body", lambda o: (
        "post", f"{V1}/identities/{o.identity}/checkpoints", {"data": b64(b'{"late": true}')})),
    ("post", "/sessions/{session_id}/commit"): ("body", lambda o: (
        "post", f"{V1}/sessions/{o.session}/commit", commit_body())),
    ("put", "/sessions/{session_id}/meta"): ("header", lambda o: ("put", f"{V1}/sessions/{o.session}/meta", {
        "session_name": "late", "created_at": NOW, "model": "m"})),
    ("post", "/sessions/{session_id}/tombstone"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/tombstone", {"node_ids": ["root"]})),
    ("post", "/sessions/{session_id}/attachments"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/attachments", {"attachment_id": "late", "canonical_uri": "s3://x"})),
    ("post", "/sessions/{session_id}/attachments/commit"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/attachments/commit", {"attachment_ids": ["att-1"]})),
    ("delete", "/sessions/{session_id}/attachments/{attachment_id}"): ("header", lambda o: (
        "delete", f"{V1}/sessions/{o.session}/attachments/att-1", None)),
    ("post", "/sessions/{session_id}/queue/claim"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/claim", {"agent_id": o.claim["owner_id"]})),
    ("post", "/sessions/{session_id}/queue/claims"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/claims", {"agent_id": o.claim["owner_id"]})),
    ("post", "/sessions/{session_id}/queue/completions"): ("body", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/completions", {"claims": [claim_ref(o.claim)]})),
    ("post", "/sessions/{session_id}/queue/renew"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/renew", claim_ref(o.claim))),
    ("post", "/sessions/{session_id}/queue/abandon"): ("header", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/abandon", claim_ref(o.claim))),
    ("post", "/sessions/{session_id}/queue/complete"): ("body", lambda o: (
        "post", f"{V1}/sessions/{o.session}/queue/complete", claim_ref(o.claim))),
    ("delete", "/sessions/{session_id}/queue/{batch_id}"): ("header", lambda o: (
        "delete", f"{V1}/sessions/{o.session}/queue/{o.batch_id}", None)),
    ("post", "/runtimes/{runtime_id}/apply"): ("body", lambda o: ("post", f"{V1}/runtimes/{o.runtime}/apply", {
        "receipt": {"run_id": str(uuid.uuid4()), "boundary": "run_start", "sequence": 0},
        "session_snapshot": {"late": True}})),
    ("put", "/runtimes/{runtime_id}/snapshot"): ("body", lambda o: (
        "put", f"{V1}/runtimes/{o.runtime}/snapshot", {"session_snapshot": {"late": True}})),
    ("put", "/runtimes/{runtime_id}/state"): ("body", lambda o: (
        "put", f"{V1}/runtimes/{o.runtime}/state", {"state": "initializing"})),
    ("put", "/runtimes/{runtime_id}/inputs/{input_id}"): ("header", lambda o: (
        "put", f"{V1}/runtimes/{o.runtime}/inputs/{INPUT}", input_state(INPUT))),
    ("put", "/runtimes/{runtime_id}/ops"): ("header", lambda o: (
        "put", f"{V1}/runtimes/{o.runtime}/ops", {"snapshot": {"late": True}})),
}
INPUT = "00000000-0000-4000-8000-000000000001"

# Mutating routes that write nothing an identity owns, and why (lease and recovery routes fence by
# themselves; send/dispatch are how others talk to an identity; the rest is global or admin-only).
NOT_OWNED = {
    ("post", "/agents/{agent_id}/register"): "an agent's own liveness",
    ("post", "/agents/{agent_id}/heartbeat"): "an agent's own liveness",
    ("post", "/agents/{agent_id}/deregister"): "an agent's own liveness",
    ("post", "/agents/heartbeats"): "agents' own liveness, many at once",
    ("post", "/identities"): "operator: creates an identity",
    ("put", "/identities/{identity}/spec"): "operator: edits a spec (audited)",
    ("post", "/identities/{identity}/lease"): "takes the lease: the fence itself",
    ("post", "/identities/{identity}/lease/renew"): "checked against the lease it renews",
    ("post", "/identities/{identity}/lease/release"): "checked against the lease it releases",
    ("post", "/identities/{identity}/send"): "delivery into the inbox: the seed's checks, no token of X",
    ("post", "/identities/{identity}/dispatch"): "delivery into the inbox: the seed's checks, no token of X",
    ("post", "/identities/{identity}/respawn"): "operator recovery (audited)",
    ("post", "/identities/{identity}/retire"): "operator recovery (audited)",
    ("post", "/identities/{identity}/reset"): "admin recovery (audited)",
    ("delete", "/identities/{identity}"): "admin recovery (audited)",
    ("put", "/roster/edges"): "operator: topology",
    ("post", "/roster/restore"): "admin: roster",
    ("post", "/roster/reconcile"): "admin: roster",
    ("post", "/sessions/{session_id}/queue"): "refused for owned inboxes (owned_inbox): tested below",
    ("post", "/sessions/{session_id}/vacuum"): "admin maintenance",
    ("post", "/sessions/{session_id}/gc"): "admin maintenance",
    ("put", "/runtimes/-/oauth-flow"): "admin: one global snapshot",
    ("post", "/runtimes/-/oauth-flow/update"): "admin: one global snapshot",
    ("post", "/noop"): "the benchmark baseline",
}
# Checkpoint threads (LangGraph) are owned by the identity whose fenced write created them and fenced by
# the thread store itself in the write's transaction: tests/stores/conformance/test_threads.py and the
# saver's conformance run cover every one of these routes.
FENCED_BY_THEIR_STORE = {
    ("post", "/threads/delete-for-runs"), ("post", "/threads/prune"), ("post", "/threads/{thread_id}/checkpoints"),
    ("post", "/threads/{thread_id}/writes"), ("post", "/threads/{thread_id}/copy"), ("delete", "/threads/{thread_id}"),
}


def claim_ref(claim: dict[str, Any]) -> dict[str, Any]:
    return {"claim_id": claim["claim_id"], "lease_token": claim["lease_token"],
            "batch_ids": [b["batch_id"] for b in claim["batches"]]}


@pytest.fixture
def operator() -> Client:
    return client_named("ops", "operator")


@pytest.fixture
def admin() -> Client:
    return client_named("admin", "admin")


@dataclass
class Swarm:
    old: Client  # agent A's API token ("agent-a")
    new: Client  # agent B's
    other: Client  # agent C, which holds identity "beta"
    a: str
    b: str
    c: str
    beta_token: int


@pytest.fixture
def swarm(operator: Client) -> Swarm:
    for name in ("alpha", "beta"):
        ok(send(operator, "post", f"{V1}/identities", {"identity": name, "profile": "worker"}), 201)
    old, new, other = client_named("agent-a"), client_named("agent-b"), client_named("agent-c")
    a, c = register(old), register(other)
    return Swarm(old, new, other, a, "", c, lease(other, "beta", c))


def first_owner_works(swarm: Swarm, operator: Client) -> tuple[Owned, int]:
    """A takes alpha, writes to everything alpha owns, and leaves one batch claimed (in flight)."""
    token = lease(swarm.old, "alpha", swarm.a)
    status = ok(swarm.old.get(f"{V1}/identities/alpha"))
    session, runtime = status["session_id"], status["agent_runtime_id"]
    ok(send(swarm.old, "post", f"{V1}/sessions/{session}/commit", {**commit_body(), "fencing_token": token}))
    ok(send(swarm.old, "post", f"{V1}/sessions/{session}/attachments",
            {"attachment_id": "att-1", "canonical_uri": "s3://a"}, token), 204)
    ok(send(swarm.old, "put", f"{V1}/runtimes/{runtime}/state", {"state": "initializing", "fencing_token": token}))
    ok(send(swarm.old, "put", f"{V1}/runtimes/{runtime}/ops", {"snapshot": {"v": 1}}, token))
    ok(send(swarm.old, "post", f"{V1}/outputs", {"task_id": "t", "attempt": 0, "producer_agent": "alpha",
                                                  "event": {"type": "progress", "stage": "hi"},
                                                  "fencing_token": token}), 201)
    ok(send(swarm.old, "post", f"{V1}/identities/alpha/checkpoints", {"fencing_token": token, "data": b64(b"{}")}),
       201)
    for text in ("one", "two"):
        ok(send(operator, "post", f"{V1}/identities/alpha/send", {"content": text}))
    claim = ok(send(swarm.old, "post", f"{V1}/sessions/{session}/queue/claim",
                    {"agent_id": swarm.a, "max_batches": 1}, token))
    return Owned("alpha", session, runtime, claim, claim["batches"][0]["batch_id"]), token


def take_over(how: str, swarm: Swarm, operator: Client, admin: Client) -> None:
    """X changes hands; agent B (registered afterwards, so it is alive) holds its lease at the end."""
    if how == "agent_expiry":
        with time_machine.travel(timezone.now() + timedelta(seconds=settings.SWARM_AGENT_TTL_S + 5)):
            sweep_once()
    elif how == "lease_timeout":
        ok(send(swarm.old, "post", f"{V1}/agents/{swarm.a}/heartbeat"))
        with time_machine.travel(timezone.now() + timedelta(seconds=settings.SWARM_LEASE_TTL_S + 1)):
            sweep_once()
    elif how == "respawn":
        ok(send(operator, "post", f"{V1}/identities/alpha/respawn", {"reason": "stuck"}))
    else:
        ok(send(admin, "post", f"{V1}/identities/alpha/reset", {"reason": "corrupt"}))
    swarm.b = register(swarm.new)


def state_of(client: Client, owned: Owned) -> dict[str, Any]:
    """Everything a late write could change, read through the API."""
    reads = {
        "session": f"{V1}/sessions/{owned.session}", "meta": f"{V1}/sessions/{owned.session}/meta",
        "queue": f"{V1}/sessions/{owned.session}/queue",
        "attachments": f"{V1}/sessions/{owned.session}/attachments/uncommitted?older_than_epoch_ms=99999999999999",
        "runtime_state": f"{V1}/runtimes/{owned.runtime}/state", "ops": f"{V1}/runtimes/{owned.runtime}/ops",
        "snapshot": f"{V1}/runtimes/{owned.runtime}/snapshot", "inputs": f"{V1}/runtimes/{owned.runtime}/inputs",
        "outputs": f"{V1}/outputs?producer=alpha", "checkpoints": f"{V1}/identities/alpha/checkpoints",
    }
    seen = {}
    for name, path in reads.items():
        response = client.get(path)
        seen[name] = (response.status_code, response.json() if response.content else None)
    # Claim expiry times move with the clock, not with writes; the holder and batches must not.
    for _, body in [seen["queue"]]:
        for batch in (body or {}).get("items", []):
            (batch.get("claim") or {}).pop("expires_at_ms", None)
    return seen


def attempts(swarm: Swarm, owned: Owned, old_token: int) -> Iterator[tuple[str, str, int | None, str]]:
    """(route, how the fence is sent, token or None, the code it must be refused with)."""
    for route, (carrier, _) in ROUTES.items():
        yield f"{route[0]} {route[1]}", carrier, old_token, "stale_fencing_token"
        yield f"{route[0]} {route[1]}", carrier, None, "fencing_token_required"
        yield f"{route[0]} {route[1]}", carrier, swarm.beta_token, "fence_mismatch"


def attempt(client: Client, owned: Owned, route: tuple[str, str], token: int | None) -> Any:
    carrier, build = ROUTES[route]
    method, path, body = build(owned)
    if carrier == "body" and token is not None:
        return send(client, method, path, {**(body or {}), "fencing_token": token})
    if carrier == "items" and token is not None:
        items = [{**i, "fencing_token": token} if i["producer_agent"] == owned.identity else i for i in body["outputs"]]
        return send(client, method, path, {"outputs": items})
    return send(client, method, path, body, token if carrier == "header" else None)


@pytest.mark.parametrize("how", TAKEOVERS)
def test_the_old_owner_is_refused_everywhere_after_a_takeover_and_the_new_owner_writes(
    how: str, swarm: Swarm, operator: Client, admin: Client
) -> None:
    owned, old_token = first_owner_works(swarm, operator)
    take_over(how, swarm, operator, admin)
    new_token = lease(swarm.new, "alpha", swarm.b)
    before = state_of(operator, owned)
    rejections_before = ok(operator.get(f"{V1}/identities/alpha/rejections?limit=500"))["total"]

    tried = 0
    for route in ROUTES:
        for token, code in ((old_token, "stale_fencing_token"), (None, "fencing_token_required"),
                            (swarm.beta_token, "fence_mismatch")):
            response = attempt(swarm.old, owned, route, token)
            assert response.status_code == 409, (how, route, token, response.content)
            assert response.json()["code"] == code, (how, route, token, response.json())
            tried += 1
    raw = send(swarm.old, "post", f"{V1}/sessions/{owned.session}/queue",
               {"payloads": [{"type": "turn_input", "input": "late"}]}, old_token)
    assert raw.status_code == 409 and raw.json()["code"] == "owned_inbox"
    assert "/identities/alpha/send" in raw.json()["detail"]

    assert state_of(operator, owned) == before, how
    page = ok(operator.get(f"{V1}/identities/alpha/rejections?limit=500"))
    assert page["total"] - rejections_before == tried
    recorded = page["items"][:tried]
    by_code = {code: [r for r in recorded if r["code"] == code] for code in
               ("stale_fencing_token", "fencing_token_required", "fence_mismatch")}
    assert all(len(rows) == len(ROUTES) for rows in by_code.values())
    assert {r["agent_id"] for r in by_code["stale_fencing_token"]} == {swarm.a}  # whose token it was
    assert {r["agent_id"] for r in by_code["fence_mismatch"]} == {swarm.c}
    assert {r["presented_token"] for r in by_code["fencing_token_required"]} == {None}
    assert {r["caller"] for r in recorded} == {"agent-a"}  # the API token that made each write
    assert {r["current_token"] for r in recorded} == {new_token}

    # The new owner writes where it now owns.
    current = ok(swarm.new.get(f"{V1}/identities/alpha"))
    ok(send(swarm.new, "put", f"{V1}/sessions/{current['session_id']}/meta",
            {"session_name": "new owner", "created_at": NOW, "model": "m"}, new_token))
    ok(send(swarm.new, "put", f"{V1}/runtimes/{current['agent_runtime_id']}/ops", {"snapshot": {"v": 2}}, new_token))
    ok(send(swarm.new, "post", f"{V1}/outputs", {"task_id": "t", "attempt": 1, "producer_agent": "alpha",
                                                  "event": {"type": "progress", "stage": "mine"},
                                                  "fencing_token": new_token}), 201)
    ok(send(swarm.new, "post", f"{V1}/identities/alpha/checkpoints",
            {"fencing_token": new_token, "data": b64(b'{"new": true}')}), 201)


@pytest.mark.parametrize("how", ["respawn", "lease_timeout"])
def test_the_new_owner_claims_the_old_owners_in_flight_batch_at_once(
    how: str, swarm: Swarm, operator: Client, admin: Client
) -> None:
    owned, _ = first_owner_works(swarm, operator)
    take_over(how, swarm, operator, admin)
    new_token = lease(swarm.new, "alpha", swarm.b)
    claimed = ok(send(swarm.new, "post", f"{V1}/sessions/{owned.session}/queue/claim",
                      {"agent_id": swarm.b, "max_batches": 1}, new_token))
    assert claimed["batches"][0]["batch_id"] == owned.batch_id
    assert claimed["owner_id"] == swarm.b
    done = send(swarm.new, "post", f"{V1}/sessions/{owned.session}/queue/complete",
                {**claim_ref(claimed), "fencing_token": new_token})
    assert ok(done)["completed_batch_ids"] == [owned.batch_id]


@pytest.mark.parametrize("how", ["agent_expiry", "respawn"])
def test_the_new_owner_takes_and_finishes_the_old_owners_work_in_batch_calls(
    how: str, swarm: Swarm, operator: Client, admin: Client
) -> None:
    owned, _ = first_owner_works(swarm, operator)
    take_over(how, swarm, operator, admin)
    new_token = lease(swarm.new, "alpha", swarm.b)
    claims = ok(send(swarm.new, "post", f"{V1}/sessions/{owned.session}/queue/claims",
                     {"agent_id": swarm.b, "max_batches": 1}, new_token))["claims"]
    assert [c["batches"][0]["batch_id"] for c in claims][0] == owned.batch_id and len(claims) == 2
    done = ok(send(swarm.new, "post", f"{V1}/sessions/{owned.session}/queue/completions",
                   {"claims": [claim_ref(c) for c in claims], "fencing_token": new_token}))
    assert [r["outcome"] for r in done["results"]] == ["completed", "completed"]
    assert ok(operator.get(f"{V1}/sessions/{owned.session}/queue"))["items"] == []


def test_reset_and_delete_cancel_what_the_old_session_held(swarm: Swarm, operator: Client, admin: Client) -> None:
    owned, _ = first_owner_works(swarm, operator)
    ok(send(admin, "post", f"{V1}/identities/alpha/reset", {"reason": "fresh start"}))
    assert ok(operator.get(f"{V1}/sessions/{owned.session}/queue"))["items"] == []
    audit = ok(operator.get(f"{V1}/identities/alpha/audit"))["items"][0]
    assert audit["action"] == "reset" and audit["result"]["cancelled_batches"] == 2


def test_an_operator_writes_an_owned_resource_without_a_token_and_it_is_audited(
    swarm: Swarm, operator: Client
) -> None:
    owned, _ = first_owner_works(swarm, operator)
    ok(send(operator, "put", f"{V1}/sessions/{owned.session}/meta",
            {"session_name": "fixed by ops", "created_at": NOW, "model": "m"}))
    entry = ok(operator.get(f"{V1}/identities/alpha/audit"))["items"][0]
    assert (entry["actor"], entry["action"]) == ("ops", "unfenced_write")
    assert entry["result"] == {"operation": "session.meta", "resource": f"session:{owned.session}"}


def test_an_agent_cancels_only_work_of_identities_it_holds_or_of_no_identity(swarm: Swarm, operator: Client) -> None:
    owned, token = first_owner_works(swarm, operator)
    pending = [b for b in ok(operator.get(f"{V1}/sessions/{owned.session}/queue"))["items"]
               if b["batch_id"] != owned.batch_id][0]
    refused = send(swarm.other, "delete", f"{V1}/sessions/{owned.session}/queue/{pending['batch_id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "fencing_token_required"
    ok(send(swarm.old, "delete", f"{V1}/sessions/{owned.session}/queue/{pending['batch_id']}", None, token))
    loose = ok(send(swarm.other, "post", f"{V1}/sessions/free-session/queue",
                    {"payloads": [{"type": "turn_input", "input": "x"}]}))
    ok(send(swarm.other, "delete", f"{V1}/sessions/free-session/queue/{loose['batch_id']}"))


def test_a_claim_retried_with_its_idempotency_key_returns_the_same_claim(swarm: Swarm, operator: Client) -> None:
    token = lease(swarm.old, "alpha", swarm.a)
    session = ok(swarm.old.get(f"{V1}/identities/alpha"))["session_id"]
    for text in ("one", "two"):
        ok(send(operator, "post", f"{V1}/identities/alpha/send", {"content": text}))
    path, body = f"{V1}/sessions/{session}/queue/claim", json.dumps({"agent_id": swarm.a, "max_batches": 1})
    headers = {"Fencing-Token": str(token), "Idempotency-Key": "claim-1"}
    first = swarm.old.post(path, body, content_type="application/json", headers=headers).json()
    again = swarm.old.post(path, body, content_type="application/json", headers=headers).json()
    assert again == first
    pending = ok(operator.get(f"{V1}/sessions/{session}/queue/pending"))["items"]
    assert len(pending) == 1  # the retry claimed nothing more


def test_a_checkpoint_retried_with_its_idempotency_key_saves_one_version(swarm: Swarm) -> None:
    token = lease(swarm.old, "alpha", swarm.a)
    body = json.dumps({"fencing_token": token, "data": b64(b'{"step": 1}')})
    headers = {"Idempotency-Key": "cp-1"}
    path = f"{V1}/identities/alpha/checkpoints"
    first = swarm.old.post(path, body, content_type="application/json", headers=headers)
    again = swarm.old.post(path, body, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert ok(swarm.old.get(path))["total"] == 1


def test_every_mutating_route_is_covered_by_the_fencing_tests_or_says_why_not() -> None:
    from swarmsite.api.assembly import api

    mutating = {
        (method, path.removeprefix("/api/v1"))
        for path, operations in api.get_openapi_schema()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    unclassified = mutating - set(ROUTES) - set(NOT_OWNED) - FENCED_BY_THEIR_STORE
    assert unclassified == set(), "classify each new mutating route: fenced (ROUTES) or NOT_OWNED with a reason"
    assert set(ROUTES) <= mutating and set(NOT_OWNED) <= mutating and FENCED_BY_THEIR_STORE <= mutating
