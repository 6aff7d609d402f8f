"""The Storage page for admins: every table under a retention policy with its rows, size on disk, oldest
row and what the next prune would remove, the event log's pruned watermark, and the last prune runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from stores.clock import system_clock
from stores.retention_types import PruneRun
from swarmsite import composition, retention
from swarmsite.dashboard.common import role_required
from swarmsite.roles import ADMIN

RECENT_RUNS = 10


def _run_row(run: PruneRun) -> dict[str, Any]:
    return {
        "run": run,
        "removed": [(table, n) for table, n in run.removed.items() if n],
        "took_s": (run.finished_at - run.started_at).total_seconds(),
    }


def _context() -> dict[str, Any]:
    now = system_clock.now()
    reports = retention.report(now)
    ledger = composition.prune_ledger()
    return {
        "now": now,
        "database": connection.vendor,
        "tables": reports,
        "total_rows": sum(r.stats.rows for r in reports),
        "pruned_through": composition.event_log().pruned_through(),
        "runs": [_run_row(r) for r in ledger.recent_runs(limit=RECENT_RUNS)],
        "next_prune": ledger.next_due(retention.PRUNE_JOB),
        "next_upkeep": ledger.next_due(retention.UPKEEP_JOB),
        "interval_s": settings.SWARM_RETENTION_INTERVAL_S,
        "batch": settings.SWARM_RETENTION_BATCH,
    }


@never_cache
@role_required(ADMIN)
def storage(request: HttpRequest) -> HttpResponse:
    return render(request, "storage/index.html", _context())
