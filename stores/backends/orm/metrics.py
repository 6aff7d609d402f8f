"""OrmMetricsRollup: per-minute counters as rows, bumped by one INSERT ... ON CONFLICT DO UPDATE per event
(the same statement on SQLite and PostgreSQL), read by one grouped query per chart."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DatabaseError, connection
from django.db.models import BigIntegerField, ExpressionWrapper, F, Sum

from stores.errors import Backend
from stores.metrics import check_range, dense_series, merged, read_span, spans_of, totals_of
from stores.metrics_types import MINUTE_SPAN, TOTAL_MINUTE, MetricIncrement, MetricPoint
from stores.models.metrics import MetricBucket

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
