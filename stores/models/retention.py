"""Retention bookkeeping: the event log's pruned watermark, the schedule every server process shares,
and the record of past prune runs."""

from __future__ import annotations

from django.db import models


class EventLogWatermark(models.Model):
    """One row: the highest event id ever pruned. A resume from at or below it has lost events."""

    id = models.IntegerField(primary_key=True, default=1)
    pruned_through = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "stores"
        verbose_name = "event log watermark"

    def __str__(self) -> str:
        return f"pruned through #{self.pruned_through}"


class RetentionSchedule(models.Model):
    """When a periodic job (prune, upkeep) is next due. A process runs it only after moving next_due_at
    with a conditional UPDATE, so N server processes never run it at the same time."""

    name = models.CharField(primary_key=True, max_length=32)
    next_due_at = models.DateTimeField()

    class Meta:
        app_label = "stores"

    def __str__(self) -> str:
        return f"{self.name} due {self.next_due_at:%Y-%m-%d %H:%M:%S}"


class PruneRunRecord(models.Model):
    """One prune pass: when, what it removed per table, whether it finished within its budget."""

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    removed = models.JSONField(default=dict)
    complete = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=False)

    class Meta:
        app_label = "stores"
        verbose_name = "prune run"

    def __str__(self) -> str:
        return f"prune {self.started_at:%Y-%m-%d %H:%M:%S} removed {sum(self.removed.values())}"
