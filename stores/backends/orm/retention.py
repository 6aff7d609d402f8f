"""OrmPruneLedger: the periodic jobs' schedule (shared by every server process) and past prune runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from stores.backends.orm.base import translate_db_errors
from stores.models import PruneRunRecord, RetentionSchedule
from stores.retention_types import PruneRun

KEEP_RUNS = 200


def _to_run(row: PruneRunRecord) -> PruneRun:
    return PruneRun(
        started_at=row.started_at, finished_at=row.finished_at, removed=dict(row.removed),
        complete=row.complete, dry_run=row.dry_run,
    )


class OrmPruneLedger:
    def __init__(self, **_ignored: Any) -> None:
        pass

    @translate_db_errors
    def claim_due(self, job: str, now: datetime, hold_s: float) -> bool:
        held_until = now + timedelta(seconds=hold_s)
        # A conditional UPDATE and its row count decide: correct on SQLite and PostgreSQL alike.
        if RetentionSchedule.objects.filter(name=job, next_due_at__lte=now).update(next_due_at=held_until):
            return True
        if RetentionSchedule.objects.filter(name=job).exists():
            return False
        try:
            with transaction.atomic():
                RetentionSchedule.objects.create(name=job, next_due_at=held_until)
        except IntegrityError:  # another process created it first: it runs this time
            return False
        return True

    @translate_db_errors
    def reschedule(self, job: str, at: datetime) -> None:
        RetentionSchedule.objects.update_or_create(name=job, defaults={"next_due_at": at})

    @translate_db_errors
    def next_due(self, job: str) -> datetime | None:
        return RetentionSchedule.objects.filter(name=job).values_list("next_due_at", flat=True).first()

    @translate_db_errors
    def record_run(self, run: PruneRun) -> PruneRun:
        with transaction.atomic():
            PruneRunRecord.objects.create(
                started_at=run.started_at, finished_at=run.finished_at, removed=dict(run.removed),
                complete=run.complete, dry_run=run.dry_run,
            )
            # The ledger is bounded too: only the newest runs are kept.
            stale = PruneRunRecord.objects.order_by("-id").values_list("id", flat=True)[KEEP_RUNS : KEEP_RUNS + 100]
            PruneRunRecord.objects.filter(id__in=list(stale)).delete()
        return run

    @translate_db_errors
    def recent_runs(self, *, limit: int = 10) -> list[PruneRun]:
        return [_to_run(r) for r in PruneRunRecord.objects.order_by("-id")[:limit]]
