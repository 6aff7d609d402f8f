"""What `/metrics` exports about the swarm, read from the database at scrape time, so every server
process reports the same numbers (nothing is counted in one process's memory)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "identities.backends.orm.metrics.OrmMetricsReads"


@dataclass(frozen=True)
class SwarmNumbers:
    agents: Mapping[str, int]  # by state (online, offline, expired)
    identities: Mapping[str, int]  # by state
    leases_held: int
    leases_lost: int  # leases currently lost (expired, agent expired, marked)
    lease_losses_total: int  # every identity.lease_lost event ever logged
    queue_pending: int
    queue_claimed: int
    claim_wait_count: int  # batches ever claimed ...
    claim_wait_seconds_sum: float  # ... and their total wait from enqueue to claim
    outputs_total: int
    stale_writes_total: int
    double_owner_incidents_total: int
    threads_total: int
    thread_checkpoints_total: int


class MetricsReads(Protocol):
    def numbers(self, now: datetime) -> SwarmNumbers:
        """The swarm's numbers in a fixed number of queries, whatever its size."""
        ...


def metrics_reads() -> MetricsReads:
    path = getattr(settings, "SWARM_METRICS_READS", DEFAULT_BACKEND)
    reads: MetricsReads = import_string(path)()
    return reads
