"""IdentityRuntime: the one domain entry point for durable agent identities (SPEC 4).

The API, the dashboard views, the consumers, the admin actions and the management commands all call
it. It is assembled from operation modules (leases, continuity, delivery, recovery, roster) that
share one core (identities/core.py): the stores, the event sink, the clock and the unit of work."""

from __future__ import annotations

from identities.delivery import DeliveryOps
from identities.leases import LeaseOps
from identities.roster import RosterOps


class IdentityRuntime(RosterOps, DeliveryOps, LeaseOps):
    """Durable identities owned by at most one live agent at a time, whose stale owners never write again.

    Methods (the seed's, adapted): register, subscribe, update_spec, update_lease, mark_lease_lost,
    set_state, send, dispatch, status, retire, respawn, reset, delete_identity, checkpoint,
    roster_inspect, validate_roster_uniqueness, contains, is_active, runtime_id_for, inspect,
    wait_for_output, wait_for_output_containing, restore_flow, reconcile_managed_peer_edges; plus
    acquire_lease / renew_lease / release_lease, create_identity, compute_reconcile_actions."""
