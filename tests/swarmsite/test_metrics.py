"""/metrics: Prometheus text a real parser reads, whose numbers move with API traffic; token or allow-list."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(numbers: dict, name: str, **labels: str) -> float:
    return numbers.get((name, tuple(sorted(labels.items()))), 0.0)


def test_scrape_sees_agents_leases_outputs_rejections_and_requests_change_after_traffic() -> None:
    api = token_client("admin")
    before = scrape(api)
    a, b = uuid.uuid4(), uuid.uuid4()
    for agent in (a, b):
        assert api.post(f"/api/v1/agents/{agent}/register", {}, content_type="application/json").status_code == 200
    assert api.post("/api/v1/identities", {"identity": "scraped", "profile": "p"},
                    content_type="application/json").status_code == 201
    first = api.post("/api/v1/identities/scraped/lease", {"agent_id": str(a)}, content_type="application/json")
    old_token = first.json()["fencing_token"]
    api.post("/api/v1/identities/scraped/lease/release", {"agent_id": str(a), "fencing_token": old_token},
             content_type="application/json")
    assert api.post("/api/v1/identities/scraped/lease", {"agent_id": str(b)},
                    content_type="application/json").status_code == 200
    output = {"task_id": "t", "attempt": 0, "producer_agent": "scraped",
              "event": {"type": "progress", "stage": "s"}}
    assert api.post("/api/v1/outputs", output, content_type="application/json").status_code == 201
    stale = api.post("/api/v1/outputs", {**output, "identity": "scraped", "fencing_token": old_token},
                     content_type="application/json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_fencing_token"

    after = scrape(api)
    assert value(after, "swarm_agents", state="online") == value(before, "swarm_agents", state="online") + 2
    assert value(after, "swarm_leases_held") == value(before, "swarm_leases_held") + 1
    assert value(after, "swarm_outputs_total") == value(before, "swarm_outputs_total") + 1
    assert value(after, "swarm_stale_write_rejections_total") == value(before, "swarm_stale_write_rejections_total") + 1
    assert value(after, "swarm_double_owner_incidents_total") == value(before, "swarm_double_owner_incidents_total") + 1
    route = "api/v1/outputs"
    assert value(after, "swarm_http_requests_total", method="POST", route=route, status="201") >= 1
    assert value(after, "swarm_http_requests_total", method="POST", route=route, status="409") >= 1
    assert value(after, "swarm_http_request_duration_seconds_count", method="POST", route=route) >= 2


def test_metrics_without_token_are_refused_unless_the_address_is_allow_listed(settings: object) -> None:
    anonymous = Client()
    refused = anonymous.get("/metrics")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert Client(headers={"Authorization": "Bearer wrong"}).get("/metrics").status_code == 401
    settings.SWARM_METRICS_ALLOW = ["10.0.0.0/8"]  # type: ignore[attr-defined]
    assert anonymous.get("/metrics").status_code == 401  # the test client comes from 127.0.0.1
    settings.SWARM_METRICS_ALLOW = ["127.0.0.1"]  # type: ignore[attr-defined]
    assert b"swarm_agents" in anonymous.get("/metrics").content
