"""Values of the metrics rollup: what an event adds to which per-minute counter, and what a chart reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from stores.types import Event

# The counters the charts draw. Every one is a sum per minute; claim_wait_ms also keeps how many
# claims it sums (count) so a chart can show the average; queue_delta is batches in minus batches out.
OUTPUTS = "outputs"
CLAIMS_COMPLETED = "claims_completed"
MESSAGES_DELIVERED = "messages_delivered"
AGENT_EXPIRIES = "agent_expiries"
LEASE_LOSSES = "lease_losses"
STALE_REJECTIONS = "stale_rejections"
QUEUE_DELTA = "queue_delta"
CLAIM_WAIT_MS = "claim_wait_ms"
METRICS = (OUTPUTS, CLAIMS_COMPLETED, MESSAGES_DELIVERED, AGENT_EXPIRIES, LEASE_LOSSES, STALE_REJECTIONS,
           QUEUE_DELTA, CLAIM_WAIT_MS)

# Scopes a counter is kept for: the whole swarm, one identity, one agent.
ALL = "all"
IDENTITY = "identity"
AGENT = "agent"

# The running total of queue_delta lives in one row at this minute, so the depth now is one read.
TOTAL_MINUTE = -1
# Buckets are kept per minute and per hour; a series whose step is whole hours reads the hourly ones.
MINUTE_SPAN = 1
HOUR_SPAN = 60


@dataclass(frozen=True)
class MetricIncrement:
    metric: str
    scope_type: str
    scope_id: str
    value: int = 1
    count: int = 1


@dataclass(frozen=True)
class MetricPoint:
    """One bucket of a series: `start_minute` is minutes since the epoch (UTC) of its first minute."""

    start_minute: int
    value: int
    count: int


def epoch_minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def _agent(value: Any) -> str | None:
    """An agent id in canonical form, or None when the payload names something else (or nothing)."""
    try:
        return str(UUID(str(value))) if value else None
    except ValueError:
        return None


def _counted(metric: str, identity: str | None, agent: str | None, value: int = 1) -> list[MetricIncrement]:
    out = [MetricIncrement(metric, ALL, "", value)]
    if identity:
        out.append(MetricIncrement(metric, IDENTITY, identity, value))
    if agent:
        out.append(MetricIncrement(metric, AGENT, agent, value))
    return out


def _queue(kind: str, p: Mapping[str, Any]) -> list[MetricIncrement]:
    owner = _agent(p.get("owner_id"))
    if kind == "queue.enqueued":
        return [MetricIncrement(QUEUE_DELTA, ALL, "", 1)]
    if kind == "queue.cancelled":
        return [MetricIncrement(QUEUE_DELTA, ALL, "", -1)]
    if kind == "queue.completed":
        done = len(p.get("batch_ids") or ())
        return [MetricIncrement(QUEUE_DELTA, ALL, "", -done), *_counted(CLAIMS_COMPLETED, None, owner)]
    if kind == "queue.claimed" and isinstance(p.get("waited_ms"), int):
        return _counted(CLAIM_WAIT_MS, None, owner, max(0, p["waited_ms"]))
    return []


def increments_for(event: Event) -> list[MetricIncrement]:
    """What one appended event adds to the counters (nothing for the kinds no chart draws)."""
    p = event.payload
    kind = event.kind
    if kind.startswith("queue."):
        return _queue(kind, p)
    if kind == "output.appended":
        return _counted(OUTPUTS, p.get("identity"), _agent(p.get("producer")))
    if kind == "agent.expired":
        return _counted(AGENT_EXPIRIES, None, _agent(event.subject_id))
    if kind == "identity.message_delivered":
        return _counted(MESSAGES_DELIVERED, event.subject_id, None)
    if kind == "identity.lease_lost":
        return _counted(LEASE_LOSSES, event.subject_id, _agent(p.get("holder")))
    if kind == "identity.stale_write_rejected":
        return _counted(STALE_REJECTIONS, event.subject_id, _agent(p.get("agent_id")))
    return []
