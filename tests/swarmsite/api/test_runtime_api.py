"""The runtimes API through the real URL conf, with real tokens and the real database."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from swarmsite import composition as registry
from swarmsite.composition import event_log

pytestmark = pytest.mark.django_db

BASE = "/api/v1/runtimes"
RID = "rt:session:agent-7"
NOW = "2026-01-02T03:04:05.000001+00:00"


def put(client: Client, path: str, body: Any) -> Any:
    return client.put(path, data=json.dumps(body), content_type="application/json")


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def input_state(input_id: str | None = None, state: str = "accepted", **extra: Any) -> dict[str, Any]:
    return {
        "input_id": input_id or str(uuid.uuid4()),
        "current_state": state,
        "created_at": NOW,
        "updated_at": NOW,
        "attempt_count": 0,
        "recovery_count": 0,
        **extra,
    }


def receipt(sequence: int = 0, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id or str(uuid.uuid4()), "boundary": "run_start", "sequence": sequence, **extra}


def apply(client: Client, rid: str = RID, **body: Any) -> Any:
    body.setdefault("receipt", receipt())
    return post(client, f"{BASE}/{rid}/apply", body)


# -- round trips ---------------------------------------------------------------------------------


def test_apply_then_every_load_returns_what_was_committed(api: Client) -> None:
    session_id = str(uuid.uuid4())
    snapshot = {"id": session_id, "messages": [{"role": "user", "text": "héllo"}]}
    inp = input_state(
        state="applied", last_run_id=str(uuid.uuid4()), last_boundary_sequence=2,
        history=[{"timestamp": NOW, "from": "accepted", "to": "applied", "reason": "run start"}],
        policy={"version": 1, "decision": {"apply_mode": "immediate"}}, persisted_input={"text": "hi", "x": None},
    )
    rec = receipt(2, contributing_input_ids=[inp["input_id"]], conversation_digest="ab" * 32, message_count=4)
    response = apply(api, session_snapshot=snapshot, session_store_key=session_id, receipt=rec, input_updates=[inp])
    assert response.status_code == 200, response.json()
    assert response.json() == {"runtime_id": RID, "state": None, "allowed_next": ["initializing"]}
    summary = api.get(f"{BASE}/{RID}").json()
    assert (summary["input_count"], summary["receipt_count"], summary["has_session_snapshot"]) == (1, 1, True)

    assert api.get(f"{BASE}/{RID}/snapshot").json()["session_snapshot"] == snapshot
    loaded = api.get(f"{BASE}/{RID}/receipts/{rec['run_id']}/2").json()
    assert loaded == {**rec, "contributing_input_ids": [inp["input_id"]]}
    listed = api.get(f"{BASE}/{RID}/inputs").json()
    assert listed["total"] == 1
    one = api.get(f"{BASE}/{RID}/inputs/{inp['input_id']}").json()
    assert one == listed["items"][0]
    assert one["history"] == inp["history"] and one["persisted_input"] == {"text": "hi", "x": None}
    assert one["policy"] == inp["policy"] and one["last_boundary_sequence"] == 2
    receipts = api.get(f"{BASE}/{RID}/receipts").json()
    assert receipts["total"] == 1 and receipts["items"][0]["sequence"] == 2


def test_commit_session_snapshot_round_trips_without_receipts(api: Client) -> None:
    response = put(api, f"{BASE}/{RID}/snapshot", {"session_snapshot": {"messages": [], "n": 1.5}})
    assert response.status_code == 200
    assert api.get(f"{BASE}/{RID}").json()["receipt_count"] == 0
    loaded = api.get(f"{BASE}/{RID}/snapshot").json()
    assert loaded["session_snapshot"] == {"messages": [], "n": 1.5}
    assert loaded["size_bytes"] == len(b'{"messages":[],"n":1.5}')


def test_state_walks_the_machine_and_reports_allowed_next_states(api: Client) -> None:
    assert api.get(f"{BASE}/{RID}/state").json() == {"runtime_id": RID, "state": None, "allowed_next": ["initializing"]}
    inp = input_state()
    response = put(api, f"{BASE}/{RID}/state", {"state": "initializing", "input_states": [inp]})
    assert response.status_code == 200
    assert response.json()["allowed_next"] == ["idle", "stopped", "destroyed"]
    assert put(api, f"{BASE}/{RID}/state", {"state": "idle"}).status_code == 200
    state = api.get(f"{BASE}/{RID}/state").json()
    assert state["state"] == "idle"
    assert state["allowed_next"] == ["attached", "running", "retired", "stopped", "destroyed"]
    assert api.get(f"{BASE}/{RID}/inputs/{inp['input_id']}").json()["current_state"] == "accepted"
    kinds = [e.kind for e in event_log().since(0, subject_type="runtime", subject_id=RID)]
    assert kinds == ["runtime.state_changed", "runtime.state_changed"]


def test_illegal_transition_is_409_invalid_transition_and_changes_nothing(api: Client) -> None:
    put(api, f"{BASE}/{RID}/state", {"state": "initializing"})
    inp = input_state()
    response = put(api, f"{BASE}/{RID}/state", {"state": "running", "input_states": [inp]})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["from_state"] == "initializing" and body["allowed"] == ["idle", "stopped", "destroyed"]
    assert api.get(f"{BASE}/{RID}/state").json()["state"] == "initializing"
    assert api.get(f"{BASE}/{RID}/inputs/{inp['input_id']}").status_code == 404


def test_persist_input_state_round_trips_and_keeps_first_insertion_order(api: Client) -> None:
    ids = [str(uuid.UUID(int=n)) for n in (3, 1, 2)]
    for input_id in ids:
        assert put(api, f"{BASE}/{RID}/inputs/{input_id}", input_state(input_id)).status_code == 200
    updated = input_state(ids[0], "consumed", terminal_outcome={"outcome_type": "consumed"})
    assert put(api, f"{BASE}/{RID}/inputs/{ids[0]}", updated).json()["current_state"] == "consumed"
    listed = api.get(f"{BASE}/{RID}/inputs").json()["items"]
    assert [i["input_id"] for i in listed] == ids
    assert listed[0]["terminal_outcome"] == {"outcome_type": "consumed"}
    assert api.get(f"{BASE}/{RID}/inputs?offset=1&limit=1").json()["items"][0]["input_id"] == ids[1]


def test_ops_lifecycle_round_trips(api: Client) -> None:
    assert api.get(f"{BASE}/{RID}/ops").json() == {"runtime_id": RID, "snapshot": None}
    ops = {"epoch_id": str(uuid.uuid4()), "operation_specs": {}, "completion_entries": [], "cursors": {"c": 3}}
    assert put(api, f"{BASE}/{RID}/ops", {"snapshot": ops}).status_code == 200
    assert api.get(f"{BASE}/{RID}/ops").json()["snapshot"] == ops


def test_runtimes_list_filters_by_state_and_get_unknown_is_404(api: Client) -> None:
    put(api, f"{BASE}/rt:a/state", {"state": "initializing"})
    put(api, f"{BASE}/rt:b/ops", {"snapshot": {}})
    assert api.get(BASE).json()["total"] == 2
    only = api.get(f"{BASE}?state=initializing").json()
    assert [r["runtime_id"] for r in only["items"]] == ["rt:a"]
    assert api.get(f"{BASE}/rt:a").json()["state"] == "initializing"
    missing = api.get(f"{BASE}/rt:nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert api.get(f"{BASE}/rt:a/receipts/{uuid.uuid4()}/0").status_code == 404
    assert api.get(f"{BASE}/rt:a/inputs/{uuid.uuid4()}").status_code == 404


# -- the must-shows ------------------------------------------------------------------------------


def test_duplicate_receipt_is_409_write_failed_and_leaves_snapshot_and_inputs_unchanged(api: Client) -> None:
    first = input_state()
    rec = receipt(5)
    assert apply(api, session_snapshot={"v": "old"}, receipt=rec, input_updates=[first]).status_code == 200
    inputs_before = api.get(f"{BASE}/{RID}/inputs").json()
    response = apply(
        api, session_snapshot={"v": "new"}, receipt=rec,
        input_updates=[input_state(first["input_id"], "queued"), input_state()],
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "write_failed"
    assert (body["run_id"], body["sequence"]) == (rec["run_id"], 5)
    assert api.get(f"{BASE}/{RID}/snapshot").json()["session_snapshot"] == {"v": "old"}
    assert api.get(f"{BASE}/{RID}/inputs").json() == inputs_before


@pytest.mark.parametrize("snapshot", [[1, 2], "text", 5, True, {"id": "not-a-uuid"}, {"id": 12}])
def test_bad_snapshot_is_422_and_writes_nothing(api: Client, snapshot: Any) -> None:
    response = apply(api, session_snapshot=snapshot, input_updates=[input_state()])
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_snapshot"
    assert put(api, f"{BASE}/{RID}/snapshot", {"session_snapshot": snapshot}).status_code == 422
    assert api.get(f"{BASE}/{RID}").status_code == 404


def test_session_key_mismatch_is_422_and_writes_nothing(api: Client) -> None:
    key, other = str(uuid.uuid4()), str(uuid.uuid4())
    response = apply(api, session_snapshot={"id": other}, session_store_key=key)
    assert response.status_code == 422
    assert response.json() | {"detail": ""} == {
        "detail": "", "code": "session_key_mismatch", "runtime_id": RID, "expected": key, "actual": other,
    }
    assert api.get(f"{BASE}/{RID}/snapshot").json()["session_snapshot"] is None


# -- fencing -------------------------------------------------------------------------------------


def test_an_identity_needs_its_token_and_a_token_on_an_unowned_runtime_needs_its_identity(api: Client) -> None:
    response = apply(api, identity="planner")
    assert response.status_code == 422
    assert "identity needs its fencing_token" in response.json()["detail"]
    response = apply(api, fencing_token=3)
    assert response.status_code == 422
    assert "no identity owns runtime" in response.json()["detail"]


def test_fenced_apply_with_a_stale_token_is_409_and_writes_nothing(api: Client) -> None:
    leases = registry.lease_provider()
    old = leases.acquire("planner", uuid.uuid4(), 30_000).grant
    assert old is not None
    ok = apply(api, identity="planner", fencing_token=old.fencing_token, session_snapshot={"v": 1})
    assert ok.status_code == 200
    new = leases.acquire("planner", old.holder, 30_000).grant
    assert new is not None
    stale = apply(api, identity="planner", fencing_token=old.fencing_token, session_snapshot={"v": 2})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_fencing_token"
    assert put(api, f"{BASE}/{RID}/state", {"state": "initializing", "identity": "planner",
                                            "fencing_token": old.fencing_token}).status_code == 409
    assert put(api, f"{BASE}/{RID}/snapshot", {"session_snapshot": {"v": 3}, "identity": "planner",
                                               "fencing_token": old.fencing_token}).status_code == 409
    assert api.get(f"{BASE}/{RID}/snapshot").json()["session_snapshot"] == {"v": 1}
    assert api.get(f"{BASE}/{RID}").json()["receipt_count"] == 1
    assert api.get(f"{BASE}/{RID}/state").json()["state"] is None


def test_fenced_commits_are_checked_against_the_identity_lease_table(api: Client) -> None:
    """The default wiring: registry.fence_guard() is the identity runtime's lease table."""
    leases = registry.lease_provider()
    first = leases.acquire("planner-7", uuid.uuid4(), 30_000).grant
    assert first is not None
    fenced = {"identity": "planner-7", "fencing_token": first.fencing_token}
    assert put(api, f"{BASE}/{RID}/state", {"state": "initializing", **fenced}).status_code == 200
    leases.fence("planner-7")  # a recovery action mints a new token and ends the lease
    stale = apply(api, session_snapshot={"late": True}, **fenced)
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_fencing_token"
    assert api.get(f"{BASE}/{RID}/snapshot").json()["session_snapshot"] is None
    assert api.get(f"{BASE}/{RID}").json()["receipt_count"] == 0


# -- the OAuth-flow snapshot ---------------------------------------------------------------------


def test_oauth_flow_needs_an_admin_token(api: Client, operator_api: Client) -> None:
    for client in (api, operator_api):
        assert client.get(f"{BASE}/-/oauth-flow").status_code == 403
        response = put(client, f"{BASE}/-/oauth-flow", {"snapshot": {}})
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
        assert post(client, f"{BASE}/-/oauth-flow/update", {"expected_sha256": None, "snapshot": {}}).status_code == 403


def test_oauth_flow_round_trips_and_updates_by_compare_and_swap(admin_api: Client) -> None:
    empty = admin_api.get(f"{BASE}/-/oauth-flow").json()
    assert (empty["snapshot"], empty["sha256"]) == (None, None)
    assert empty["authority_key"]
    created = post(admin_api, f"{BASE}/-/oauth-flow/update", {"expected_sha256": None, "snapshot": {"flows": [1]}})
    assert created.status_code == 200
    digest = created.json()["sha256"]
    assert digest == hashlib.sha256(b'{"flows":[1]}').hexdigest()
    lost = post(admin_api, f"{BASE}/-/oauth-flow/update", {"expected_sha256": None, "snapshot": {"flows": []}})
    assert lost.status_code == 409
    assert lost.json()["code"] == "oauth_flow_changed" and lost.json()["current_sha256"] == digest
    won = post(admin_api, f"{BASE}/-/oauth-flow/update", {"expected_sha256": digest, "snapshot": {"flows": [1, 2]}})
    assert won.json()["snapshot"] == {"flows": [1, 2]}
    assert put(admin_api, f"{BASE}/-/oauth-flow", {"snapshot": {"reset": True}}).status_code == 200
    assert admin_api.get(f"{BASE}/-/oauth-flow").json()["snapshot"] == {"reset": True}


def test_a_runtime_named_dash_is_still_an_ordinary_runtime(api: Client) -> None:
    assert put(api, f"{BASE}/-/state", {"state": "initializing"}).status_code == 200
    assert api.get(f"{BASE}/-").json()["state"] == "initializing"


# -- bad input never 500s ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rid",
    ["x" * 201, "has%20space", "tab%09id", "nul%00id", "%E2%80%83em-space", "new%0Aline"],
)
def test_bad_runtime_id_is_422(api: Client, rid: str) -> None:
    for response in (api.get(f"{BASE}/{rid}/state"), put(api, f"{BASE}/{rid}/state", {"state": "initializing"})):
        assert response.status_code == 422, (rid, response.content)
        assert response.json()["code"] == "invalid_input"


def test_runtime_id_of_200_chars_is_fine(api: Client) -> None:
    rid = "r" * 200
    assert put(api, f"{BASE}/{rid}/state", {"state": "initializing"}).status_code == 200
    assert api.get(BASE).json()["items"][0]["runtime_id"] == rid


BAD_APPLY_BODIES: list[Any] = [
    [],
    {"receipt": None},
    {"receipt": receipt(-1)},
    {"receipt": receipt(2**63)},
    {"receipt": receipt(run_id="not-a-uuid")},
    {"receipt": {**receipt(), "boundary": "sometime"}},
    {"receipt": receipt(conversation_digest="a\x00b")},
    {"receipt": receipt(conversation_digest="x" * 129)},
    {"receipt": receipt(message_count=-3)},
    {"receipt": receipt(), "session_snapshot": {"text": "nul\x00"}},
    {"receipt": receipt(), "session_snapshot": {"k\x00": 1}},
    {"receipt": receipt(), "session_store_key": "nope"},
    {"receipt": receipt(), "input_updates": [input_state(state="dreaming")]},
    {"receipt": receipt(), "input_updates": [input_state(created_at="2026-01-01T00:00:00")]},
    {"receipt": receipt(), "input_updates": [input_state(attempt_count=-1)]},
    {"receipt": receipt(), "input_updates": [input_state(idempotency_key="k\x00")]},
    {"receipt": receipt(), "input_updates": [input_state(persisted_input={"t": "\x00"})]},
    {"receipt": receipt(), "input_updates": [input_state(terminal_outcome={"outcome_type": "vanished"})]},
    {"receipt": receipt(), "input_updates": [input_state(terminal_outcome={"outcome_type": "abandoned", "r": "\x00"})]},
    {"receipt": receipt(), "input_updates": [input_state(history=[{"timestamp": NOW, "from": "x", "to": "y"}])]},
    {"receipt": receipt(), "input_updates": [input_state(last_boundary_sequence=2**64)]},
    {"receipt": receipt(), "input_updates": [input_state() for _ in range(1001)]},
    {"receipt": receipt(), "identity": "has space", "fencing_token": 1},
    {"receipt": receipt(), "identity": "planner", "fencing_token": -1},
]


@pytest.mark.parametrize("body", BAD_APPLY_BODIES)
def test_bad_apply_body_is_422_never_500(api: Client, body: Any) -> None:
    response = post(api, f"{BASE}/{RID}/apply", body)
    assert response.status_code == 422, response.content
    assert api.get(f"{BASE}/{RID}").status_code == 404


def test_nan_and_deep_json_in_snapshots_are_422(api: Client) -> None:
    nan = '{"receipt": ' + json.dumps(receipt()) + ', "session_snapshot": {"x": NaN}}'
    assert api.post(f"{BASE}/{RID}/apply", data=nan, content_type="application/json").status_code == 422
    deep: Any = {}
    for _ in range(80):
        deep = {"d": deep}
    assert put(api, f"{BASE}/{RID}/snapshot", {"session_snapshot": deep}).status_code == 422
    assert put(api, f"{BASE}/{RID}/ops", {"snapshot": {"x": "\x00"}}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/state", {"state": "exploded"}),
        ("put", "/state", {"state": "idle", "input_states": "all"}),
        ("put", "/snapshot", {}),
        ("put", "/ops", {"snapshot": [1]}),
        ("put", "/inputs/not-a-uuid", input_state()),
        ("put", f"/inputs/{uuid.UUID(int=1)}", input_state(str(uuid.UUID(int=2)))),
        ("get", "/receipts/not-a-uuid/1", None),
        ("get", f"/receipts/{uuid.UUID(int=1)}/-1", None),
        ("get", f"/receipts/{uuid.UUID(int=1)}/99999999999999999999999", None),
        ("get", "/inputs?limit=0", None),
        ("get", "/receipts?offset=-1", None),
    ],
)
def test_bad_input_on_other_routes_is_4xx_never_500(api: Client, method: str, path: str, body: Any) -> None:
    url = f"{BASE}/{RID}{path}"
    response = api.get(url) if method == "get" else put(api, url, body)
    assert response.status_code in (400, 404, 422), response.content


def test_malformed_json_is_400(api: Client) -> None:
    response = api.post(f"{BASE}/{RID}/apply", data="{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["", "/rt:a", "/rt:a/state", "/rt:a/inputs", "/rt:a/receipts", "/-/oauth-flow"])
def test_runtime_routes_need_a_token(client: Client, path: str) -> None:
    assert client.get(f"{BASE}{path}").status_code == 401
