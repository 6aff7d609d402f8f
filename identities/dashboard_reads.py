"""Reads the dashboard needs beyond the stores' contracts: counts across every store, the roster's
lease-status filter and a checkpoint's bytes by version. Read-only; actions go through IdentityRuntime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from identities.types import IdentityState
from stores.types import Page

# The roster's lease filter: a live lease, a lost one (expired, agent expired, marked), or neither.
LEASE_FILTERS = ("held", "lost", "none")
DEFAULT_BACKEND = "identities.backends.orm.dashboard.OrmDashboardReads"


@dataclass(frozen=True)
class OverviewCounts:
    identities: Mapping[str, int]
    leases_held: int
    leases_lost: int
    inbox_pending: int
    inbox_claimed: int
    outputs_last_hour: int
    rejections_total: int
    rejections_last_hour: int


class DashboardReads(Protocol):
    def overview_counts(self, now: datetime) -> OverviewCounts:
        """Identities by state, leases held/lost, inbox pending/claimed, outputs and rejections: fixed queries."""
        ...

    def roster_names(
        self,
        now: datetime,
        *,
        state: IdentityState | None = None,
        lease: str = "",
        search: str = "",
        label: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[str]:
        """One page of identity names matching every filter, sorted by name; `total` counts them all."""
        ...

    def checkpoint_data(self, identity: str, generation: int, version: int) -> bytes | None:
        """One kept checkpoint's bytes, or None."""
        ...


def dashboard_reads() -> DashboardReads:
    """Stateless, so built per call; SWARM_DASHBOARD_READS may name another backend."""
    path = getattr(settings, "SWARM_DASHBOARD_READS", DEFAULT_BACKEND)
    reads: DashboardReads = import_string(path)()
    return reads
