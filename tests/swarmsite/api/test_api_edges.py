"""Bad input never gets a 5xx or a non-JSON answer: one regression test for each case found from outside
(hand-made bad input, schemathesis, a generated client), on the configured database (SQLite, and
PostgreSQL on CI's second pass, where most of them used to fail)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from tests.conftest import user_with_role
from tests.swarmclient.live import served

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
SURROGATE = '"\\ud800"'  # a lone surrogate, as JSON text: valid JSON, not Unicode


def with_surrogate(template: str) -> str:
    return template.replace("@", SURROGATE)


def post_raw(client: Client, path: str, text: str) -> Any:
    return client.post(path, data=text, content_type="application/json")


def create(client: Client, name: str) -> None:
    response = client.post(f"{V1}/identities", {"identity": name, "profile": "worker"}, content_type="application/json")
    assert response.status_code == 201, response.content


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["detail"]
    return dict(body)


def test_a_retire_reason_as_long_as_the_schema_allows_is_kept(operator_api: Client) -> None:
    create(operator_api, "alpha")
    reason = "r" * 1000
    response = operator_api.post(f"{V1}/identities/alpha/retire", {"reason": reason}, content_type="application/json")
    assert response.status_code == 200, response.content
    audit = operator_api.get(f"{V1}/identities/alpha/audit").json()["items"][0]
    assert audit["action"] == "retired" and audit["reason"] == reason


@pytest.mark.parametrize("where", ["register metadata", "queue payload", "send content", "object key"])
def test_a_lone_surrogate_anywhere_in_a_body_is_422_and_nothing_is_stored(
    where: str, api: Client, operator_api: Client
) -> None:
    create(operator_api, "alpha")
    agent = str(uuid.uuid4())
    path, text = {
        "register metadata": (f"{V1}/agents/{agent}/register", with_surrogate('{"metadata": {"note": @}}')),
        "queue payload": (f"{V1}/sessions/s-1/queue",
                          with_surrogate('{"payloads": [{"type": "turn_input", "input": @}]}')),
        "send content": (f"{V1}/identities/alpha/send", with_surrogate('{"content": {"text": @}}')),
        "object key": (f"{V1}/agents/{agent}/register", with_surrogate('{"metadata": {@: 1}}')),
    }[where]
    body = assert_error(post_raw(api, path, text), 422, "invalid_input")
    assert "surrogate" in body["detail"]
    assert "SELECT" not in body["detail"] and "INSERT" not in body["detail"]
    assert api.get(f"{V1}/agents/{agent}").status_code == 404
    assert api.get(f"{V1}/sessions/s-1/queue").json()["total"] == 0


def test_a_nul_anywhere_in_a_body_is_422(api: Client) -> None:
    agent = str(uuid.uuid4())
    assert_error(post_raw(api, f"{V1}/agents/{agent}/register", '{"name": "a\\u0000b"}'), 422, "invalid_input")


def test_pages_that_list_stored_text_keep_answering(viewer_client: Client, api: Client) -> None:
    """The surrogate never reaches the database, so every reader keeps working."""
    post_raw(api, f"{V1}/outputs", with_surrogate('{"task_id": "t", "attempt": 0, "producer_agent": "p", '
                                                  '"event": {"type": "progress", "stage": @}}'))
    for path in ("/outputs/", "/sessions/"):
        assert viewer_client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/runtimes/a%00b/", "/outputs/%00/", "/sessions/a%00/", "/identities/%00/"])
def test_dashboard_urls_with_a_nul_are_404(viewer_client: Client, path: str) -> None:
    assert viewer_client.get(path).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999", "-5", "abc", "1e9"])
def test_absurd_page_numbers_show_a_page(viewer_client: Client, page: str) -> None:
    for path in ("/audit/", "/roster/", "/agents/", "/outputs/", "/sessions/", "/runtimes/"):
        assert viewer_client.get(f"{path}?page={page}").status_code == 200, (path, page)


def test_a_checkpoint_version_past_the_limit_is_422_and_the_next_checkpoint_works(
    api: Client, operator_api: Client
) -> None:
    create(operator_api, "alpha")
    agent = str(uuid.uuid4())
    api.post(f"{V1}/agents/{agent}/register", content_type="application/json")
    token = api.post(f"{V1}/identities/alpha/lease", {"agent_id": agent}, content_type="application/json").json()
    body = {"fencing_token": token["fencing_token"], "data": "e30=", "version": 2**63 - 1}
    path = f"{V1}/identities/alpha/checkpoints"
    assert_error(api.post(path, body, content_type="application/json"), 422, "invalid_input")
    body["version"] = 2**53 - 1
    assert api.post(path, body, content_type="application/json").status_code == 201
    del body["version"]
    following = api.post(path, body, content_type="application/json")
    assert following.status_code == 201 and following.json()["version"] == 2**53


@pytest.mark.parametrize("path", [f"{V1}/nothing-here", f"{V1}/identities/a/b/c", "/api/v2/agents"])
def test_unknown_api_paths_answer_json_404(api: Client, path: str) -> None:
    assert_error(api.get(path), 404, "not_found")


def test_a_method_a_route_does_not_take_answers_json_405(api: Client) -> None:
    body = assert_error(api.put(f"{V1}/health"), 405, "method_not_allowed")
    assert "GET" in body["detail"]


@pytest.mark.parametrize("text", ["[null, null]", '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_is_422(api: Client, text: str) -> None:
    agent = str(uuid.uuid4())
    assert_error(post_raw(api, f"{V1}/agents/{agent}/register", text), 422, "invalid_input")
    assert_error(post_raw(api, f"{V1}/sessions/s-1/queue", text), 422, "invalid_input")


def test_numbers_and_booleans_in_a_body_are_not_coerced(api: Client, admin_api: Client) -> None:
    queued = post_raw(api, f"{V1}/sessions/s-1/queue",
                      '{"payloads": [{"type": "turn_input", "input": 1}], "available_at_ms": false}')
    assert_error(queued, 422, "invalid_input")
    reconcile = admin_api.post(f"{V1}/roster/reconcile", {"roster": {"identities": []}, "dry_run": 0},
                               content_type="application/json")
    assert_error(reconcile, 422, "invalid_input")


def test_validation_errors_name_the_field_as_body_dot_field(api: Client) -> None:
    response = api.post(f"{V1}/outputs", {"task_id": 1}, content_type="application/json")
    body = assert_error(response, 422, "invalid_input")
    assert ["body", "task_id"] in [e["loc"] for e in body["errors"]]
    assert "body.body" not in body["detail"]


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_names_are_not_identities(operator_api: Client, name: str) -> None:
    response = operator_api.post(f"{V1}/identities", {"identity": name, "profile": "p"},
                                 content_type="application/json")
    assert response.status_code == 422


def test_the_api_docs_are_for_logged_in_people_and_token_holders(client: Client, api: Client) -> None:
    for path in (f"{V1}/docs", f"{V1}/openapi.json"):
        assert_error(client.get(path), 401, "unauthorized")
        assert api.get(path).status_code == 200
    client.force_login(user_with_role("viewer"))  # type: ignore[arg-type]
    assert client.get(f"{V1}/docs").status_code == 200
    assert_error(Client().get(f"{V1}/noop"), 401, "unauthorized")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with served(tmp_path) as live:
        yield live


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_answers_json_413(server: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata": {"blob": "'
        for _ in range(48):
            yield b"x" * 65536
        yield b'"}}'

    response = httpx.post(f"{server.url}{V1}/agents/{uuid.uuid4()}/register", content=chunks(),
                          headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
                          timeout=30)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert json.loads(response.text)["detail"]


def test_every_schema_class_of_the_api_has_a_name_of_its_own() -> None:
    """ninja names OpenAPI components after classes: two classes with one name document the wrong schema."""
    import ast
    from collections import Counter

    folder = Path(__file__).resolve().parents[3] / "swarmsite" / "api"
    names = Counter(
        node.name for path in folder.glob("*.py") for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef)
    )
    assert [name for name, count in names.items() if count > 1] == []
