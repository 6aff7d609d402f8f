"""InMemoryMetricsRollup: per-minute counters in a dict, for tests and embedding."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from stores.metrics import check_range, dense_series, merged, read_span, spans_of, totals_of
from stores.metrics_types import MINUTE_SPAN, TOTAL_MINUTE, MetricIncrement, MetricPoint, epoch_minute
from stores.retention_types import TableRetention, from_epoch_ms

_Key = tuple[str, str, str, int, int]


class InMemoryMetricsRollup:
    def __init__(self) -> None:
        # (metric, scope type, scope id, span, minute) -> (value, count)
        self._buckets: dict[tuple[str, str, str, int, int], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def _bump(self, key: tuple[str, str, str, int, int], value: int, count: int) -> None:
        old_value, old_count = self._buckets.get(key, (0, 0))
        self._buckets[key] = (old_value + value, old_count + count)

    def add(self, increments: Sequence[MetricIncrement], minute: int) -> None:
        with self._lock:
            for (metric, scope_type, scope_id), (value, count) in merged(increments).items():
                for span, first in spans_of(minute):
                    self._bump((metric, scope_type, scope_id, span, first), value, count)
            for (metric, scope_type, scope_id), (value, count) in merged(totals_of(increments)).items():
                self._bump((metric, scope_type, scope_id, MINUTE_SPAN, TOTAL_MINUTE), value, count)

    def series(
        self, metrics: Sequence[str], scope_type: str, scope_id: str, *, start_minute: int, end_minute: int,
        step: int = 1,
    ) -> dict[str, list[MetricPoint]]:
        points = check_range(start_minute, end_minute, step)
        wanted, span = set(metrics), read_span(start_minute, step)
        with self._lock:
            rows = [
                (metric, (minute - start_minute) // step, value, count)
                for (metric, st, sid, sp, minute), (value, count) in self._buckets.items()
                if metric in wanted and st == scope_type and sid == scope_id and sp == span
                and start_minute <= minute < end_minute
            ]
        return dense_series(metrics, rows, start_minute, points, step)

    def total(self, metric: str, scope_type: str, scope_id: str) -> int:
        with self._lock:
            return self._buckets.get((metric, scope_type, scope_id, MINUTE_SPAN, TOTAL_MINUTE), (0, 0))[0]

    @staticmethod
    def _ended_before(key: _Key, cut: int) -> bool:
        _, _, _, span, minute = key
        return minute != TOTAL_MINUTE and minute + span <= cut

    def buckets_retention(self, before: datetime) -> TableRetention:
        cut = epoch_minute(before)
        with self._lock:
            keys = list(self._buckets)
        starts = [k[4] for k in keys if k[4] != TOTAL_MINUTE]
        return TableRetention(
            table="metric buckets", rows=len(keys), size_bytes=None,
            oldest=from_epoch_ms(min(starts) * 60_000) if starts else None,
            prunable=sum(self._ended_before(k, cut) for k in keys),
        )

    def prune_buckets(self, before: datetime, *, limit: int) -> int:
        cut = epoch_minute(before)
        with self._lock:
            gone = sorted((k for k in self._buckets if self._ended_before(k, cut)), key=lambda k: k[4])[:max(limit, 0)]
            for key in gone:
                del self._buckets[key]
        return len(gone)
