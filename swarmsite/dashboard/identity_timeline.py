"""An identity's timeline: its events and the audit entries of actions on it, newest first, each with
a one-line summary (stale-write rejections say which token lost to which)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identities.types import AuditRecord
from stores.types import Event

TIMELINE_LENGTH = 60


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


def timeline(events: list[Event], audits: list[AuditRecord], limit: int = TIMELINE_LENGTH) -> list[TimelineItem]:
    items = [event_item(e) for e in events] + [audit_item(a) for a in audits]
    # Audit entries are written in the same transaction as their event: show the audit line first.
    items.sort(key=lambda i: (i.at, i.actor is None, i.event_id or 0), reverse=True)
    return items[:limit]


def _short(agent: Any) -> str:
    return str(agent)[:8] if agent else "?"


def event_summary(kind: str, p: dict[str, Any]) -> tuple[str, str]:
    """(summary, tone) for an identity event's payload."""
    what = kind.partition(".")[2]
    token = p.get("fencing_token")
    if what == "stale_write_rejected":
        who = f"agent {_short(p.get('agent_id'))}" + (f" (token {p['caller']})" if p.get("caller") else "")
        op = p.get("operation", "write")
        if p.get("code") == "fencing_token_required":
            return f"refused {op} from {who}: no fencing token (current #{p.get('current_token')})", "bad"
        if p.get("code") == "fence_mismatch":
            return (f"refused {op} from {who}: token #{p.get('presented_token')} is another identity's "
                    f"(current #{p.get('current_token')})", "bad")
        return (f"rejected a stale {op} from {who}: "
                f"token #{p.get('presented_token')} < current #{p.get('current_token')}", "bad")
    if what == "lease_acquired":
        return f"agent {_short(p.get('holder'))} took the lease with token #{token}", "ok"
    if what == "lease_renewed":
        return f"agent {_short(p.get('holder'))} renewed lease #{token}", ""
    if what == "lease_released":
        return f"agent {_short(p.get('holder'))} released lease #{token}", "warn"
    if what == "lease_lost":
        return f"lease #{token} of agent {_short(p.get('holder'))} lost: {p.get('reason') or 'unknown'}", "bad"
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
    return TimelineItem(at=event.created_at, kind=event.kind, summary=summary, tone=tone, event_id=event.id,
                        agent=str(agent) if agent else None)


def audit_item(record: AuditRecord) -> TimelineItem:
    result = dict(record.result)
    if record.ok:
        facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items() if v not in (None, ""))
        summary = f"{record.action} by {record.actor}" + (f" ({facts})" if facts else "")
    else:
        summary = f"{record.action} by {record.actor} was refused: {result.get('detail') or result.get('error')}"
    return TimelineItem(at=record.created_at, kind=f"audit.{record.action}", summary=summary,
                        tone="" if record.ok else "bad", actor=record.actor, ok=record.ok, reason=record.reason)
