"""The lifecycle API through the real URL conf, with real tokens and the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db


def test_health_needs_no_token(client: Client) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/agents/{id}/register"),
        ("post", "/api/v1/agents/{id}/heartbeat"),
        ("post", "/api/v1/agents/{id}/deregister"),
        ("get", "/api/v1/agents/{id}"),
        ("get", "/api/v1/agents"),
        ("get", "/api/v1/noop"),
    ],
)
def test_every_route_but_health_without_a_token_is_401(client: Client, method: str, path: str) -> None:
    response = client.generic(method.upper(), path.format(id=uuid.uuid4()))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_revoked_or_unknown_token_is_401(db: None) -> None:
    token, secret = ApiToken.issue("gone")
    token.revoked_at = timezone.now()
    token.save()
    for bearer in (secret, "sws_not-a-real-token"):
        response = Client(headers={"Authorization": f"Bearer {bearer}"}).get("/api/v1/agents")
        assert response.status_code == 401


def test_token_secret_is_stored_only_as_a_hash(db: None) -> None:
    token, secret = ApiToken.issue("hashed")
    token.refresh_from_db()
    assert secret not in {token.secret_hash, token.prefix, token.name}
    assert len(token.secret_hash) == 64
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/noop").json() == {"ok": True}
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_register_heartbeat_deregister_then_heartbeat_is_404_not_found(api: Client) -> None:
    agent = uuid.uuid4()
    registered = api.post(f"/api/v1/agents/{agent}/register", {"name": "w1"}, content_type="application/json")
    assert registered.status_code == 200
    assert registered.json()["state"] == "online"
    assert registered.json()["name"] == "w1"
    assert api.generic("POST", f"/api/v1/agents/{agent}/heartbeat").status_code == 200
    assert api.generic("POST", f"/api/v1/agents/{agent}/deregister").status_code == 204
    assert api.generic("POST", f"/api/v1/agents/{agent}/deregister").status_code == 204
    response = api.generic("POST", f"/api/v1/agents/{agent}/heartbeat")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api.get(f"/api/v1/agents/{agent}").json()["state"] == "offline"


def test_register_without_a_body_works(api: Client) -> None:
    assert api.generic("POST", f"/api/v1/agents/{uuid.uuid4()}/register").status_code == 200


def test_silent_agent_heartbeat_is_404_agent_expired_until_it_registers(api: Client) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.generic("POST", f"/api/v1/agents/{agent}/register")
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert api.get(f"/api/v1/agents/{agent}").json()["state"] == "expired"
        response = api.generic("POST", f"/api/v1/agents/{agent}/heartbeat")
        assert response.status_code == 404
        assert response.json()["code"] == "agent_expired"
        assert api.generic("POST", f"/api/v1/agents/{agent}/register").status_code == 200
        assert api.generic("POST", f"/api/v1/agents/{agent}/heartbeat").status_code == 200


def test_list_filters_by_state_and_paginates(api: Client) -> None:
    agents = [uuid.uuid4() for _ in range(3)]
    for agent in agents:
        api.generic("POST", f"/api/v1/agents/{agent}/register")
    api.generic("POST", f"/api/v1/agents/{agents[0]}/deregister")
    online = api.get("/api/v1/agents", {"state": "online", "limit": 1}).json()
    assert online["total"] == 2
    assert len(online["items"]) == 1
    offline = api.get("/api/v1/agents", {"state": "offline"}).json()
    assert [a["agent_id"] for a in offline["items"]] == [str(agents[0])]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/agents/not-a-uuid/register", None),
        ("post", "/api/v1/agents/not-a-uuid/heartbeat", None),
        ("get", "/api/v1/agents/12345", None),
        ("get", "/api/v1/agents?state=sleeping", None),
        ("get", "/api/v1/agents?limit=0", None),
        ("get", "/api/v1/agents?limit=100000", None),
        ("get", "/api/v1/agents?offset=-1", None),
        ("post", "/api/v1/agents/{id}/register", {"name": "x" * 201}),
        ("post", "/api/v1/agents/{id}/register", {"name": "bad\x00name"}),
        ("post", "/api/v1/agents/{id}/register", {"metadata": {"k": "nul\x00"}}),
        ("post", "/api/v1/agents/{id}/register", {"metadata": ["not", "an", "object"]}),
        ("post", "/api/v1/agents/{id}/register", {"name": 12}),
    ],
)
def test_invalid_input_is_422_with_a_code(api: Client, method: str, path: str, body: object) -> None:
    path = path.format(id=uuid.uuid4())
    if body is None:
        response = api.generic(method.upper(), path)
    else:
        response = getattr(api, method)(path, body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert response.json()["detail"]


def test_malformed_json_is_400_with_a_code(api: Client) -> None:
    response = api.post(f"/api/v1/agents/{uuid.uuid4()}/register", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_oversized_body_is_413_and_writes_nothing(api: Client, settings: object) -> None:
    settings.SWARM_MAX_BODY_BYTES = 1000  # type: ignore[attr-defined]
    agent = uuid.uuid4()
    body = {"metadata": {"blob": "x" * 2000}}
    response = api.post(f"/api/v1/agents/{agent}/register", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert api.get(f"/api/v1/agents/{agent}").status_code == 404


def test_openapi_documents_the_lifecycle_operations(api: Client) -> None:
    client = api
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/agents/{agent_id}/register" in paths
    assert "/api/v1/agents/{agent_id}/heartbeat" in paths
    assert "/api/v1/agents/{agent_id}/deregister" in paths
    assert "404" in paths["/api/v1/agents/{agent_id}/heartbeat"]["post"]["responses"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/static/ninja/" in docs.content  # served locally, not from a CDN


def test_a_heartbeats_answer_is_the_agent_as_get_reads_it(api: Client) -> None:
    """The heartbeat route writes its answer itself (the hottest route): the same JSON, field for field
    and in the same forms, as the agent read back, with AgentOut's fields only."""
    agent = uuid.uuid4()
    api.post(f"/api/v1/agents/{agent}/register", {"name": "scout", "metadata": {"k": [1, "two"]}},
             content_type="application/json")
    beat = api.post(f"/api/v1/agents/{agent}/heartbeat")
    assert beat.status_code == 200 and beat["Content-Type"] == "application/json; charset=utf-8"
    assert beat.json() == api.get(f"/api/v1/agents/{agent}").json()
    schemas = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert set(beat.json()) == set(schemas["AgentOut"]["properties"])
