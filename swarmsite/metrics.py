"""`/metrics` in Prometheus' text format: the swarm's numbers (read from the database at scrape time, so
every server process answers the same) and this process's request metrics.

Readable with any API token (`Authorization: Bearer ...`) or, without one, from the addresses in
SWARM_METRICS_ALLOW (comma-separated IPs or CIDR networks; empty by default)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from identities.metrics_reads import metrics_reads
from swarmsite.api.auth import BearerToken

REGISTRY = CollectorRegistry()

REQUESTS = Counter("swarm_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("swarm_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
                    registry=REGISTRY)


class SwarmCollector(Collector):
    def describe(self) -> list[Metric]:
        # Registering must not query the database (it happens at import, maybe before migrations).
        return []

    def collect(self) -> Iterator[Metric]:
        from django.utils import timezone

        n = metrics_reads().numbers(timezone.now())
        agents = GaugeMetricFamily("swarm_agents", "Agents by liveness state", labels=["state"])
        for state, count in sorted(n.agents.items()):
            agents.add_metric([state], count)
        identities = GaugeMetricFamily("swarm_identities", "Identities by state", labels=["state"])
        for state, count in sorted(n.identities.items()):
            identities.add_metric([state], count)
        yield agents
        yield identities
        yield GaugeMetricFamily("swarm_leases_held", "Identity leases live now", value=n.leases_held)
        yield GaugeMetricFamily("swarm_leases_lost", "Identity leases lost and not re-acquired", value=n.leases_lost)
        yield CounterMetricFamily("swarm_lease_losses", "Leases lost (expired, agent expired, marked)",
                                  value=n.lease_losses_total)
        queue = GaugeMetricFamily("swarm_queue_depth", "Inbox batches not yet completed", labels=["state"])
        queue.add_metric(["pending"], n.queue_pending)
        queue.add_metric(["claimed"], n.queue_claimed)
        yield queue
        yield SummaryMetricFamily("swarm_queue_claim_wait_seconds", "Wait from enqueue to claim of inbox batches",
                                  count_value=n.claim_wait_count, sum_value=n.claim_wait_seconds_sum)
        yield CounterMetricFamily("swarm_outputs", "Outputs appended", value=n.outputs_total)
        yield CounterMetricFamily("swarm_stale_write_rejections", "Writes refused for a stale fencing token",
                                  value=n.stale_writes_total)
        yield CounterMetricFamily(
            "swarm_double_owner_incidents",
            "Writes by a worker that still acted as owner after another agent was granted a newer token (refused)",
            value=n.double_owner_incidents_total,
        )
        yield GaugeMetricFamily("swarm_threads", "Checkpoint threads", value=n.threads_total)
        yield GaugeMetricFamily("swarm_thread_checkpoints", "Checkpoints kept in threads",
                                value=n.thread_checkpoints_total)


REGISTRY.register(SwarmCollector())


def _allowed(request: HttpRequest) -> bool:
    networks = [ipaddress.ip_network(n.strip(), strict=False)
                for n in getattr(settings, "SWARM_METRICS_ALLOW", []) if n.strip()]
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _token_ok(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    return scheme.lower() == "bearer" and BearerToken().authenticate(request, secret.strip()) is not None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape target."""
    if not (_token_ok(request) or _allowed(request)):
        return JsonResponse({"detail": "metrics need an API token or an allow-listed address",
                             "code": "unauthorized"}, status=401)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Counts and times every request by method, URL pattern (not the raw path) and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response
