"""An identity's timeline: its events and the audit entries of actions on it, newest first, each with
a one-line summary (stale-write rejections say which token lost to which)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identities.types import AuditRecord
from stores.types import Event

TIMELINE_LENGTH = 60
# Kinds whose summary reads on from the agent's name.
AGENT_FIRST = {"stale_write_rejected", "lease_acquired", "lease_renewed", "lease_released", "lease_lost"}


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # event kind ("identity.lease_acquired") or "audit.<action>"
    summary: str
    tone: str = ""  # "bad", "warn", "ok" or ""
    event_id: int | None = None
    actor: str | None = None  # audit entries only
    ok: bool = True
    reason: str = ""
    agent: str | None = None  # the agent the event names (lease holder, rejected writer), linked by name
    agent_first: bool = False  # the summary goes on from the agent's name ("<agent> took the lease ...")


def timeline(events: list[Event], audits: list[AuditRecord], limit: int = TIMELINE_LENGTH) -> list[TimelineItem]:
    items = [event_item(e) for e in events] + [audit_item(a) for a in audits]
    # Audit entries are written in the same transaction as their event: show the audit line first.
    items.sort(key=lambda i: (i.at, i.actor is None, i.event_id or 0), reverse=True)
    return items[:limit]


def event_summary(kind: str, p: dict[str, Any]) -> tuple[str, str]:
    """(summary, tone) for an identity event's payload. Where the event names an agent (lease holder,
    rejected writer) the summary goes on from the agent's name, which the page puts first as a link."""
    what = kind.partition(".")[2]
    token = p.get("fencing_token")
    if what == "stale_write_rejected":
        op = p.get("operation", "write")
        who = "" if p.get("agent_id") else "a caller naming no agent"
        by = f" (API token {p['caller']})" if p.get("caller") else ""
        if p.get("code") == "fencing_token_required":
            return f"{who}{by}: {op} refused, no fencing token (current #{p.get('current_token')})".lstrip(), "bad"
        if p.get("code") == "fence_mismatch":
            return (f"{who}{by}: {op} refused, token #{p.get('presented_token')} is another identity's "
                    f"(current #{p.get('current_token')})").lstrip(), "bad"
        return (f"{who}{by}: stale {op} rejected, "
                f"token #{p.get('presented_token')} < current #{p.get('current_token')}").lstrip(), "bad"
    if what == "lease_acquired":
        return f"took the lease with token #{token}", "ok"
    if what == "lease_renewed":
        return f"renewed lease #{token}", ""
    if what == "lease_released":
        return f"released lease #{token}", "warn"
    if what == "lease_lost":
        return f"lost lease #{token}: {p.get('reason') or 'unknown'}", "bad"
    if what == "checkpoint_completed":
        return (f"checkpoint v{p.get('version')} saved (generation {p.get('generation')}, {p.get('size')} B, "
                f"token #{token})", "ok")
    if what == "message_delivered":
        return f"{p.get('operation', 'message')} delivered to the inbox (batch {p.get('batch_id')})", ""
    if what == "state_changed":
        return f"state {p.get('previous_state')} → {p.get('new_state')}", "warn"
    if what in ("respawned", "reset", "retired", "deleted"):
        extra = f", generation {p.get('generation')}" if p.get("generation") is not None else ""
        return f"{what} by {p.get('actor', '?')}: new token #{token}{extra}", "warn"
    if what == "registered":
        outcome = p.get("outcome")
        profile = (p.get("spec") or {}).get("profile")
        detail = f"restored from a roster: {outcome}" if outcome else f"profile {profile}" if profile else ""
        return detail or "registered", "bad" if outcome == "broken" else ""
    return what.replace("_", " "), ""


def event_item(event: Event) -> TimelineItem:
    summary, tone = event_summary(event.kind, event.payload)
    agent = event.payload.get("holder") or event.payload.get("agent_id")
    first = event.kind.partition(".")[2] in AGENT_FIRST and bool(agent)
    return TimelineItem(at=event.created_at, kind=event.kind, summary=summary, tone=tone, event_id=event.id,
                        agent=str(agent) if agent else None, agent_first=first)


def audit_item(record: AuditRecord) -> TimelineItem:
    result = dict(record.result)
    if record.ok:
        facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items() if v not in (None, ""))
        summary = f"{record.action} by {record.actor}" + (f" ({facts})" if facts else "")
    else:
        summary = f"{record.action} by {record.actor} was refused: {result.get('detail') or result.get('error')}"
    return TimelineItem(at=record.created_at, kind=f"audit.{record.action}", summary=summary,
                        tone="" if record.ok else "bad", actor=record.actor, ok=record.ok, reason=record.reason)
