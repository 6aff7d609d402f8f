"""The outputs API through the real URL conf, with real tokens and the real database."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from stores.models import EventRecord, Output
from swarmsite import composition as registry
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/outputs"
FINAL = {"type": "final", "ok": True, "content": {"kind": "inline", "value": {"verdict": "pass"}}}


def body(**overrides: Any) -> dict[str, Any]:
    return {"task_id": "task-1", "attempt": 1, "producer_agent": "planner", "event": FINAL, **overrides}


def post(api: Client, payload: Any, **headers: str) -> Any:
    return api.post(URL, payload, content_type="application/json", headers=headers)


def append(api: Client, **overrides: Any) -> dict[str, Any]:
    response = post(api, body(**overrides))
    assert response.status_code == 201, response.content
    return response.json()


def progress(stage: str) -> dict[str, Any]:
    return {"type": "progress", "stage": stage}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", URL),
        ("get", URL),
        ("get", f"{URL}/latest?producer=p"),
        ("get", f"{URL}/wait?producer=p&timeout=0"),
        ("get", f"{URL}/for-attempt?task_id=t&attempt=1"),
        ("get", f"{URL}/out-0123456789"),
        ("get", f"{URL}/out-0123456789/children"),
    ],
)
def test_every_outputs_route_without_a_token_is_401(client: Client, method: str, path: str) -> None:
    response = client.generic(method.upper(), path)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


# Round trips of every method.


def test_append_then_get_round_trips_the_record(api: Client) -> None:
    created = append(api)
    assert created["ref"].startswith("out-") and len(created["ref"]) == 14
    assert created["kind"] == "final"
    assert created["event"] == FINAL
    assert created["preview"] == 'ok: {"verdict": "pass"}'
    assert (created["identity"], created["fencing_token"], created["parent_refs"]) == (None, None, [])
    fetched = api.get(f"{URL}/{created['ref']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


@pytest.mark.parametrize(
    "event",
    [
        {"type": "progress", "stage": "planning", "note": None},
        {"type": "progress", "stage": "coding", "note": "half way"},
        {"type": "partial", "chunk": {"kind": "inline", "value": "some text"}},
        {"type": "artifact", "name": "report.md",
         "content": {"kind": "file_ref", "path": "s3://b/report.md", "mime": "text/markdown", "size_hint": 2048}},
        {"type": "final", "ok": False, "content": {"kind": "inline", "value": [1, 2.5, None, {"a": "b"}]}},
    ],
)
def test_every_event_variant_round_trips_through_the_api(api: Client, event: dict[str, Any]) -> None:
    created = append(api, event=event)
    stored = api.get(f"{URL}/{created['ref']}").json()["event"]
    expected = dict(event)
    if event["type"] == "progress":
        expected.setdefault("note", None)
    assert stored == expected


def test_get_of_unknown_ref_is_404_and_a_malformed_ref_is_422(api: Client) -> None:
    missing = api.get(f"{URL}/out-0000000000")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert api.get(f"{URL}/not-a-ref").status_code == 422


def test_latest_by_producer_across_tasks_and_within_a_run(api: Client) -> None:
    append(api, task_id="t1", attempt=1, producer_agent="coder", event=progress("t1a1"))
    in_run = append(api, task_id="t1", attempt=1, producer_agent="coder", event=progress("t1a1 newer"))
    newest = append(api, task_id="t2", attempt=1, producer_agent="coder", event=progress("t2a1"))
    assert api.get(f"{URL}/latest?producer=coder").json()["ref"] == newest["ref"]
    assert api.get(f"{URL}/latest?producer=coder&task_id=t1&attempt=1").json()["ref"] == in_run["ref"]
    unknown = api.get(f"{URL}/latest?producer=coder&task_id=t1&attempt=9")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert api.get(f"{URL}/latest?producer=nobody").status_code == 404
    assert api.get(f"{URL}/latest?producer=coder&task_id=t1").status_code == 422


def test_for_attempt_lists_in_insertion_order(api: Client) -> None:
    a = append(api, producer_agent="a", event=progress("1"))
    append(api, attempt=2, event=progress("other attempt"))
    b = append(api, producer_agent="b", event=progress("2"))
    listed = api.get(f"{URL}/for-attempt?task_id=task-1&attempt=1").json()
    assert [o["ref"] for o in listed] == [a["ref"], b["ref"]]
    assert api.get(f"{URL}/for-attempt?task_id=nope&attempt=1").json() == []


def test_list_filters_by_task_attempt_producer_and_kind_and_paginates(api: Client) -> None:
    a = append(api, task_id="t1", producer_agent="p", event=progress("a"))
    b = append(api, task_id="t1", producer_agent="q")
    c = append(api, task_id="t2", attempt=2, producer_agent="p")

    def refs(query: str) -> list[str]:
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200
        return [o["ref"] for o in response.json()["items"]]

    assert refs("") == [c["ref"], b["ref"], a["ref"]]
    assert refs("task_id=t1") == [b["ref"], a["ref"]]
    assert refs("attempt=2") == [c["ref"]]
    assert refs("producer=p") == [c["ref"], a["ref"]]
    assert refs("kind=progress") == [a["ref"]]
    assert refs("task_id=t1&producer=q&kind=final") == [b["ref"]]
    page = api.get(f"{URL}?limit=1&offset=1").json()
    assert (page["total"], page["offset"], page["limit"]) == (3, 1, 1)
    assert [o["ref"] for o in page["items"]] == [b["ref"]]


def test_children_lists_outputs_naming_the_parent(api: Client) -> None:
    root = append(api, event=progress("root"))
    child = append(api, attempt=2, parent_refs=[root["ref"]])
    assert child["parent_refs"] == [root["ref"]]
    page = api.get(f"{URL}/{root['ref']}/children").json()
    assert [o["ref"] for o in page["items"]] == [child["ref"]] and page["total"] == 1
    assert api.get(f"{URL}/{child['ref']}/children").json()["total"] == 0
    assert api.get(f"{URL}/out-0000000000/children").status_code == 404


# Lineage never dangles.


def test_append_naming_an_unknown_parent_is_404_unknown_parent_and_writes_nothing(api: Client) -> None:
    root = append(api, event=progress("root"))
    events_before = EventRecord.objects.count()
    response = post(api, body(parent_refs=[root["ref"], "out-0000000000"]))
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_parent"
    assert response.json()["unknown_refs"] == ["out-0000000000"]
    assert list(Output.objects.values_list("ref", flat=True)) == [root["ref"]]
    assert EventRecord.objects.count() == events_before


# Idempotent retries.


def test_retried_append_with_the_same_idempotency_key_returns_the_same_ref(api: Client) -> None:
    first = post(api, body(), **{"Idempotency-Key": "emit-42"})
    again = post(api, body(), **{"Idempotency-Key": "emit-42"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Output.objects.count() == 1
    other = post(api, body(event=progress("different")), **{"Idempotency-Key": "emit-42"})
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["ref"] == first.json()["ref"]
    assert Output.objects.count() == 1


# Fencing.


def test_fenced_append_with_the_current_token_is_recorded(api: Client) -> None:
    grant = registry.lease_provider().acquire("writer-1", uuid.uuid4(), 30_000).grant
    assert grant is not None
    created = append(api, producer_agent="writer-1", identity="writer-1", fencing_token=grant.fencing_token)
    assert (created["identity"], created["fencing_token"]) == ("writer-1", grant.fencing_token)


def test_fenced_append_with_a_stale_token_is_409_and_writes_nothing(api: Client) -> None:
    leases = registry.lease_provider()
    old = leases.acquire("writer-1", uuid.uuid4(), 30_000).grant
    assert old is not None
    new = leases.acquire("writer-1", old.holder, 30_000).grant
    assert new is not None
    response = post(api, body(producer_agent="writer-1", identity="writer-1", fencing_token=old.fencing_token))
    assert response.status_code == 409
    assert response.json()["code"] == "stale_fencing_token"
    assert (response.json()["presented_token"], response.json()["current_token"]) == (old.fencing_token,
                                                                                        new.fencing_token)
    assert Output.objects.count() == 0


def test_fenced_append_is_checked_against_the_identity_runtimes_lease(api: Client) -> None:
    """The configured guard (no stand-in): a re-acquired lease fences the older token."""
    leases = registry.lease_provider()
    first = leases.acquire("writer-2", uuid.uuid4(), 30_000).grant
    assert first is not None
    append(api, producer_agent="writer-2", identity="writer-2", fencing_token=first.fencing_token)
    second = leases.acquire("writer-2", first.holder, 30_000).grant
    assert second is not None and second.fencing_token > first.fencing_token
    stale = post(api, body(producer_agent="writer-2", identity="writer-2", fencing_token=first.fencing_token))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_fencing_token"
    assert Output.objects.filter(fencing_token=first.fencing_token).count() == 1


def test_identity_without_a_token_is_422(api: Client) -> None:
    response = post(api, body(identity="writer-1"))
    assert response.status_code == 422
    assert "identity needs its fencing_token" in response.json()["detail"]


# The long-poll.


def test_wait_returns_the_next_output_at_once_when_there_is_one(api: Client) -> None:
    seen = append(api, event=progress("seen"))
    nxt = append(api, event=progress("next"))
    response = api.get(f"{URL}/wait?producer=planner&after={seen['ref']}&timeout=10")
    assert response.json() == {"output": nxt, "timed_out": False}


def test_wait_times_out_and_is_capped_by_the_server(api: Client, settings: Any) -> None:
    settings.SWARM_OUTPUT_WAIT_MAX_S = 0.2
    started = time.monotonic()
    response = api.get(f"{URL}/wait?producer=planner&timeout=600")
    assert response.status_code == 200
    assert response.json() == {"output": None, "timed_out": True}
    assert time.monotonic() - started < 5


def test_wait_after_an_unknown_ref_is_404(api: Client) -> None:
    assert api.get(f"{URL}/wait?producer=p&after=out-0000000000&timeout=0").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_wait_wakes_when_the_producer_appends_in_the_same_process(settings: Any) -> None:
    settings.SWARM_OUTPUT_POLL_S = 30.0  # a fast answer can only come from the append's wake-up
    waiter, writer = token_client(), token_client()
    seen = append(writer, event=progress("seen"))

    def append_soon() -> None:
        time.sleep(0.3)
        append(writer, event=progress("the one we wait for"))
        connection.close()

    thread = threading.Thread(target=append_soon)
    started = time.monotonic()
    thread.start()
    response = waiter.get(f"{URL}/wait?producer=planner&after={seen['ref']}&timeout=20")
    thread.join()
    assert response.json()["output"]["event"]["stage"] == "the one we wait for"
    assert time.monotonic() - started < 5


# No 500 for any bad input.

LONG = "x" * 201


@pytest.mark.parametrize(
    "payload",
    [
        body(task_id=""),
        body(task_id=LONG),
        body(task_id="nul\x00"),
        body(producer_agent="p\x00"),
        body(attempt=-1),
        body(attempt=2**32),
        body(attempt="one"),
        body(event={"type": "bogus"}),
        body(event={"stage": "no type"}),
        body(event={"type": "progress"}),
        body(event={"type": "progress", "stage": "x" * 201}),
        body(event={"type": "progress", "stage": "ok", "note": "n" * 4001}),
        body(event={"type": "final", "ok": "maybe", "content": {"kind": "inline", "value": 1}}),
        body(event={"type": "final", "ok": True}),
        body(event={"type": "final", "ok": True, "content": {"kind": "blob"}}),
        body(event={"type": "final", "ok": True, "content": {"kind": "inline", "value": "a\x00b"}}),
        body(event={"type": "final", "ok": True, "content": {"kind": "inline", "value": {"k\x00": 1}}}),
        body(event={"type": "partial", "chunk": {"kind": "file_ref"}}),
        body(event={"type": "partial", "chunk": {"kind": "file_ref", "path": ""}}),
        body(event={"type": "partial", "chunk": {"kind": "file_ref", "path": "p", "size_hint": -1}}),
        body(event={"type": "partial", "chunk": {"kind": "file_ref", "path": "p", "size_hint": 2**63}}),
        body(event={"type": "partial", "chunk": {"kind": "file_ref", "path": "p", "mime": "m\x00"}}),
        body(event={"type": "artifact", "name": "", "content": {"kind": "inline", "value": 1}}),
        body(event="final"),
        body(parent_refs="out-0000000000"),
        body(parent_refs=["not-a-ref"]),
        body(parent_refs=["OUT-0000000000"]),
        body(parent_refs=[f"out-{i:010x}" for i in range(101)]),
        body(parent_refs=["out-0000000000", "out-0000000000"]),
        body(identity="has space", fencing_token=1),
        body(identity="a/b", fencing_token=1),
        body(identity="w", fencing_token=-1),
        body(identity="w", fencing_token=2**63),
        body(fencing_token=3),
        [body()],
        '"a JSON string, not an object"',
    ],
)
def test_bad_append_input_is_422_never_500(api: Client, payload: Any) -> None:
    response = post(api, payload)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_input"
    assert Output.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"task_id": "t", "attempt": 1, "producer_agent": "p", "event": '
        '{"type": "final", "ok": true, "content": {"kind": "inline", "value": NaN}}}',
        '{"task_id": "t", "attempt": 1, "producer_agent": "p", "event": '
        '{"type": "final", "ok": true, "content": {"kind": "inline", "value": ' + "[" * 200 + "]" * 200 + "}}}",
        '{"task_id": "t", "attempt": 1, "producer_agent": "p", "event": '
        '{"type": "final", "ok": true, "content": {"kind": "inline", "value": 1e999}}}',
    ],
)
def test_unstorable_json_values_are_422_never_500(api: Client, raw: str) -> None:
    response = post(api, raw)
    assert response.status_code == 422, response.content
    assert Output.objects.count() == 0


def test_malformed_json_is_400_and_an_oversized_idempotency_key_is_422(api: Client) -> None:
    assert post(api, "{not json").status_code == 400
    assert post(api, body(), **{"Idempotency-Key": LONG}).status_code == 422
    assert Output.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        f"{URL}?attempt=abc",
        f"{URL}?attempt=-1",
        f"{URL}?limit=0",
        f"{URL}?limit=100000",
        f"{URL}?offset=-5",
        f"{URL}?kind=bogus",
        f"{URL}?task_id={LONG}",
        f"{URL}?producer=a%00b",
        f"{URL}/latest",
        f"{URL}/latest?producer=",
        f"{URL}/latest?producer=p&attempt=1",
        f"{URL}/wait",
        f"{URL}/wait?producer=p&timeout=-1",
        f"{URL}/wait?producer=p&timeout=nan",
        f"{URL}/wait?producer=p&timeout=inf",
        f"{URL}/wait?producer=p&after=nope",
        f"{URL}/for-attempt?task_id=t",
        f"{URL}/for-attempt?task_id=t&attempt=99999999999",
        f"{URL}/OUT-0000000000",
        f"{URL}/out-0000000000/children?limit=0",
    ],
)
def test_bad_query_input_is_422_never_500(api: Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 422, response.content


def test_openapi_documents_the_outputs_routes_and_their_errors(api: Client) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    post_op = spec["paths"]["/api/v1/outputs"]["post"]
    assert {"201", "404", "409", "422"} <= set(post_op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post_op["parameters"])
    assert "/api/v1/outputs/wait" in spec["paths"]


def _mutations(value: Any, rng: random.Random) -> Any:
    """A hostile stand-in for one value of a valid body."""
    weird: list[Any] = [None, True, -1, 2**64, 1.5, "", "x" * 5000, "nul\x00", "ünï©ødé ✓", [], {}, [[[]]],
                        {"kind": "inline"}, {"type": "final"}, "out-0000000000", "../../etc/passwd", 10**30]
    return rng.choice(weird) if rng.random() < 0.8 else [value, value]


def _mutate(doc: Any, rng: random.Random) -> Any:
    if isinstance(doc, dict) and doc:
        key = rng.choice(list(doc))
        out = dict(doc)
        out[key] = _mutate(doc[key], rng) if rng.random() < 0.5 else _mutations(doc[key], rng)
        if rng.random() < 0.1:
            del out[key]
        return out
    if isinstance(doc, list) and doc:
        i = rng.randrange(len(doc))
        return [*doc[:i], _mutate(doc[i], rng), *doc[i + 1:]]
    return _mutations(doc, rng)


def test_randomly_mangled_appends_never_answer_500(api: Client) -> None:
    parent = append(api, event=progress("parent"))["ref"]
    valid = [
        body(parent_refs=[parent]),
        body(event={"type": "artifact", "name": "a", "content": {"kind": "file_ref", "path": "p", "mime": "m",
                                                                  "size_hint": 1}}),
        body(event={"type": "partial", "chunk": {"kind": "inline", "value": {"a": [1, "b"]}}}),
        body(event={"type": "progress", "stage": "s", "note": "n"}, identity="w", fencing_token=1),
    ]
    rng = random.Random(20261124)
    statuses = set()
    for _ in range(300):
        response = post(api, _mutate(rng.choice(valid), rng))
        assert response.status_code < 500, response.content
        statuses.add(response.status_code)
    assert {201, 422} <= statuses, statuses
