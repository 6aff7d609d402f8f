"""Retention: which growing table keeps what for how long (settings SWARM_RETENTION_*), composed over the
stores' own prune methods. The sweeper calls prune_if_due(); `manage.py prune [--dry-run]` calls prune();
the Storage page shows report().

Pruning is batched: each batch is one bounded SELECT of primary keys and one DELETE of those, in its own
short transaction, so writers never wait behind a long lock. A pass stops at its time budget and the
next sweep, in whichever process claims it, goes on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from stores.clock import Clock, system_clock
from stores.retention_types import PruneRun, TableRetention
from swarmsite import composition
from swarmsite.api import idempotency

log = logging.getLogger(__name__)

PRUNE_JOB, UPKEEP_JOB = "prune", "upkeep"
HOLD_S = 600.0  # a pass that dies keeps others off this long, then anyone may retry


@dataclass(frozen=True)
class Policy:
    """One table's rule: rows older than `keep` go (None: kept forever)."""

    table: str
    keep: timedelta | None
    rule: str
    retention: Callable[[datetime], TableRetention]
    prune: Callable[[datetime, int], int]


@dataclass(frozen=True)
class TableReport:
    policy: Policy
    stats: TableRetention


def _days(setting: str) -> timedelta | None:
    days = float(getattr(settings, setting))
    return timedelta(days=days) if days > 0 else None


def _queue_keep() -> timedelta | None:
    # A finished keyed batch is the record that makes a retried send a no-op: keep it through the
    # idempotency window even if finished work in general goes sooner.
    windows = [w for w in (_days("SWARM_RETENTION_QUEUE_DAYS"), _days("SWARM_RETENTION_IDEMPOTENCY_DAYS")) if w]
    return max(windows) if windows else None


def policies() -> list[Policy]:
    events, lifecycle, queue = composition.event_log(), composition.lifecycle_store(), composition.runtime_persistence()
    outputs, registry = composition.output_store(), composition.identity_registry()
    leases, rollup = composition.lease_provider(), composition.metrics_rollup()
    return [
        Policy("events", _days("SWARM_RETENTION_EVENTS_DAYS"), "older than the window (resumes before it must resync)",
               events.events_retention, lambda at, n: events.prune_events(at, limit=n)),
        Policy("queued work", _queue_keep(), "finished batches, kept through the idempotency window",
               queue.finished_work_retention, lambda at, n: queue.prune_finished_work(at, limit=n)),
        Policy("agents", _days("SWARM_RETENTION_AGENTS_DAYS"), "offline or expired for longer than the window",
               lifecycle.agents_retention, lambda at, n: lifecycle.prune_agents(at, limit=n)),
        Policy("audit", _days("SWARM_RETENTION_AUDIT_DAYS"), "older than the window",
               registry.audit_retention, lambda at, n: registry.prune_audit(at, limit=n)),
        Policy("rejections", _days("SWARM_RETENTION_REJECTIONS_DAYS"), "older than the window, or unknown identity",
               registry.rejections_retention, lambda at, n: registry.prune_rejections(at, limit=n)),
        Policy("outputs", _days("SWARM_RETENTION_OUTPUTS_DAYS"), "older than the window and nobody's parent",
               outputs.outputs_retention, lambda at, n: outputs.prune_outputs(at, limit=n)),
        Policy("lease grants", _days("SWARM_RETENTION_REJECTIONS_DAYS"), "older than the rejections window",
               leases.grants_retention, lambda at, n: leases.prune_grants(at, limit=n)),
        Policy("metric buckets", _days("SWARM_RETENTION_METRICS_DAYS"), "chart buckets that ended before the window",
               rollup.buckets_retention, lambda at, n: rollup.prune_buckets(at, limit=n)),
        Policy("idempotent answers", _days("SWARM_RETENTION_IDEMPOTENCY_DAYS"), "older than the idempotency window",
               idempotency.answers_retention, idempotency.prune_answers),
    ]


def _cutoff(policy: Policy, now: datetime) -> datetime:
    # With no window nothing is older than the epoch, so the report still shows rows, size and oldest.
    return now - policy.keep if policy.keep is not None else datetime.min.replace(tzinfo=now.tzinfo)


def report(now: datetime) -> list[TableReport]:
    """Every table under a policy, with what a prune at `now` would remove."""
    return [TableReport(p, p.retention(_cutoff(p, now))) for p in policies()]


def prune(
    *, dry_run: bool = False, clock: Clock = system_clock, batch: int | None = None, budget_s: float | None = None
) -> PruneRun:
    """One pass over every policy; a dry run only counts. Stops early (complete=False) at the budget."""
    started = clock.now()
    batch = batch or settings.SWARM_RETENTION_BATCH
    deadline = time.monotonic() + (budget_s if budget_s is not None else float("inf"))
    removed: dict[str, int] = {}
    complete = True
    for policy in policies():
        if policy.keep is None:
            continue
        cutoff = started - policy.keep
        if dry_run:
            removed[policy.table] = policy.retention(cutoff).prunable
            continue
        removed[policy.table] = 0
        while True:
            if time.monotonic() >= deadline:
                complete = False
                break
            n = policy.prune(cutoff, batch)
            removed[policy.table] += n
            if n < batch:
                break
        if not complete:
            break
    run = PruneRun(started_at=started, finished_at=clock.now(), removed=removed, complete=complete, dry_run=dry_run)
    if not dry_run:
        composition.prune_ledger().record_run(run)
    return run


def upkeep() -> dict[str, int]:
    """Daily: vacuum tombstoned nodes and collect unreachable blobs of every session, drop expired logins."""
    from django.contrib.sessions.backends.db import SessionStore

    factory, vacuumed, collected, offset = composition.runtime_persistence(), 0, 0, 0
    while True:
        page = factory.list_sessions(offset=offset, limit=200)
        for summary in page.items:
            store = factory.open(summary.session_id)
            vacuumed += store.vacuum().removed_node_count
            collected += store.gc_unreachable().deleted_blob_count
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    SessionStore.clear_expired()
    return {"vacuumed nodes": vacuumed, "collected blobs": collected}


def prune_if_due(clock: Clock = system_clock) -> PruneRun | None:
    """What the sweeper calls every sweep: runs a bounded pass only when due, in one process at a time."""
    ledger, now = composition.prune_ledger(), clock.now()
    if ledger.claim_due(UPKEEP_JOB, now, HOLD_S):
        try:
            upkeep()
        finally:
            ledger.reschedule(UPKEEP_JOB, now + timedelta(seconds=settings.SWARM_UPKEEP_INTERVAL_S))
    if not ledger.claim_due(PRUNE_JOB, now, HOLD_S):
        return None
    run: PruneRun | None = None
    try:
        run = prune(clock=clock, budget_s=settings.SWARM_RETENTION_BUDGET_S)
    finally:
        # Unfinished: due again at once, so the next sweep (anywhere) continues where this one stopped.
        again = 0.0 if run is not None and not run.complete else settings.SWARM_RETENTION_INTERVAL_S
        ledger.reschedule(PRUNE_JOB, clock.now() + timedelta(seconds=again))
    if sum(run.removed.values()):
        log.info("pruned %s", ", ".join(f"{n} {t}" for t, n in run.removed.items() if n))
    return run
