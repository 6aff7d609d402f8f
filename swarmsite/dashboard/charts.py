"""Charts over time: the JSON the pages' uPlot charts draw, read from the metrics rollup only (never the
event log). Per minute over the last hour or per hour over the last day, for the swarm, an identity or
an agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from stores import metrics_types as m
from swarmsite.composition import metrics_rollup
from swarmsite.dashboard.common import role_required
from swarmsite.roles import VIEWER

RANGES = {"hour": (60, 1), "day": (24 * 60, 60)}  # (minutes shown, minutes per point)

LABELS = {
    m.OUTPUTS: "Outputs", m.CLAIMS_COMPLETED: "Claims completed", m.MESSAGES_DELIVERED: "Messages delivered",
    m.AGENT_EXPIRIES: "Agent expiries", m.LEASE_LOSSES: "Lease losses", m.STALE_REJECTIONS: "Stale writes rejected",
    "queue_depth": "Queue depth", "claim_wait_s": "Claim wait (s, average)",
}
# What each scope's page draws, in order; the two derived series come from queue_delta and claim_wait_ms.
SCOPE_CHARTS = {
    m.ALL: [m.OUTPUTS, m.CLAIMS_COMPLETED, m.MESSAGES_DELIVERED, "queue_depth", "claim_wait_s", m.AGENT_EXPIRIES,
            m.LEASE_LOSSES, m.STALE_REJECTIONS],
    m.IDENTITY: [m.OUTPUTS, m.MESSAGES_DELIVERED, m.LEASE_LOSSES, m.STALE_REJECTIONS],
    m.AGENT: [m.OUTPUTS, m.CLAIMS_COMPLETED, "claim_wait_s", m.LEASE_LOSSES, m.STALE_REJECTIONS, m.AGENT_EXPIRIES],
}
# Event kinds that move a chart: the page refetches its charts when one arrives.
LIVE_KINDS = "output.appended queue. agent.expired identity.message_delivered identity.lease_lost " \
             "identity.stale_write_rejected"


@dataclass(frozen=True)
class ChartPanel:
    """What a page needs to place its charts: the data URL and the live kinds that refresh them."""

    scope: str
    scope_id: str
    live_kinds: str = LIVE_KINDS


def _stored(names: list[str]) -> list[str]:
    wanted = {n for n in names if n in m.METRICS}
    if "queue_depth" in names:
        wanted.add(m.QUEUE_DELTA)
    if "claim_wait_s" in names:
        wanted.add(m.CLAIM_WAIT_MS)
    return sorted(wanted)


def _depth(deltas: list[m.MetricPoint], now_total: int) -> list[int]:
    """Depth at the end of each bucket: the running total now, less what every later bucket added."""
    out, level = [], now_total
    for point in reversed(deltas):
        out.append(max(0, level))
        level -= point.value
    return out[::-1]


def chart_series(scope: str, scope_id: str, range_name: str) -> dict[str, Any]:
    span, step = RANGES[range_name]
    names = SCOPE_CHARTS[scope]
    end = m.epoch_minute(timezone.now()) // step * step + step
    start = end - span
    rollup = metrics_rollup()
    raw = rollup.series(_stored(names), scope, scope_id, start_minute=start, end_minute=end, step=step)
    series: dict[str, list[float | None]] = {}
    for name in names:
        if name == "queue_depth":
            series[name] = list(_depth(raw[m.QUEUE_DELTA], rollup.total(m.QUEUE_DELTA, scope, scope_id)))
        elif name == "claim_wait_s":
            series[name] = [round(p.value / p.count / 1000, 2) if p.count else None for p in raw[m.CLAIM_WAIT_MS]]
        else:
            series[name] = [p.value for p in raw[name]]
    return {
        "range": range_name, "step_s": step * 60, "t": [(start + i * step) * 60 for i in range(span // step)],
        "charts": [{"name": n, "label": LABELS[n], "data": series[n]} for n in names],
    }


@role_required(VIEWER)
def chart_data(request: HttpRequest) -> JsonResponse:
    scope, scope_id = request.GET.get("scope", m.ALL), request.GET.get("id", "")
    range_name = request.GET.get("range", "hour")
    if scope not in SCOPE_CHARTS or range_name not in RANGES or len(scope_id) > 255 or "\x00" in scope_id:
        return JsonResponse({"detail": "unknown scope or range", "code": "invalid_input"}, status=400)
    return JsonResponse(chart_series(scope, "" if scope == m.ALL else scope_id, range_name))
