from __future__ import annotations

from django.db import models


class MetricBucket(models.Model):
    """One counter for one minute (span 1) or one hour (span 60, `minute` its first minute) of one scope,
    minutes since the epoch in UTC; minute -1 holds a running total. Both spans are written at append
    time by one upsert per event, so a day's chart reads 24 hourly rows instead of 1,440 minutes."""

    id = models.BigAutoField(primary_key=True)
    scope_type = models.CharField(max_length=16)
    scope_id = models.CharField(max_length=255)
    metric = models.CharField(max_length=32)
    span = models.SmallIntegerField(default=1)
    minute = models.BigIntegerField()
    value = models.BigIntegerField(default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        app_label = "stores"
        verbose_name = "metric bucket"
        verbose_name_plural = "metric buckets"
        # The unique index is also the chart's read path: one scope and span, a range of minutes, all the
        # chart's metrics in one contiguous index range (metric last, so no skipping between metrics).
        constraints = [
            models.UniqueConstraint(
                fields=["scope_type", "scope_id", "span", "minute", "metric"], name="metric_bucket_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.scope_type}:{self.scope_id} @{self.minute} = {self.value}"
