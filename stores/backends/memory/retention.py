"""InMemoryPruneLedger: the periodic jobs' schedule and past prune runs, for tests and embedding."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from stores.retention_types import PruneRun

KEEP_RUNS = 200


class InMemoryPruneLedger:
    def __init__(self, **_ignored: Any) -> None:
        self._due: dict[str, datetime] = {}
        self._runs: deque[PruneRun] = deque(maxlen=KEEP_RUNS)
        self._lock = threading.Lock()

    def claim_due(self, job: str, now: datetime, hold_s: float) -> bool:
        with self._lock:
            due = self._due.get(job)
            if due is not None and due > now:
                return False
            self._due[job] = now + timedelta(seconds=hold_s)
            return True

    def reschedule(self, job: str, at: datetime) -> None:
        with self._lock:
            self._due[job] = at

    def next_due(self, job: str) -> datetime | None:
        with self._lock:
            return self._due.get(job)

    def record_run(self, run: PruneRun) -> PruneRun:
        with self._lock:
            self._runs.append(run)
        return run

    def recent_runs(self, *, limit: int = 10) -> list[PruneRun]:
        with self._lock:
            return list(reversed(self._runs))[:limit]
