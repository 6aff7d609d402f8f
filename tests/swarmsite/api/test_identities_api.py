"""The identities and roster API through the real URL conf, tokens and database."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create(client: Client, identity: str = "alpha", **fields: Any) -> dict[str, Any]:
    body = {"identity": identity, "profile": "worker", "labels": {"team": "blue"}, **fields}
    response = client.post(f"{V1}/identities", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def online_agent(client: Client) -> str:
    agent = str(uuid.uuid4())
    assert client.post(f"{V1}/agents/{agent}/register", content_type="application/json").status_code == 200
    return agent


def acquire(client: Client, identity: str, agent: str, **extra: Any) -> Any:
    return client.post(f"{V1}/identities/{identity}/lease", {"agent_id": agent, **extra},
                       content_type="application/json")


def checkpoint(client: Client, identity: str, agent: str, token: int, data: bytes) -> Any:
    body = {"agent_id": agent, "fencing_token": token, "data": b64(data)}
    return client.post(f"{V1}/identities/{identity}/checkpoints", body, content_type="application/json")


def latest(client: Client, identity: str) -> Any:
    return client.get(f"{V1}/identities/{identity}/checkpoints/latest")


# -- identities --------------------------------------------------------------------------------
def test_create_needs_operator_scope_and_refuses_duplicates(api: Client, operator_api: Client) -> None:
    response = api.post(f"{V1}/identities", {"identity": "a", "profile": "p"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    status = create(operator_api, "alpha", display_name="Alpha")
    assert status["state"] == "active" and status["generation"] == 0 and status["lease"] is None
    assert status["why_stuck"] == "no agent has acquired the lease yet"
    again = operator_api.post(f"{V1}/identities", {"identity": "alpha", "profile": "p"},
                              content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "duplicate_identity"


@pytest.mark.parametrize("name", ["has space", "tab\there", "x" * 201, "", "nul\x00byte"])
def test_bad_identity_names_are_422(operator_api: Client, name: str) -> None:
    response = operator_api.post(f"{V1}/identities", {"identity": name, "profile": "p"},
                                 content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"


def test_status_of_unknown_identity_is_404_unknown_identity(api: Client) -> None:
    response = api.get(f"{V1}/identities/ghost")
    assert response.status_code == 404 and response.json()["code"] == "unknown_identity"
    long = api.get(f"{V1}/identities/{'x' * 300}")
    assert long.status_code == 422 and long.json()["code"] == "invalid_identity"


def test_list_filters_by_state_profile_label_and_search(operator_api: Client) -> None:
    create(operator_api, "alpha", display_name="First")
    create(operator_api, "beta", profile="planner", labels={"team": "red"})
    create(operator_api, "gamma")
    operator_api.post(f"{V1}/identities/gamma/retire", content_type="application/json")

    def names(query: str) -> list[str]:
        response = operator_api.get(f"{V1}/identities?{query}")
        assert response.status_code == 200, response.content
        return [i["identity"] for i in response.json()["items"]]

    assert names("") == ["alpha", "beta", "gamma"]
    assert names("state=retiring") == ["gamma"]
    assert names("profile=planner") == ["beta"]
    assert names("label=team=red") == ["beta"]
    assert names("q=firs") == ["alpha"]
    assert names("limit=1&offset=1") == ["beta"]
    assert operator_api.get(f"{V1}/identities?label=nokey").status_code == 422


def test_update_spec_replaces_it_and_emits_spec_updated(operator_api: Client) -> None:
    create(operator_api)
    response = operator_api.put(f"{V1}/identities/alpha/spec",
                                {"profile": "planner", "addressability": "internal_only"},
                                content_type="application/json")
    assert response.status_code == 200 and response.json()["addressability"] == "internal_only"
    assert operator_api.get(f"{V1}/identities/alpha/spec").json()["profile"] == "planner"
    kinds = [e["kind"] for e in operator_api.get(f"{V1}/identities/alpha/events").json()]
    assert kinds == ["identity.registered", "identity.spec_updated"]


# -- leases ------------------------------------------------------------------------------------
def test_lease_acquire_renew_release(operator_api: Client) -> None:
    create(operator_api)
    agent = online_agent(operator_api)
    grant = acquire(operator_api, "alpha", agent, ttl_s=60).json()
    assert grant["holder"] == agent and grant["ttl_ms"] == 60_000 and grant["fencing_token"] > 0
    renewed = operator_api.post(f"{V1}/identities/alpha/lease/renew",
                                {"agent_id": agent, "fencing_token": grant["fencing_token"]},
                                content_type="application/json")
    assert renewed.status_code == 200 and renewed.json()["fencing_token"] == grant["fencing_token"]
    status = operator_api.get(f"{V1}/identities/alpha").json()
    assert status["lease"]["holder"] == agent and status["why_stuck"] is None
    release = operator_api.post(f"{V1}/identities/alpha/lease/release",
                                {"agent_id": agent, "fencing_token": grant["fencing_token"]},
                                content_type="application/json")
    assert release.status_code == 204
    assert operator_api.get(f"{V1}/identities/alpha").json()["lease"]["last_holder"] == agent


def test_lease_held_names_the_holder_and_its_expiry(operator_api: Client) -> None:
    create(operator_api)
    holder = online_agent(operator_api)
    grant = acquire(operator_api, "alpha", holder).json()
    response = acquire(operator_api, "alpha", online_agent(operator_api))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "lease_held" and body["holder"] == holder
    assert body["expires_at"].replace("+00:00", "Z")[:19] == grant["expires_at"][:19]


def test_lease_for_an_unregistered_agent_is_404(operator_api: Client) -> None:
    create(operator_api)
    response = acquire(operator_api, "alpha", str(uuid.uuid4()))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_renew_after_the_ttl_is_409_lease_lost(operator_api: Client) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        create(operator_api)
        agent = online_agent(operator_api)
        grant = acquire(operator_api, "alpha", agent, ttl_s=5).json()
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        response = operator_api.post(f"{V1}/identities/alpha/lease/renew",
                                     {"agent_id": agent, "fencing_token": grant["fencing_token"]},
                                     content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "lease_lost"


# -- delivery ----------------------------------------------------------------------------------
def test_send_checks_addressability_state_and_lease(operator_api: Client) -> None:
    create(operator_api, "alpha")
    create(operator_api, "quiet", addressability="internal_only")
    send = {"content": {"text": "hi"}}
    no_lease = operator_api.post(f"{V1}/identities/alpha/send", send, content_type="application/json")
    assert no_lease.status_code == 409 and no_lease.json()["code"] == "no_active_lease"
    hidden = operator_api.post(f"{V1}/identities/quiet/send", send, content_type="application/json")
    assert hidden.status_code == 409 and hidden.json()["code"] == "not_addressable"
    operator_api.post(f"{V1}/identities/alpha/retire", content_type="application/json")
    retired = operator_api.post(f"{V1}/identities/alpha/send", send, content_type="application/json")
    assert retired.status_code == 409 and retired.json()["code"] == "invalid_state"
    unknown = operator_api.post(f"{V1}/identities/ghost/send", send, content_type="application/json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_identity"


def test_send_and_dispatch_enqueue_once_per_idempotency_key(operator_api: Client) -> None:
    create(operator_api, "alpha")
    create(operator_api, "quiet", addressability="internal_only")
    grant = acquire(operator_api, "alpha", online_agent(operator_api)).json()
    acquire(operator_api, "quiet", online_agent(operator_api))
    first = operator_api.post(f"{V1}/identities/alpha/send", {"content": "hi"}, content_type="application/json",
                              headers={"Idempotency-Key": "msg-1"})
    again = operator_api.post(f"{V1}/identities/alpha/send", {"content": "hi"}, content_type="application/json",
                              headers={"Idempotency-Key": "msg-1"})
    assert first.status_code == 200, first.content
    assert first.json()["batch_id"] == again.json()["batch_id"] is not None
    assert first.json()["fencing_token"] == grant["fencing_token"] and first.json()["is_durable"] is True
    session = operator_api.get(f"{V1}/identities/alpha").json()["session_id"]
    assert first.json()["session_id"] == session
    dispatched = operator_api.post(f"{V1}/identities/quiet/dispatch",
                                   {"content": "tick", "origin": "scheduler", "idempotency_key": "t-1"},
                                   content_type="application/json")
    assert dispatched.status_code == 200 and dispatched.json()["batch_id"]


# -- continuity --------------------------------------------------------------------------------
def test_checkpoint_save_and_load_latest(api: Client, operator_api: Client) -> None:
    create(operator_api)
    agent = online_agent(api)
    token = acquire(api, "alpha", agent).json()["fencing_token"]
    assert latest(api, "alpha").status_code == 204
    saved = checkpoint(api, "alpha", agent, token, b"\x00\x01state")
    assert saved.status_code == 201 and saved.json()["version"] == 1
    assert checkpoint(api, "alpha", agent, token, b"two").json()["version"] == 2
    found = latest(api, "alpha").json()
    assert base64.b64decode(found["data"]) == b"two" and found["version"] == 2
    listed = api.get(f"{V1}/identities/alpha/checkpoints").json()
    assert [c["version"] for c in listed["items"]] == [2, 1] and "data" not in listed["items"][0]
    stale = api.post(f"{V1}/identities/alpha/checkpoints",
                     {"agent_id": agent, "fencing_token": token, "data": b64(b"x"), "version": 2},
                     content_type="application/json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_checkpoint_version"


def test_checkpoint_bad_inputs_are_422_never_500(api: Client, operator_api: Client) -> None:
    create(operator_api)
    agent = online_agent(api)
    token = acquire(api, "alpha", agent).json()["fencing_token"]
    for body in (
        {"fencing_token": token, "data": "not base64!!"},
        {"fencing_token": 2**70, "data": b64(b"x")},
        {"fencing_token": -1, "data": b64(b"x")},
        {"fencing_token": token},
        {"fencing_token": token, "data": b64(b"x"), "agent_id": "nope"},
    ):
        response = api.post(f"{V1}/identities/alpha/checkpoints", body, content_type="application/json")
        assert response.status_code == 422, (body, response.content)


# -- the stale owner, end to end ---------------------------------------------------------------
def stale_owner_setup(client: Client, start: Any) -> tuple[str, int]:
    with time_machine.travel(start, tick=False):
        create(client)
        agent_a = online_agent(client)
        token_a = acquire(client, "alpha", agent_a, ttl_s=10).json()["fencing_token"]
        assert checkpoint(client, "alpha", agent_a, token_a, b"A1").status_code == 201
    return agent_a, token_a


def assert_late_write_rejected(client: Client, agent_a: str, token_a: int, current: int) -> None:
    late = checkpoint(client, "alpha", agent_a, token_a, b"A-late")
    assert late.status_code == 409, late.content
    body = late.json()
    assert body["code"] == "stale_fencing_token"
    assert (body["presented_token"], body["current_token"]) == (token_a, current)
    rejections = client.get(f"{V1}/identities/alpha/rejections").json()["items"]
    assert rejections[0]["agent_id"] == agent_a and rejections[0]["presented_token"] == token_a
    assert rejections[0]["current_token"] == current and rejections[0]["operation"] == "checkpoint"
    kinds = [e["kind"] for e in client.get(f"{V1}/identities/alpha/events").json()]
    assert kinds[-1] == "identity.stale_write_rejected"


def test_stale_owner_after_the_ttl_is_rejected_and_the_new_owner_is_intact(admin_api: Client) -> None:
    start = timezone.now()
    agent_a, token_a = stale_owner_setup(admin_api, start)
    with time_machine.travel(start + timedelta(seconds=11), tick=False):  # A went silent past the TTL
        agent_b = online_agent(admin_api)
        token_b = acquire(admin_api, "alpha", agent_b).json()["fencing_token"]
        assert token_b > token_a
        assert base64.b64decode(latest(admin_api, "alpha").json()["data"]) == b"A1"  # B resumes from A's
        assert checkpoint(admin_api, "alpha", agent_b, token_b, b"B2").status_code == 201
        assert_late_write_rejected(admin_api, agent_a, token_a, token_b)
        assert admin_api.get(f"{V1}/identities/alpha/rejections").json()["total"] == 1  # recorded once
        found = latest(admin_api, "alpha").json()
    assert base64.b64decode(found["data"]) == b"B2" and found["version"] == 2 and found["fencing_token"] == token_b


def test_stale_owner_after_a_respawn_is_rejected_and_the_new_owner_resumes(admin_api: Client) -> None:
    start = timezone.now()
    agent_a, token_a = stale_owner_setup(admin_api, start)
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        response = admin_api.post(f"{V1}/identities/alpha/respawn", {"reason": "stuck"},
                                  content_type="application/json")
        assert response.status_code == 200, response.content
        fenced = response.json()["fencing_token"]
        assert fenced > token_a and response.json()["status"]["lease"]["state"] == "fenced"
        assert_late_write_rejected(admin_api, agent_a, token_a, fenced)
        agent_b = online_agent(admin_api)
        token_b = acquire(admin_api, "alpha", agent_b).json()["fencing_token"]
        resumed = latest(admin_api, "alpha").json()
        assert base64.b64decode(resumed["data"]) == b"A1" and resumed["version"] == 1
        assert checkpoint(admin_api, "alpha", agent_b, token_b, b"B2").json()["version"] == 2
        assert checkpoint(admin_api, "alpha", agent_a, token_a, b"A-later").status_code == 409
    assert base64.b64decode(latest(admin_api, "alpha").json()["data"]) == b"B2"
    audit = admin_api.get(f"{V1}/identities/alpha/audit").json()["items"]
    assert audit[0]["action"] == "respawned" and audit[0]["reason"] == "stuck"
    assert audit[0]["actor"].startswith("token:")


def test_stale_owner_after_a_reset_is_rejected_and_the_new_owner_starts_from_nothing(admin_api: Client) -> None:
    start = timezone.now()
    agent_a, token_a = stale_owner_setup(admin_api, start)
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        response = admin_api.post(f"{V1}/identities/alpha/reset", content_type="application/json")
        assert response.status_code == 200, response.content
        assert response.json()["generation"] == 1
        assert_late_write_rejected(admin_api, agent_a, token_a, response.json()["fencing_token"])
        agent_b = online_agent(admin_api)
        token_b = acquire(admin_api, "alpha", agent_b).json()["fencing_token"]
        assert latest(admin_api, "alpha").status_code == 204  # nothing to resume from
        saved = checkpoint(admin_api, "alpha", agent_b, token_b, b"B1").json()
        assert (saved["generation"], saved["version"]) == (1, 1)
    archived = admin_api.get(f"{V1}/identities/alpha/checkpoints").json()["items"]
    assert [(c["generation"], c["archived"]) for c in archived] == [(1, False), (0, True)]


# -- recovery scopes ---------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "scope"), [
    ("post", "respawn", "operator"), ("post", "retire", "operator"), ("post", "reset", "admin"),
    ("delete", "", "admin"),
])
def test_recovery_actions_need_their_scope(
    api: Client, operator_api: Client, admin_api: Client, method: str, path: str, scope: str
) -> None:
    create(admin_api)
    url = f"{V1}/identities/alpha/{path}".rstrip("/")
    too_low = api if scope == "operator" else operator_api
    assert getattr(too_low, method)(url, content_type="application/json").status_code == 403
    response = getattr(admin_api, method)(url, content_type="application/json")
    assert response.status_code == 200, response.content


def test_delete_makes_it_uninitialized_and_respawn_then_is_invalid_state(admin_api: Client) -> None:
    create(admin_api)
    deleted = admin_api.delete(f"{V1}/identities/alpha", content_type="application/json").json()
    assert deleted["status"]["state"] == "uninitialized"
    response = admin_api.post(f"{V1}/identities/alpha/respawn", content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"


# -- inspection and waiting --------------------------------------------------------------------
def test_inspect_and_wait_for_output(admin_api: Client) -> None:
    create(admin_api)
    assert admin_api.get(f"{V1}/identities/alpha/output?timeout_s=0").status_code == 204
    appended = admin_api.post(f"{V1}/outputs", {
        "task_id": "t", "attempt": 1, "producer_agent": "alpha",
        "event": {"type": "final", "content": {"kind": "inline", "value": "42 it is"}, "ok": True},
    }, content_type="application/json")
    assert appended.status_code == 201, appended.content
    seen = admin_api.get(f"{V1}/identities/alpha/inspect").json()
    assert seen["is_final"] and "42 it is" in seen["output_preview"]
    waited = admin_api.get(f"{V1}/identities/alpha/output?timeout_s=1&contains=42")
    assert waited.status_code == 200 and waited.json()["output_ref"] == appended.json()["ref"]
    assert admin_api.get(f"{V1}/identities/alpha/output?timeout_s=0.1&contains=nope").status_code == 204


# -- roster ------------------------------------------------------------------------------------
def test_roster_restore_reconcile_and_edges_are_admin_only(operator_api: Client, admin_api: Client) -> None:
    roster = {"identities": [{"identity": "a", "profile": "p"}, {"identity": "b", "profile": "p"}],
              "topology": "full_mesh"}
    assert operator_api.post(f"{V1}/roster/restore", roster, content_type="application/json").status_code == 403
    restored = admin_api.post(f"{V1}/roster/restore", roster, content_type="application/json").json()
    assert [(o["identity"], o["outcome"]) for o in restored["outcomes"]] == [("a", "created"), ("b", "created")]
    assert restored["managed_edges"] == [["a", "b"]]
    assert admin_api.get(f"{V1}/identities/a/peers").json() == {"identity": "a", "peers": ["b"], "reachable_count": 0}
    again = admin_api.post(f"{V1}/roster/restore", roster, content_type="application/json").json()
    assert [o["outcome"] for o in again["outcomes"]] == ["created", "created"]

    desired = {"identities": [{"identity": "a", "profile": "q"}, {"identity": "c", "profile": "p"}]}
    dry = admin_api.post(f"{V1}/roster/reconcile", desired, content_type="application/json").json()
    assert dry["dry_run"] and {(x["action"], x["identity"]) for x in dry["actions"]} == {
        ("activate", "c"), ("retire", "b"), ("respawn", "a"),
    }
    assert admin_api.get(f"{V1}/identities/c").status_code == 404
    applied = admin_api.post(f"{V1}/roster/reconcile", {**desired, "dry_run": False}, content_type="application/json")
    assert applied.status_code == 200
    assert admin_api.get(f"{V1}/identities/b").json()["state"] == "retiring"
    assert admin_api.get(f"{V1}/identities/a/spec").json()["profile"] == "q"

    self_edge = admin_api.put(f"{V1}/roster/edges", {"edges": [["a", "a"]]}, content_type="application/json")
    assert self_edge.status_code == 422 and self_edge.json()["code"] == "self_edge"
    edges = admin_api.put(f"{V1}/roster/edges", {"edges": [["c", "a"]]}, content_type="application/json").json()
    assert edges == {"edges": [["a", "c"]], "added": [["a", "c"]], "removed": [["a", "b"]]}
    dup = {"identities": [{"identity": "x", "profile": "p"}, {"identity": "x", "profile": "p"}]}
    response = admin_api.post(f"{V1}/roster/restore", dup, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "duplicate_identity"


def test_every_identities_route_without_a_token_is_401(client: Client) -> None:
    for method, path in [("get", "/identities"), ("post", "/identities/a/lease"), ("get", "/roster/edges")]:
        response = client.generic(method.upper(), f"{V1}{path}")
        assert response.status_code == 401


def test_stale_writes_through_other_fenced_routes_are_recorded(admin_api: Client) -> None:
    create(admin_api)
    agent = online_agent(admin_api)
    old = acquire(admin_api, "alpha", agent).json()["fencing_token"]
    new = acquire(admin_api, "alpha", agent).json()["fencing_token"]
    output = {"task_id": "t", "attempt": 1, "producer_agent": "alpha", "identity": "alpha",
              "event": {"type": "progress", "stage": "late"}}
    stale = admin_api.post(f"{V1}/outputs", {**output, "fencing_token": old}, content_type="application/json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_fencing_token"
    fresh = admin_api.post(f"{V1}/outputs", {**output, "fencing_token": new}, content_type="application/json")
    assert fresh.status_code == 201
    [rejection] = admin_api.get(f"{V1}/identities/alpha/rejections").json()["items"]
    assert (rejection["operation"], rejection["presented_token"], rejection["current_token"]) == (
        "output.append", old, new,
    )
