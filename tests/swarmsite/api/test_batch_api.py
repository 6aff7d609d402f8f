"""The batch calls through the real URL conf, real tokens and the real database: heartbeat many agents,
claim and complete several claims, append several outputs. Each answers as its single call would (per
item where the call is per item), is fenced and idempotent like it, refuses bad input with 422, and
runs in a number of SQL statements that does not grow with the batch."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
S = f"{V1}/sessions/batch-1"


def client_named(name: str, scope: str = "agent") -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(name, scope)[1]}"})


def post(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def register(client: Client) -> str:
    agent = str(uuid.uuid4())
    ok(post(client, f"{V1}/agents/{agent}/register", {}))
    return agent


def enqueue(client: Client, n: int, session: str = S) -> list[str]:
    body = {"payloads": [{"type": "turn_input", "input": {"n": 0}}]}
    return [ok(post(client, f"{session}/queue", body))["batch_id"] for _ in range(n)]


def statements(client: Client, path: str, body: Any, status: int = 200) -> int:
    """SQL statements one request runs, the token lookup and SAVEPOINTs included (the test's transaction
    turns the request's own into savepoints), on the configured database (PostgreSQL adds the event log's
    append lock)."""
    with CaptureQueriesContext(connection) as queries:
        ok(post(client, path, body), status)
    return len(queries)


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"], body


@pytest.fixture
def operator() -> Client:
    return client_named("ops", "operator")


def leased(agent_client: Client, operator: Client, identity: str = "alpha") -> tuple[str, int, str]:
    """(agent, fencing token, session) of a fresh identity leased by a fresh agent."""
    ok(post(operator, f"{V1}/identities", {"identity": identity, "profile": "worker"}), 201)
    agent = register(agent_client)
    token = ok(post(agent_client, f"{V1}/identities/{identity}/lease", {"agent_id": agent}))["fencing_token"]
    return agent, int(token), ok(agent_client.get(f"{V1}/identities/{identity}"))["session_id"]


# -- heartbeats ----------------------------------------------------------------------------------


def test_heartbeat_many_answers_each_agent_and_refreshes_the_live_ones(api: Client) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        alive, silent, gone = register(api), register(api), register(api)
        ok(post(api, f"{V1}/agents/{gone}/deregister", {}), 204)
    later = start + timedelta(seconds=settings.SWARM_AGENT_TTL_S + 1)
    with time_machine.travel(start + timedelta(seconds=settings.SWARM_AGENT_TTL_S - 1), tick=False):
        ok(post(api, f"{V1}/agents/{alive}/heartbeat", {}))
    unknown = str(uuid.uuid4())
    with time_machine.travel(later, tick=False):
        answer = ok(post(api, f"{V1}/agents/heartbeats", {"agent_ids": [alive, silent, gone, unknown]}))
        assert [(r["agent_id"], r["outcome"]) for r in answer["results"]] == [
            (alive, "ok"), (silent, "agent_expired"), (gone, "not_found"), (unknown, "not_found")
        ]
        assert answer["ok"] == 1 and answer["ttl_s"] == settings.SWARM_AGENT_TTL_S
        assert answer["results"][0]["last_heartbeat"] is not None and answer["results"][1]["last_heartbeat"] is None
        assert ok(api.get(f"{V1}/agents/{alive}"))["state"] == "online"
        assert ok(api.get(f"{V1}/agents/{silent}"))["state"] == "expired"
        refused(post(api, f"{V1}/agents/{silent}/heartbeat", {}), 404, "agent_expired")


def test_an_agent_expiring_in_a_batch_heartbeat_frees_its_lease(api: Client, operator: Client) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        agent, _, _ = leased(api, operator)
    with time_machine.travel(start + timedelta(seconds=settings.SWARM_AGENT_TTL_S + 1), tick=False):
        [result] = ok(post(api, f"{V1}/agents/heartbeats", {"agent_ids": [agent]}))["results"]
        assert result["outcome"] == "agent_expired"
        status = ok(api.get(f"{V1}/identities/alpha"))
    assert status["lease"]["state"] != "held", status["lease"]


@pytest.mark.parametrize("body", [
    {"agent_ids": []}, {"agent_ids": ["not-a-uuid"]}, {}, {"agent_ids": [str(uuid.uuid4()) for _ in range(501)]},
], ids=["empty", "not-a-uuid", "missing", "over-500"])
def test_heartbeat_many_refuses_bad_input_with_422(api: Client, body: Any) -> None:
    refused(post(api, f"{V1}/agents/heartbeats", body), 422, "invalid_input")


def test_heartbeat_many_refuses_an_agent_named_twice(api: Client) -> None:
    agent = register(api)
    refused(post(api, f"{V1}/agents/heartbeats", {"agent_ids": [agent, agent]}), 422, "invalid_input")


def test_heartbeat_many_costs_the_same_statements_for_5_or_100_agents(api: Client) -> None:
    few, many = [register(api) for _ in range(5)], [register(api) for _ in range(100)]
    costs = [statements(api, f"{V1}/agents/heartbeats", {"agent_ids": ids}) for ids in (few, many)]
    assert costs[0] == costs[1] <= 10, costs


# -- claims --------------------------------------------------------------------------------------


def test_claim_many_takes_one_claim_per_exclusive_batch_in_order_until_none_is_left(api: Client) -> None:
    agent = register(api)
    batches = enqueue(api, 5)
    first = ok(post(api, f"{S}/queue/claims", {"agent_id": agent, "max_claims": 3}))["claims"]
    assert [[b["batch_id"] for b in c["batches"]] for c in first] == [[b] for b in batches[:3]]
    assert len({c["claim_id"] for c in first}) == len({c["lease_token"] for c in first}) == 3
    assert {c["owner_id"] for c in first} == {agent}
    rest = ok(post(api, f"{S}/queue/claims", {"agent_id": agent, "max_claims": 10}))["claims"]
    assert [c["batches"][0]["batch_id"] for c in rest] == batches[3:]
    assert ok(post(api, f"{S}/queue/claims", {"agent_id": agent}))["claims"] == []
    assert ok(api.get(f"{S}/queue/pending"))["items"] == []


def test_claim_many_retried_with_its_idempotency_key_returns_the_same_claims(api: Client) -> None:
    agent = register(api)
    enqueue(api, 4)
    body = {"agent_id": agent, "max_claims": 2}
    first = ok(post(api, f"{S}/queue/claims", body, **{"Idempotency-Key": "claims-1"}))
    again = ok(post(api, f"{S}/queue/claims", body, **{"Idempotency-Key": "claims-1"}))
    assert again == first and len(first["claims"]) == 2
    assert len(ok(api.get(f"{S}/queue/pending"))["items"]) == 2  # the retry claimed nothing more
    other = post(api, f"{S}/queue/claims", {**body, "max_claims": 1}, **{"Idempotency-Key": "claims-1"})
    refused(other, 409, "idempotency_key_reused")


def test_claim_many_in_an_identitys_inbox_needs_its_current_token(api: Client, operator: Client) -> None:
    agent, token, session = leased(api, operator)
    for text in ("one", "two"):
        ok(post(operator, f"{V1}/identities/alpha/send", {"content": text}))
    path = f"{V1}/sessions/{session}/queue/claims"
    refused(post(api, path, {"agent_id": agent}), 409, "fencing_token_required")
    refused(post(api, path, {"agent_id": agent}, **{"Fencing-Token": str(token + 1000)}), 409, "stale_fencing_token")
    claims = ok(post(api, path, {"agent_id": agent}, **{"Fencing-Token": str(token)}))["claims"]
    assert len(claims) == 2


@pytest.mark.parametrize("body", [
    {"max_claims": 0}, {"max_claims": 101}, {"max_batches": 0}, {"agent_id": "nope"}, {"lease_ttl_ms": -1},
], ids=["zero-claims", "over-100-claims", "zero-batches", "bad-agent", "negative-ttl"])
def test_claim_many_refuses_bad_input_with_422(api: Client, body: Any) -> None:
    refused(post(api, f"{S}/queue/claims", {"agent_id": register(api), **body}), 422, "invalid_input")


def test_claim_many_by_an_agent_that_is_not_online_is_404(api: Client) -> None:
    enqueue(api, 1)
    refused(post(api, f"{S}/queue/claims", {"agent_id": str(uuid.uuid4())}), 404, "not_found")
    assert len(ok(api.get(f"{S}/queue/pending"))["items"]) == 1


def test_claim_many_costs_the_same_statements_for_3_or_60_claims(api: Client) -> None:
    agent = register(api)
    enqueue(api, 63)
    costs = [statements(api, f"{S}/queue/claims", {"agent_id": agent, "max_claims": n}) for n in (3, 60)]
    assert costs[0] == costs[1] <= 14, costs


# -- completions ---------------------------------------------------------------------------------


def refs(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"claim_id": c["claim_id"], "lease_token": c["lease_token"],
             "batch_ids": [b["batch_id"] for b in c["batches"]]} for c in claims]


def test_complete_many_finishes_held_claims_and_answers_lost_ones_per_claim(api: Client) -> None:
    agent = register(api)
    enqueue(api, 3)
    a, b, c = ok(post(api, f"{S}/queue/claims", {"agent_id": agent}))["claims"]
    ok(post(api, f"{S}/queue/complete", refs([b])[0]))  # already finished by the single call
    forged = {**refs([c])[0], "lease_token": "f" * 64}
    answer = ok(post(api, f"{S}/queue/completions", {"claims": refs([a, b]) + [forged]}))
    assert [(r["claim_id"], r["outcome"]) for r in answer["results"]] == [
        (a["claim_id"], "completed"), (b["claim_id"], "queued_work_claim_expired"),
        (c["claim_id"], "queued_work_claim_expired"),
    ]
    assert answer["completed_batch_ids"] == [a["batches"][0]["batch_id"]]
    assert [x["batch_id"] for x in ok(api.get(f"{S}/queue"))["items"]] == [c["batches"][0]["batch_id"]]


def test_complete_many_under_a_lost_lease_is_refused_as_a_whole(api: Client, operator: Client) -> None:
    agent, token, session = leased(api, operator)
    for text in ("one", "two"):
        ok(post(operator, f"{V1}/identities/alpha/send", {"content": text}))
    claims = ok(post(api, f"{V1}/sessions/{session}/queue/claims", {"agent_id": agent},
                     **{"Fencing-Token": str(token)}))["claims"]
    ok(post(operator, f"{V1}/identities/alpha/respawn", {"reason": "stuck"}))
    path = f"{V1}/sessions/{session}/queue/completions"
    refused(post(api, path, {"claims": refs(claims), "fencing_token": token}), 409, "stale_fencing_token")
    refused(post(api, path, {"claims": refs(claims)}), 409, "fencing_token_required")
    assert len(ok(operator.get(f"{V1}/sessions/{session}/queue"))["items"]) == 2
    rejections = ok(operator.get(f"{V1}/identities/alpha/rejections"))["items"]
    assert rejections[1]["operation"] == "queue.complete_many" and rejections[1]["presented_token"] == token


def test_complete_many_refuses_a_claim_named_twice_and_bad_input_with_422(api: Client) -> None:
    agent = register(api)
    enqueue(api, 1)
    [claim] = ok(post(api, f"{S}/queue/claims", {"agent_id": agent}))["claims"]
    path = f"{S}/queue/completions"
    refused(post(api, path, {"claims": refs([claim]) * 2}), 422, "invalid_input")
    refused(post(api, path, {"claims": []}), 422, "invalid_input")
    refused(post(api, path, {"claims": refs([claim]) * 101}), 422, "invalid_input")
    refused(post(api, path, {"claims": [{"claim_id": "x"}]}), 422, "invalid_input")
    assert len(ok(api.get(f"{S}/queue"))["items"]) == 1


def test_complete_many_costs_the_same_statements_for_3_or_60_claims(api: Client) -> None:
    agent = register(api)
    enqueue(api, 63)
    few = ok(post(api, f"{S}/queue/claims", {"agent_id": agent, "max_claims": 3}))["claims"]
    many = ok(post(api, f"{S}/queue/claims", {"agent_id": agent, "max_claims": 60}))["claims"]
    costs = [statements(api, f"{S}/queue/completions", {"claims": refs(c)}) for c in (few, many)]
    assert costs[0] == costs[1] <= 13, costs


# -- outputs -------------------------------------------------------------------------------------


def item(producer: str = "tool", stage: str = "step", **fields: Any) -> dict[str, Any]:
    return {"task_id": "t", "attempt": 0, "producer_agent": producer, "event": {"type": "progress", "stage": stage},
            **fields}


def test_append_many_stores_each_output_in_order_with_its_lineage(api: Client) -> None:
    parent = ok(post(api, f"{V1}/outputs", item("planner")), 201)
    answer = ok(post(api, f"{V1}/outputs/batch", {"outputs": [
        item(parent_refs=[parent["ref"]]), item(stage="two"),
        {**item("reviewer"), "event": {"type": "final", "content": {"kind": "inline", "value": "ok"}, "ok": True}},
    ]}), 201)["items"]
    assert [(o["producer_agent"], o["kind"]) for o in answer] == [("tool", "progress"), ("tool", "progress"),
                                                                 ("reviewer", "final")]
    assert [o["seq"] for o in answer] == sorted(o["seq"] for o in answer)
    assert [c["ref"] for c in ok(api.get(f"{V1}/outputs/{parent['ref']}/children"))["items"]] == [answer[0]["ref"]]
    assert ok(api.get(f"{V1}/outputs/latest?producer=tool"))["ref"] == answer[1]["ref"]


def test_append_many_with_an_unknown_parent_writes_nothing(api: Client) -> None:
    response = post(api, f"{V1}/outputs/batch", {"outputs": [item(), item(parent_refs=["out-00000000ff"])]})
    refused(response, 404, "unknown_parent")
    assert ok(api.get(f"{V1}/outputs"))["total"] == 0


def test_append_many_is_fenced_per_output_and_one_stale_token_writes_nothing(api: Client, operator: Client) -> None:
    agent, token, _ = leased(api, operator)
    body = {"outputs": [item("tool"), item("alpha", fencing_token=token)]}
    assert [o["identity"] for o in ok(post(api, f"{V1}/outputs/batch", body), 201)["items"]] == [None, "alpha"]
    ok(post(operator, f"{V1}/identities/alpha/respawn", {"reason": "stuck"}))
    refused(post(api, f"{V1}/outputs/batch", body), 409, "stale_fencing_token")
    refused(post(api, f"{V1}/outputs/batch", {"outputs": [item("tool"), item("alpha")]}), 409,
            "fencing_token_required")
    assert ok(api.get(f"{V1}/outputs"))["total"] == 2


def test_append_many_retried_with_its_idempotency_key_returns_the_same_records(api: Client) -> None:
    body = {"outputs": [item(), item(stage="two")]}
    first = ok(post(api, f"{V1}/outputs/batch", body, **{"Idempotency-Key": "out-1"}), 201)
    again = ok(post(api, f"{V1}/outputs/batch", body, **{"Idempotency-Key": "out-1"}), 201)
    assert again == first and ok(api.get(f"{V1}/outputs"))["total"] == 2
    changed = {"outputs": [item(), item(stage="changed")]}
    refused(post(api, f"{V1}/outputs/batch", changed, **{"Idempotency-Key": "out-1"}), 409, "idempotency_key_reused")
    own_keys = {"outputs": [item(idempotency_key="a"), item(stage="b", idempotency_key="b")]}
    assert ok(post(api, f"{V1}/outputs/batch", own_keys), 201) == ok(post(api, f"{V1}/outputs/batch", own_keys), 201)
    assert ok(api.get(f"{V1}/outputs"))["total"] == 4


@pytest.mark.parametrize("body", [
    {"outputs": []}, {"outputs": [item()] * 101}, {"outputs": [item(idempotency_key="k"), item(idempotency_key="k")]},
    {"outputs": [item(identity="alpha")]}, {"outputs": [{"task_id": "t"}]},
], ids=["empty", "over-100", "one-key-twice", "identity-without-token", "incomplete"])
def test_append_many_refuses_bad_input_with_422(api: Client, body: Any) -> None:
    refused(post(api, f"{V1}/outputs/batch", body), 422, "invalid_input")
    assert ok(api.get(f"{V1}/outputs"))["total"] == 0


def test_append_many_costs_the_same_statements_for_3_or_60_outputs(api: Client) -> None:
    parent = ok(post(api, f"{V1}/outputs", item("planner")), 201)["ref"]
    costs = [statements(api, f"{V1}/outputs/batch", {"outputs": [
        item(stage=f"s{i}", parent_refs=[parent], idempotency_key=f"{n}-{i}") for i in range(n)]}, 201)
             for n in (3, 60)]
    assert costs[0] == costs[1] <= 16, costs
