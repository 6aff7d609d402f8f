"""OpenTelemetry tracing through the standard Django instrumentation: off by default, on with the
standard variables (`OTEL_TRACES_EXPORTER=otlp|console`, or `OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT`;
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and the other `OTEL_*` settings are read by the SDK;
`OTEL_SDK_DISABLED=true` wins). Each request's span is named after the API operation and, when the
request concerns one, the identity: `acquire_lease alpha`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

_instrumented = False


def tracing_enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = [e.strip() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if exporters:
        return exporters != ["none"]
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImproperlyConfigured("OTEL_TRACES_EXPORTER=otlp needs pip install 'swarmsite[telemetry]'") from exc
        return OTLPSpanExporter()
    raise ImproperlyConfigured(f"unsupported OTEL_TRACES_EXPORTER {name!r} (use otlp, console or none)")


def configure_tracing(env: Mapping[str, str] = os.environ) -> bool:
    """Called once at start-up; True if tracing is on."""
    if not tracing_enabled(env):
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create())
    names = [e.strip() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if e.strip()] or ["otlp"]
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    instrument(provider)
    return True


def instrument(provider: Any) -> None:
    global _instrumented
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    if not _instrumented:
        DjangoInstrumentor().instrument(tracer_provider=provider, response_hook=name_span)
        _instrumented = True


def uninstrument() -> None:
    global _instrumented
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().uninstrument()
    _instrumented = False


def operation_of(request: HttpRequest) -> str | None:
    """The API operation (its view function's name) this request resolved to, or the URL's name."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    # A ninja path view serves several methods; find the operation for this one.
    for cell in getattr(match.func, "__closure__", None) or ():
        try:
            operations = getattr(cell.cell_contents, "operations", None)
        except ValueError:
            continue
        for op in operations or ():
            if request.method in getattr(op, "methods", ()):
                return str(op.view_func.__name__)
    return match.url_name or match.route


def identity_of(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    identity = (match.kwargs.get("identity") if match is not None else None) or request.GET.get("identity")
    return str(identity) if identity else None


def name_span(span: Any, request: HttpRequest, response: HttpResponse) -> None:
    if span is None or not span.is_recording():
        return
    operation = operation_of(request)
    if operation is None:
        return
    identity = identity_of(request)
    span.update_name(f"{operation} {identity}" if identity else operation)
    span.set_attribute("swarm.operation", operation)
    if identity:
        span.set_attribute("swarm.identity", identity)
