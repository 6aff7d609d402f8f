"""What both metrics rollup backends share: range checks, dense series, and the event log's hook."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stores.contracts import MetricsRollup
from stores.errors import InvalidInput
from stores.metrics_types import (
    HOUR_SPAN,
    MINUTE_SPAN,
    QUEUE_DELTA,
    MetricIncrement,
    MetricPoint,
    epoch_minute,
    increments_for,
)
from stores.types import Event

MAX_POINTS = 10_000


def check_range(start_minute: int, end_minute: int, step: int) -> int:
    """How many points the range has; InvalidInput when it cannot be drawn."""
    if step < 1:
        raise InvalidInput("step must be at least one minute", step=step)
    points = max(0, -(-(end_minute - start_minute) // step))
    if points > MAX_POINTS:
        raise InvalidInput(f"a series has at most {MAX_POINTS} points", points=points)
    return points


def dense_series(
    metrics: Sequence[str], rows: Iterable[tuple[str, int, int, int]], start_minute: int, points: int, step: int,
) -> dict[str, list[MetricPoint]]:
    """Rows (metric, bucket index from start, value, count) summed into one point per bucket."""
    sums = {m: [[0, 0] for _ in range(points)] for m in metrics}
    for metric, index, value, count in rows:
        if metric in sums and 0 <= index < points:
            cell = sums[metric][index]
            cell[0] += value
            cell[1] += count
    return {
        m: [MetricPoint(start_minute + i * step, v, c) for i, (v, c) in enumerate(cells)]
        for m, cells in sums.items()
    }


def merged(increments: Sequence[MetricIncrement]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """One (value, count) per (metric, scope_type, scope_id), so a bucket is written once per call."""
    out: dict[tuple[str, str, str], tuple[int, int]] = {}
    for inc in increments:
        key = (inc.metric, inc.scope_type, inc.scope_id)
        value, count = out.get(key, (0, 0))
        out[key] = (value + inc.value, count + inc.count)
    return out


def read_span(start_minute: int, step: int) -> int:
    """Which buckets a series reads: hourly ones when its points are whole, aligned hours."""
    return HOUR_SPAN if step % HOUR_SPAN == 0 and start_minute % HOUR_SPAN == 0 else MINUTE_SPAN


def spans_of(minute: int) -> list[tuple[int, int]]:
    """The (span, first minute) of each bucket a count at `minute` goes to."""
    return [(MINUTE_SPAN, minute), (HOUR_SPAN, minute - minute % HOUR_SPAN)]


def totals_of(increments: Sequence[MetricIncrement]) -> list[MetricIncrement]:
    return [i for i in increments if i.metric == QUEUE_DELTA]


def count_event(rollup: MetricsRollup, event: Event) -> None:
    """The event log's append hook: add what the event counts to its minute's buckets."""
    increments = increments_for(event)
    if increments:
        rollup.add(increments, epoch_minute(event.created_at))


def count_events(rollup: MetricsRollup, events: Sequence[Event]) -> None:
    """The event log's batch append hook: one rollup write per minute the events fall in."""
    by_minute: dict[int, list[MetricIncrement]] = {}
    for event in events:
        increments = increments_for(event)
        if increments:
            by_minute.setdefault(epoch_minute(event.created_at), []).extend(increments)
    for minute, increments in by_minute.items():
        rollup.add(increments, minute)
