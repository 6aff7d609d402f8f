"""Values of retention: what a table holds and what a prune would remove, and the record of a prune run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class TableRetention:
    """One table under a retention policy: its rows, bytes (None where the database cannot say), oldest
    row, and how many rows a prune with the same cutoff would remove now."""

    table: str
    rows: int
    size_bytes: int | None
    oldest: datetime | None
    prunable: int


@dataclass(frozen=True)
class PruneRun:
    """One pass of the pruner: when, rows removed per table, and whether it finished (False: its time
    budget ran out and the next sweep goes on)."""

    started_at: datetime
    finished_at: datetime
    removed: Mapping[str, int] = field(default_factory=dict)
    complete: bool = True
    dry_run: bool = False


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
