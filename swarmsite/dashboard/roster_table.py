"""View models of the roster and the identity page: rows with lease and continuity joined in a fixed
number of reads, and the "why" explanation of every non-healthy state. Templates only format them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from identities.dashboard_reads import DashboardReads
from identities.runtime import IdentityRuntime
from identities.status import build_status
from identities.types import (
    ContinuityResolveState,
    IdentityEntry,
    IdentityState,
    IdentityStatus,
    Lease,
    LeaseState,
    LostReason,
    ResolveKind,
)
from stores.contracts import LifecycleStore
from stores.errors import NotFound
from stores.types import AgentRecord, Page


@dataclass(frozen=True)
class RosterFilters:
    state: IdentityState | None = None
    lease: str = ""
    search: str = ""
    label: tuple[str, str] | None = None


@dataclass(frozen=True)
class Why:
    """Why an identity is not healthy: a headline, when it started, and the facts behind it."""

    headline: str
    since: datetime | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    severity: str = "bad"  # "bad" (stuck) or "warn" (winding down, waiting)


@dataclass(frozen=True)
class RosterRow:
    entry: IdentityEntry
    status: IdentityStatus
    lease: Lease
    checkpointed_at: datetime | None
    why: Why | None

    @property
    def name(self) -> str:
        return self.entry.identity

    @property
    def lease_live(self) -> bool:
        return self.lease.state == LeaseState.HELD

    @property
    def healthy(self) -> bool:
        return self.why is None and self.status.lease is not None and self.status.lease.healthy


def parse_search(text: str) -> tuple[str, tuple[str, str] | None]:
    """`key=value` searches labels; anything else searches names and display names."""
    text = text.strip()
    if "=" in text:
        key, _, value = text.partition("=")
        if key.strip():
            return "", (key.strip(), value.strip())
    return text, None


def roster_page(
    runtime: IdentityRuntime, reads: DashboardReads, now: datetime, filters: RosterFilters, *, offset: int, limit: int
) -> Page[RosterRow]:
    """A roster page in six queries whatever its size: names, count, specs, continuity (two), leases."""
    names = reads.roster_names(
        now, state=filters.state, lease=filters.lease, search=filters.search, label=filters.label,
        offset=offset, limit=limit,
    )
    if not names.items:
        return Page(items=[], total=names.total, offset=offset, limit=limit)
    entries = runtime.registry().find_many(names.items)
    resolved = runtime.continuity_store().resolve_many(list(names.items))
    leases = runtime.lease_provider().get_many(names.items)
    rows = [
        roster_row(entries[n], resolved[n], leases[n], now, runtime.durability_policy())
        for n in names.items
        if n in entries  # deleted between the two reads
    ]
    return Page(items=rows, total=names.total, offset=offset, limit=limit)


def roster_row(
    entry: IdentityEntry, resolved: ContinuityResolveState, lease: Lease, now: datetime, durability: str
) -> RosterRow:
    lease = lease.effective(now)
    status = build_status(entry, resolved, lease, now, durability)
    return RosterRow(
        entry=entry, status=status, lease=lease, checkpointed_at=resolved.checkpointed_at,
        why=explain(entry, resolved, lease, now),
    )


def explain(
    entry: IdentityEntry, resolved: ContinuityResolveState, lease: Lease, now: datetime,
    last_holder: AgentRecord | None = None,
) -> Why | None:
    """The "why" line: None for an active identity with continuity and a live lease."""
    if entry.state == IdentityState.RETIRING:
        return Why("retiring: no new deliveries are accepted", entry.state_changed_at,
                   _reason(entry), severity="warn")
    if entry.state == IdentityState.BROKEN or resolved.kind == ResolveKind.BROKEN:
        failure = resolved.failure
        facts = [("failure", failure.kind.value), ("detail", failure.detail)] if failure else _reason(entry)
        return Why("continuity is broken: it cannot be resumed until it is reset", entry.state_changed_at, facts)
    if entry.state == IdentityState.UNINITIALIZED:
        return Why("uninitialized: it has no continuity (deleted, or never created)", entry.state_changed_at,
                   _reason(entry), severity="warn")
    if entry.state == IdentityState.SUSPENDED:
        return Why("suspended", entry.state_changed_at, _reason(entry), severity="warn")
    if lease.is_live(now):
        return None
    facts = _holder_facts(lease, last_holder)
    if lease.state == LeaseState.LOST:
        if lease.lost_reason == LostReason.EXPIRED:
            facts.insert(0, ("expired at", _clock(lease.expires_at)))
            return Why("lease lost: its holder stopped renewing it", lease.ended_at or lease.expires_at, facts)
        if lease.lost_reason == LostReason.AGENT_EXPIRED:
            return Why("lease lost: its agent stopped heartbeating and expired", lease.ended_at, facts)
        return Why(f"lease lost ({lease.lost_reason or 'marked lost'})", lease.ended_at, facts)
    if lease.state == LeaseState.FENCED:
        return Why("no lease: a recovery action fenced the previous owner; waiting for an agent",
                   lease.ended_at, facts, severity="warn")
    if lease.state == LeaseState.RELEASED:
        return Why("no lease: the holder released it; waiting for an agent", lease.ended_at, facts, severity="warn")
    return Why("no lease: no agent has acquired it yet", entry.created_at, [], severity="warn")


def last_holder_record(lifecycle: LifecycleStore, lease: Lease) -> AgentRecord | None:
    """The agent that held the lease last (for its last heartbeat), if it is still known."""
    agent: UUID | None = lease.holder or lease.last_holder
    if agent is None:
        return None
    try:
        return lifecycle.get(agent)
    except NotFound:
        return None


def _holder_facts(lease: Lease, agent: AgentRecord | None) -> list[tuple[str, str]]:
    who = lease.last_holder or lease.holder
    if who is None:
        return []
    facts = [("last holder", f"{agent.name} ({who})" if agent is not None and agent.name else str(who))]
    if agent is not None:
        facts.append(("holder's last heartbeat", f"{_clock(agent.last_heartbeat)} ({agent.state.value})"))
    facts.append(("last token", f"#{lease.fencing_token}"))
    return facts


def _reason(entry: IdentityEntry) -> list[tuple[str, str]]:
    return [("reason", entry.state_reason)] if entry.state_reason else []


def _clock(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment is not None else "unknown"
