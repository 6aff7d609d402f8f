"""OpenTelemetry: off by default, on with the standard variables; request spans are named after the API
operation and the identity (checked with the SDK's in-memory exporter)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from swarmsite.telemetry import instrument, tracing_enabled, uninstrument
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_off_by_default_and_on_with_the_standard_variables(env: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(env) is enabled


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(provider)
    yield exporter
    uninstrument()


def test_request_spans_are_named_after_the_operation_and_the_identity(spans: InMemorySpanExporter) -> None:
    api = token_client("admin")
    agent = uuid.uuid4()
    api.post(f"/api/v1/agents/{agent}/register", {}, content_type="application/json")
    api.post("/api/v1/identities", {"identity": "traced", "profile": "p"}, content_type="application/json")
    assert api.post("/api/v1/identities/traced/lease", {"agent_id": str(agent)},
                    content_type="application/json").status_code == 200
    api.get("/api/v1/identities/traced")
    names = [s.name for s in spans.get_finished_spans()]
    assert "acquire_lease traced" in names
    assert "get_status traced" in names  # the same URL pattern serves GET and DELETE: the method's operation
    assert "register" in names  # no identity in the request: the operation alone
    lease_span = next(s for s in spans.get_finished_spans() if s.name == "acquire_lease traced")
    assert lease_span.attributes["swarm.identity"] == "traced"
    assert lease_span.attributes["swarm.operation"] == "acquire_lease"
