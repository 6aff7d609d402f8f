"""OrmMetricsRollup: per-minute counters as rows, bumped by one INSERT ... ON CONFLICT DO UPDATE per event
(the same statement on SQLite and PostgreSQL), read by one grouped query per chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import BigIntegerField, ExpressionWrapper, F, QuerySet, Sum

from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.pruning import delete_batch, table_bytes
from stores.errors import Backend
from stores.metrics import check_range, dense_series, merged, read_span, spans_of, totals_of
from stores.metrics_types import MINUTE_SPAN, TOTAL_MINUTE, MetricIncrement, MetricPoint, epoch_minute
from stores.models.metrics import MetricBucket
from stores.retention_types import TableRetention, from_epoch_ms

_TABLE = MetricBucket._meta.db_table
_UPSERT = (
    f"INSERT INTO {_TABLE} (scope_type, scope_id, metric, span, minute, value, count) VALUES {{rows}} "
    f"ON CONFLICT (scope_type, scope_id, metric, span, minute) DO UPDATE SET "
    f"value = {_TABLE}.value + excluded.value, count = {_TABLE}.count + excluded.count"
)


class OrmMetricsRollup:
    def add(self, increments: Sequence[MetricIncrement], minute: int) -> None:
        rows = [(st, sid, m, span, first, v, c) for (m, st, sid), (v, c) in merged(increments).items()
                for span, first in spans_of(minute)]
        rows += [(st, sid, m, MINUTE_SPAN, TOTAL_MINUTE, v, c)
                 for (m, st, sid), (v, c) in merged(totals_of(increments)).items()]
        if not rows:
            return
        sql = _UPSERT.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows)))
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [x for row in rows for x in row])
        except DatabaseError as exc:
            raise Backend(f"could not update the metrics rollup: {exc}") from exc

    def series(
        self, metrics: Sequence[str], scope_type: str, scope_id: str, *, start_minute: int, end_minute: int,
        step: int = 1,
    ) -> dict[str, list[MetricPoint]]:
        points = check_range(start_minute, end_minute, step)
        span = read_span(start_minute, step)
        buckets = MetricBucket.objects.filter(
            scope_type=scope_type, scope_id=scope_id, metric__in=list(metrics), span=span,
            minute__gte=start_minute, minute__lt=end_minute,
        )
        if step == span:  # one stored bucket per point: read the rows as they are
            rows = [(m, (minute - start_minute) // step, v, c)
                    for m, minute, v, c in buckets.values_list("metric", "minute", "value", "count")]
            return dense_series(metrics, rows, start_minute, points, step)
        # Integer division on both databases: the point each stored bucket falls in.
        index = ExpressionWrapper((F("minute") - start_minute) / step, output_field=BigIntegerField())
        grouped = (
            buckets.annotate(bucket=index).values("metric", "bucket")
            .annotate(v=Sum("value"), c=Sum("count")).values_list("metric", "bucket", "v", "c")
        )
        return dense_series(metrics, list(grouped), start_minute, points, step)

    def total(self, metric: str, scope_type: str, scope_id: str) -> int:
        row = MetricBucket.objects.filter(
            scope_type=scope_type, scope_id=scope_id, metric=metric, span=MINUTE_SPAN, minute=TOTAL_MINUTE
        ).values_list("value", flat=True).first()
        return row or 0

    def _ended_before(self, before: datetime) -> QuerySet[Any]:
        # A bucket ends `span` minutes after its first minute; the running totals (minute -1) never go.
        end = ExpressionWrapper(F("minute") + F("span"), output_field=BigIntegerField())
        return MetricBucket.objects.alias(end=end).filter(minute__gte=0, end__lte=epoch_minute(before))

    @translate_db_errors
    def buckets_retention(self, before: datetime) -> TableRetention:
        oldest = (MetricBucket.objects.filter(minute__gte=0).order_by("pk")
                  .values_list("minute", flat=True).first())  # buckets are written in time order
        return TableRetention(
            table="metric buckets", rows=MetricBucket.objects.count(), size_bytes=table_bytes(MetricBucket),
            oldest=None if oldest is None else from_epoch_ms(oldest * 60_000),
            prunable=self._ended_before(before).count(),
        )

    @translate_db_errors
    def prune_buckets(self, before: datetime, *, limit: int) -> int:
        return delete_batch(self._ended_before(before), limit)
