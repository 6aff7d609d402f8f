"""Identity status: computed once here (with the "why stuck" facts), rendered as JSON for events and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from identities.types import (
    ContinuityHealth,
    ContinuityResolveState,
    IdentityEntry,
    IdentityState,
    IdentityStatus,
    Lease,
    LeaseInfo,
    LeaseState,
    LostReason,
    ResolveKind,
)

# A lease is healthy while more than this share of its TTL remains (mobkit's rule).
HEALTHY_SHARE = 0.2


def lease_info(lease: Lease, now: datetime) -> LeaseInfo | None:
    if lease.state == LeaseState.FREE:
        return None
    live = lease.is_live(now)
    remaining = int((lease.expires_at - now).total_seconds() * 1000) if live and lease.expires_at else 0
    return LeaseInfo(
        fencing_token=lease.fencing_token,
        ttl_remaining_ms=remaining,
        healthy=live and remaining > lease.ttl_ms * HEALTHY_SHARE,
        state=lease.state,
        holder=lease.holder,
        expires_at=lease.expires_at,
        last_holder=lease.last_holder,
        lost_reason=lease.lost_reason,
    )


def why_stuck(entry: IdentityEntry, resolved: ContinuityResolveState, lease: Lease, now: datetime) -> str | None:
    """In words, why the identity cannot take work right now; None when it can."""
    if entry.state != IdentityState.ACTIVE:
        reason = f": {entry.state_reason}" if entry.state_reason else ""
        return f"the identity is {entry.state.value}{reason}"
    if resolved.kind == ResolveKind.BROKEN and resolved.failure is not None:
        return f"continuity is broken ({resolved.failure.kind.value}): {resolved.failure.detail}"
    if lease.is_live(now):
        return None
    last = f" (last holder {lease.last_holder})" if lease.last_holder else ""
    if lease.state == LeaseState.LOST:
        if lease.lost_reason == LostReason.EXPIRED:
            ended = lease.ended_at or lease.expires_at
            return f"the lease expired at {ended:%Y-%m-%d %H:%M:%S}Z{last}; no agent renewed it"
        if lease.lost_reason == LostReason.AGENT_EXPIRED:
            return f"the lease was freed because its agent stopped heartbeating{last}"
        return f"the lease was marked lost{last}"
    if lease.state == LeaseState.FENCED:
        return f"a recovery action fenced the previous owner{last}; waiting for an agent to acquire the lease"
    if lease.state == LeaseState.RELEASED:
        return f"the lease was released{last}; waiting for an agent to acquire it"
    return "no agent has acquired the lease yet"


def build_status(
    entry: IdentityEntry, resolved: ContinuityResolveState, lease: Lease, now: datetime, durability_policy: str
) -> IdentityStatus:
    record = resolved.record
    version = record.checkpoint_version if record is not None and record.checkpoint_version > 0 else None
    spec = entry.spec
    return IdentityStatus(
        identity=spec.identity,
        state=entry.state,
        agent_runtime_id=record.agent_runtime_id if record else None,
        session_id=record.session_id if record else None,
        profile=spec.profile,
        runtime_mode=spec.runtime_mode_override,
        addressability=spec.addressability,
        display_name=spec.display_name,
        labels=dict(spec.labels),
        generation=record.generation if record else None,
        checkpoint_version=version,
        lease=lease_info(lease, now),
        continuity_health=ContinuityHealth(
            store_reachable=True,
            durability_policy=durability_policy,
            last_checkpoint_version=version,
            last_checkpoint_at=resolved.checkpointed_at,
        ),
        state_reason=entry.state_reason,
        why_stuck=why_stuck(entry, resolved, lease, now),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def status_json(status: IdentityStatus) -> dict[str, Any]:
    """The self-contained snapshot every identity event carries (and the API's status body)."""
    lease = status.lease
    health = status.continuity_health
    return {
        "identity": status.identity,
        "state": status.state.value,
        "state_reason": status.state_reason,
        "why_stuck": status.why_stuck,
        "agent_runtime_id": status.agent_runtime_id,
        "session_id": str(status.session_id) if status.session_id else None,
        "profile": status.profile,
        "runtime_mode": status.runtime_mode,
        "addressability": status.addressability.value,
        "display_name": status.display_name,
        "labels": dict(status.labels),
        "generation": status.generation,
        "checkpoint_version": status.checkpoint_version,
        "lease": None if lease is None else {
            "fencing_token": lease.fencing_token,
            "ttl_remaining_ms": lease.ttl_remaining_ms,
            "healthy": lease.healthy,
            "state": lease.state.value,
            "holder": str(lease.holder) if lease.holder else None,
            "expires_at": _iso(lease.expires_at),
            "last_holder": str(lease.last_holder) if lease.last_holder else None,
            "lost_reason": lease.lost_reason,
        },
        "continuity_health": None if health is None else {
            "store_reachable": health.store_reachable,
            "durability_policy": health.durability_policy,
            "last_checkpoint_version": health.last_checkpoint_version,
            "last_checkpoint_at": _iso(health.last_checkpoint_at),
        },
    }
