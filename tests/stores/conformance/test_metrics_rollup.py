"""MetricsRollup conformance: per-minute counters kept at write time, run against every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from stores.contracts import EventSink, MetricsRollup
from stores.errors import InvalidInput
from stores.metrics_types import (
    AGENT,
    ALL,
    CLAIM_WAIT_MS,
    IDENTITY,
    LEASE_LOSSES,
    OUTPUTS,
    QUEUE_DELTA,
    MetricIncrement,
    epoch_minute,
)
from stores.types import EventDraft

T0 = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
M0 = epoch_minute(T0)


def values(rollup: MetricsRollup, metric: str, scope_type: str = ALL, scope_id: str = "", *, minutes: int = 5,
           step: int = 1) -> list[int]:
    series = rollup.series([metric], scope_type, scope_id, start_minute=M0, end_minute=M0 + minutes, step=step)
    return [p.value for p in series[metric]]


def test_added_counts_land_in_their_minute_and_empty_minutes_read_zero(metrics_rollup: MetricsRollup) -> None:
    metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "")], M0)
    metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, ""), MetricIncrement(OUTPUTS, ALL, "")], M0 + 2)
    metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "", 3)], M0 + 2)
    assert values(metrics_rollup, OUTPUTS) == [1, 0, 5, 0, 0]


def test_series_points_are_oldest_first_with_their_start_minute(metrics_rollup: MetricsRollup) -> None:
    series = metrics_rollup.series([OUTPUTS, LEASE_LOSSES], ALL, "", start_minute=M0, end_minute=M0 + 3)
    assert [p.start_minute for p in series[OUTPUTS]] == [M0, M0 + 1, M0 + 2]
    assert [p.value for p in series[LEASE_LOSSES]] == [0, 0, 0]


def test_an_hourly_step_sums_its_sixty_minutes(metrics_rollup: MetricsRollup) -> None:
    for minute in (0, 30, 59, 60, 179):
        metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "", 2)], M0 + minute)
    assert values(metrics_rollup, OUTPUTS, minutes=180, step=60) == [6, 2, 2]


def test_scopes_are_counted_apart(metrics_rollup: MetricsRollup) -> None:
    metrics_rollup.add([MetricIncrement(OUTPUTS, IDENTITY, "alpha"), MetricIncrement(OUTPUTS, IDENTITY, "beta")], M0)
    metrics_rollup.add([MetricIncrement(OUTPUTS, IDENTITY, "alpha")], M0)
    assert values(metrics_rollup, OUTPUTS, IDENTITY, "alpha", minutes=1) == [2]
    assert values(metrics_rollup, OUTPUTS, IDENTITY, "beta", minutes=1) == [1]
    assert values(metrics_rollup, OUTPUTS, minutes=1) == [0]


def test_counts_keep_how_many_samples_they_sum(metrics_rollup: MetricsRollup) -> None:
    metrics_rollup.add([MetricIncrement(CLAIM_WAIT_MS, ALL, "", 400)], M0)
    metrics_rollup.add([MetricIncrement(CLAIM_WAIT_MS, ALL, "", 200)], M0)
    point = metrics_rollup.series([CLAIM_WAIT_MS], ALL, "", start_minute=M0, end_minute=M0 + 1)[CLAIM_WAIT_MS][0]
    assert (point.value, point.count) == (600, 2)


def test_queue_delta_moves_its_running_total(metrics_rollup: MetricsRollup) -> None:
    metrics_rollup.add([MetricIncrement(QUEUE_DELTA, ALL, "", 3)], M0)
    metrics_rollup.add([MetricIncrement(QUEUE_DELTA, ALL, "", -2)], M0 + 1)
    assert metrics_rollup.total(QUEUE_DELTA, ALL, "") == 1
    assert values(metrics_rollup, QUEUE_DELTA, minutes=2) == [3, -2]
    assert metrics_rollup.total(OUTPUTS, ALL, "") == 0


@pytest.mark.parametrize(("step", "minutes"), [(0, 60), (1, 10_001)])
def test_a_series_that_cannot_be_drawn_is_refused(metrics_rollup: MetricsRollup, step: int, minutes: int) -> None:
    with pytest.raises(InvalidInput):
        metrics_rollup.series([OUTPUTS], ALL, "", start_minute=M0, end_minute=M0 + minutes, step=step)


def test_appended_events_count_for_the_swarm_their_identity_and_their_agent(
    counted_events: EventSink, metrics_rollup: MetricsRollup
) -> None:
    agent = str(uuid4())
    counted_events.emit("identity.lease_lost", "identity", "alpha", {"holder": agent}, T0 + timedelta(minutes=1))
    counted_events.emit("output.appended", "output", "ref-1", {"identity": "alpha", "producer": agent}, T0)
    counted_events.emit("agent.heartbeat", "agent", agent, {}, T0)
    assert values(metrics_rollup, LEASE_LOSSES, minutes=2) == [0, 1]
    assert values(metrics_rollup, LEASE_LOSSES, IDENTITY, "alpha", minutes=2) == [0, 1]
    assert values(metrics_rollup, LEASE_LOSSES, AGENT, agent, minutes=2) == [0, 1]
    assert values(metrics_rollup, OUTPUTS, AGENT, agent, minutes=1) == [1]


def test_live_only_events_are_not_counted(counted_events: EventSink, metrics_rollup: MetricsRollup) -> None:
    counted_events.emit("output.appended", "output", "ref-1", {}, T0, durable=False)
    assert values(metrics_rollup, OUTPUTS, minutes=1) == [0]


def test_queue_events_move_the_depth_and_count_claims(counted_events: EventSink, metrics_rollup: MetricsRollup) -> None:
    owner = str(uuid4())
    for n in range(3):
        counted_events.emit("queue.enqueued", "session", "s1", {"batch_id": f"b{n}"}, T0)
    counted_events.emit("queue.claimed", "session", "s1", {"owner_id": owner, "waited_ms": 1500}, T0)
    counted_events.emit("queue.completed", "session", "s1", {"owner_id": owner, "batch_ids": ["b0", "b1"]}, T0)
    counted_events.emit("queue.cancelled", "session", "s1", {"batch_id": "b2"}, T0)
    assert metrics_rollup.total(QUEUE_DELTA, ALL, "") == 0
    assert values(metrics_rollup, "claims_completed", AGENT, owner, minutes=1) == [1]
    assert values(metrics_rollup, CLAIM_WAIT_MS, minutes=1) == [1500]


def test_events_appended_together_count_as_if_appended_one_by_one(
    counted_events: EventSink, metrics_rollup: MetricsRollup
) -> None:
    owner = str(uuid4())
    drafts = [EventDraft("queue.enqueued", "session", "s1", {"batch_id": f"b{n}"}) for n in range(3)]
    drafts += [EventDraft("queue.claimed", "session", "s1", {"owner_id": owner, "waited_ms": 500}),
               EventDraft("output.appended", "output", "ref-1", {"producer": owner}, durable=False)]
    events = counted_events.emit_many(drafts, T0)
    assert [e.id is not None for e in events] == [True, True, True, True, False]
    assert metrics_rollup.total(QUEUE_DELTA, ALL, "") == 3
    assert values(metrics_rollup, CLAIM_WAIT_MS, minutes=1) == [500]
    assert values(metrics_rollup, OUTPUTS, minutes=1) == [0]  # live-only: not counted
    assert [e.kind for e in counted_events.since(0)] == ["queue.enqueued"] * 3 + ["queue.claimed"]


def test_hourly_and_unaligned_series_agree_with_the_minutes(metrics_rollup: MetricsRollup) -> None:
    for minute in (5, 50, 61, 130, 170):
        metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "", 1)], M0 + minute)
    assert values(metrics_rollup, OUTPUTS, minutes=180, step=60) == [2, 1, 2]
    assert values(metrics_rollup, OUTPUTS, minutes=180, step=30) == [1, 1, 1, 0, 1, 1]
    shifted = metrics_rollup.series([OUTPUTS], ALL, "", start_minute=M0 + 30, end_minute=M0 + 150, step=60)
    assert [p.value for p in shifted[OUTPUTS]] == [2, 1]


def test_prune_removes_buckets_that_ended_before_the_cutoff_and_keeps_running_totals(
    metrics_rollup: MetricsRollup,
) -> None:
    metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "", 1)], M0)  # hour M0..M0+60, minute M0
    metrics_rollup.add([MetricIncrement(QUEUE_DELTA, ALL, "", 4)], M0 + 1)
    metrics_rollup.add([MetricIncrement(OUTPUTS, ALL, "", 2)], M0 + 90)  # the next hour
    cutoff = T0 + timedelta(minutes=60)  # the first hour and its minutes have ended; minute 90 has not
    report = metrics_rollup.buckets_retention(cutoff)
    assert report.oldest == T0
    assert report.prunable == 4  # outputs and queue_delta: minute M0, minute M0+1, and their first hour
    assert metrics_rollup.prune_buckets(cutoff, limit=3) == 3
    assert metrics_rollup.prune_buckets(cutoff, limit=3) == 1
    assert metrics_rollup.prune_buckets(cutoff, limit=3) == 0
    assert values(metrics_rollup, OUTPUTS, minutes=120) == [0] * 90 + [2] + [0] * 29
    assert values(metrics_rollup, OUTPUTS, minutes=120, step=60) == [0, 2]
    assert metrics_rollup.total(QUEUE_DELTA, ALL, "") == 4  # the running total is not a bucket in time
    assert metrics_rollup.buckets_retention(cutoff).prunable == 0
