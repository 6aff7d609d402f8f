"""Lease operations of the runtime: leases belong to registered, online agents (SPEC 4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from identities.core import RuntimeCore
from identities.errors import InvalidState, LeaseHeld, LeaseLost
from identities.types import IdentityState, Lease, LeaseGrant, LeaseState, LostReason
from stores.errors import AgentExpired, NotFound
from stores.types import AgentRecord, AgentState

# States in which nobody may own the identity: it has no continuity to work on.
UNOWNABLE = (IdentityState.UNINITIALIZED, IdentityState.BROKEN)


class LeaseOps(RuntimeCore):
    def _require_online(self, agent_id: UUID) -> None:
        agent = self._lifecycle.get(agent_id)
        if agent.state == AgentState.EXPIRED:
            raise AgentExpired(
                f"agent {agent_id} expired; register again before taking leases", agent_id=str(agent_id)
            )
        if agent.state != AgentState.ONLINE:
            raise NotFound(f"agent {agent_id} is {agent.state.value}; register first", agent_id=str(agent_id))

    def _ttl_ms(self, ttl_s: float | None) -> int:
        return int(ttl_s * 1000) if ttl_s is not None else self.default_lease_ttl_ms()

    def acquire_lease(self, identity: str, agent_id: UUID, *, ttl_s: float | None = None) -> LeaseGrant:
        """Give a registered, online agent the identity's lease with a new, higher fencing token.
        LeaseHeld (holder, expires_at) while another agent's lease is live."""
        now = self._clock.now()
        with self._atomic():
            entry = self._entry(identity)
            if entry.state in UNOWNABLE:
                raise InvalidState(
                    f"cannot acquire the lease of identity {identity} in state {entry.state.value}",
                    identity=identity, state=entry.state.value, operation="acquire_lease",
                )
            self._require_online(agent_id)
            result = self._leases.acquire(identity, agent_id, self._ttl_ms(ttl_s))
            if not result.acquired:
                raise LeaseHeld(
                    f"the lease of {identity} is held by agent {result.holder} until {result.expires_at}",
                    identity=identity, holder=str(result.holder),
                    expires_at=result.expires_at.isoformat() if result.expires_at else None,
                )
            assert result.grant is not None
            previous = result.previous
            if previous is not None and previous.state == LeaseState.HELD and previous.holder != agent_id:
                # It had run out unnoticed (no sweep yet): say so before the new grant.
                self._emit_lost(previous, now, LostReason.EXPIRED)
            self._emit(
                "lease_acquired", identity, now, entry=entry, lease=result.lease,
                fencing_token=result.grant.fencing_token, holder=agent_id, expires_at=result.grant.expires_at,
                ttl_ms=result.grant.ttl_ms,
            )
            return result.grant

    def renew_lease(self, identity: str, agent_id: UUID, token: int, *, ttl_s: float | None = None) -> LeaseGrant:
        """Extend the live lease (agent, token). LeaseLost if it ran out, was taken over, or its agent
        is no longer online (an agent past its liveness TTL loses its leases here if no sweep did yet)."""
        now = self._clock.now()
        with self._atomic():
            entry = self._entry(identity)
            agent_gone = self._lifecycle.get(agent_id).state != AgentState.ONLINE
            if agent_gone:
                for lease in self._leases.release_held_by([agent_id], LostReason.AGENT_EXPIRED):
                    self._emit_lost(lease, now, LostReason.AGENT_EXPIRED)
            else:
                result = self._leases.renew(identity, agent_id, token, self._ttl_ms(ttl_s))
                if result.renewed:
                    assert result.grant is not None
                    self._emit(
                        "lease_renewed", identity, now, durable=result.log_due, entry=entry, lease=result.lease,
                        fencing_token=token, holder=agent_id, expires_at=result.grant.expires_at,
                        ttl_ms=result.grant.ttl_ms,
                    )
                    return result.grant
        # Raised after the unit of work, so the leases freed above stay freed.
        lease = self._leases.get(identity)
        raise LeaseLost(
            f"lease lost for {identity}: token {token} of agent {agent_id} is not a live lease"
            + (" (the agent is no longer online)" if agent_gone else ""),
            identity=identity, presented_token=token, current_token=lease.fencing_token,
            lease_state=lease.state.value, lost_reason=lease.lost_reason,
        )

    def update_lease(self, identity: str, grant: LeaseGrant) -> LeaseGrant:
        """The seed's update_lease: restart the TTL clock of the lease this grant names."""
        return self.renew_lease(identity, grant.holder, grant.fencing_token, ttl_s=grant.ttl_ms / 1000)

    def release_lease(self, identity: str, agent_id: UUID, token: int) -> bool:
        """Give the lease up (a clean shutdown). A no-op, False, unless (agent, token) is the current lease."""
        now = self._clock.now()
        with self._atomic():
            self._entry(identity)
            released = self._leases.release(identity, agent_id, token)
            if released:
                self._emit("lease_released", identity, now, fencing_token=token, holder=agent_id)
            return released

    def mark_lease_lost(self, identity: str, reason: str = LostReason.MARKED) -> None:
        """End the identity's lease as lost (INV-02); later uses give NoActiveLease."""
        now = self._clock.now()
        with self._atomic():
            self._entry(identity)
            ended = self._leases.mark_lost(identity, reason)
            if ended is not None:
                self._emit_lost(ended, now, reason)

    def lease(self, identity: str) -> Lease:
        self._entry(identity)
        return self._leases.get(identity)

    def expire_leases(self) -> list[Lease]:
        """The sweep: persist the loss of leases past their TTL, with identity.lease_lost events."""
        now = self._clock.now()
        with self._atomic():
            ended = self._leases.expire_due()
            for lease in ended:
                self._emit_lost(lease, now, LostReason.EXPIRED)
        return ended

    def free_leases_of(self, agents: Sequence[AgentRecord], now: datetime) -> list[Lease]:
        """Expiry hook: an expired agent's leases are lost at once, so its identities are not stuck."""
        with self._atomic():
            ended = self._leases.release_held_by([a.agent_id for a in agents], LostReason.AGENT_EXPIRED)
            for lease in ended:
                self._emit_lost(lease, now, LostReason.AGENT_EXPIRED)
        return ended
