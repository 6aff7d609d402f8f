"""OrmMetricsReads: the numbers `/metrics` exports, each a fixed aggregate query."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Q, Sum

from identities.backends.orm.dashboard import OrmDashboardReads
from identities.metrics_reads import SwarmNumbers
from identities.models import StaleWriteRejection
from stores.backends.orm.base import translate_db_errors
from stores.models import Agent, CheckpointThread, EventRecord, Output, QueuedWorkBatchRecord, ThreadCheckpoint


class OrmMetricsReads:
    @translate_db_errors
    def numbers(self, now: datetime) -> SwarmNumbers:
        overview = OrmDashboardReads().overview_counts(now)
        agents = {"online": 0, "offline": 0, "expired": 0}
        for state, n in Agent.objects.values_list("state").annotate(n=Count("pk")).order_by():
            agents[state] = n
        waits = QueuedWorkBatchRecord.objects.filter(claimed_at_ms__isnull=False).aggregate(
            n=Count("pk"), wait_ms=Sum(F("claimed_at_ms") - F("enqueued_at_ms"))
        )
        rejections = StaleWriteRejection.objects.aggregate(
            total=Count("id"),
            # A double owner: a worker still acting as owner after another agent was granted a newer token.
            double=Count("id", filter=Q(current_token__isnull=False, presented_token__lt=F("current_token"))),
        )
        return SwarmNumbers(
            agents=agents, identities=overview.identities, leases_held=overview.leases_held,
            leases_lost=overview.leases_lost,
            lease_losses_total=EventRecord.objects.filter(kind="identity.lease_lost").count(),
            queue_pending=overview.inbox_pending, queue_claimed=overview.inbox_claimed,
            claim_wait_count=waits["n"], claim_wait_seconds_sum=(waits["wait_ms"] or 0) / 1000,
            outputs_total=Output.objects.count(), stale_writes_total=rejections["total"],
            double_owner_incidents_total=rejections["double"], threads_total=CheckpointThread.objects.count(),
            thread_checkpoints_total=ThreadCheckpoint.objects.count(),
        )
