"""Lease rules both LeaseProvider backends share: what a grant, renewal or loss does to a lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from identities.types import Lease, LeaseAcquireResult, LeaseGrant, LeaseState
from stores.errors import StaleFencingToken
from stores.types import Fence


def free(identity: str) -> Lease:
    return Lease(identity=identity, state=LeaseState.FREE, fencing_token=0, holder=None, acquired_at=None,
                 expires_at=None, ttl_ms=0)


def blocked_by(current: Lease, holder: UUID, now: datetime) -> LeaseAcquireResult | None:
    """already_held when another holder's lease is live; None when the grant may proceed."""
    if current.is_live(now) and current.holder != holder:
        return LeaseAcquireResult("already_held", holder=current.holder, expires_at=current.expires_at,
                                  previous=current)
    return None


def granted(current: Lease, holder: UUID, token: int, ttl_ms: int, now: datetime) -> Lease:
    previous_holder = current.holder if current.state == LeaseState.HELD else current.last_holder
    return Lease(
        identity=current.identity, state=LeaseState.HELD, fencing_token=token, holder=holder, acquired_at=now,
        expires_at=now + timedelta(milliseconds=ttl_ms), ttl_ms=ttl_ms, last_holder=previous_holder,
    )


def grant_of(lease: Lease) -> LeaseGrant:
    assert lease.holder is not None and lease.expires_at is not None
    return LeaseGrant(identity=lease.identity, fencing_token=lease.fencing_token, ttl_ms=lease.ttl_ms,
                      holder=lease.holder, expires_at=lease.expires_at)


def renewable(current: Lease, holder: UUID, token: int, now: datetime) -> bool:
    return current.is_live(now) and current.holder == holder and current.fencing_token == token


def ended(current: Lease, state: LeaseState, reason: str, now: datetime, token: int | None = None) -> Lease:
    """The lease after it ends (released, lost or fenced); the holder becomes the last holder."""
    was_held = current.state == LeaseState.HELD
    return Lease(
        identity=current.identity, state=state, fencing_token=current.fencing_token if token is None else token,
        holder=None, acquired_at=current.acquired_at, expires_at=current.expires_at if was_held else None,
        ttl_ms=current.ttl_ms, last_holder=current.holder if was_held else current.last_holder,
        lost_reason=reason, ended_at=min(now, current.expires_at) if was_held and current.expires_at else now,
    )


def check_fence(lease: Lease | None, fence: Fence, operation: str, now: datetime) -> None:
    """The FenceGuard rule: the presented token must be the current one and its lease live."""
    current = lease.fencing_token if lease is not None else None
    if lease is not None and fence.token == current and lease.is_live(now):
        return
    why = "is no longer current" if fence.token != current else "belongs to a lease that is no longer live"
    raise StaleFencingToken(
        f"{operation} for identity {fence.identity!r} carried fencing token {fence.token}, which {why} "
        f"(current token: {current})",
        identity=fence.identity, presented_token=fence.token, current_token=current, operation=operation,
        agent_id=str(fence.agent_id) if fence.agent_id else None,
    )
