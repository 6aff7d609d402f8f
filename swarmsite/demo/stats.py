"""What the demo counts and says: one readable log line per notable thing, counters for the
periodic status line and the final summary, and the line between expected and unexpected errors."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import httpx

from swarmclient import SwarmError

log = logging.getLogger("swarmsite.demo")

# Answers the demo provokes or races into on purpose: a busy or lost lease, a stale token, a claim
# that expired during a hang, an agent that expired, an identity an operator retired or deleted.
EXPECTED_CODES = frozenset({
    "lease_held", "lease_lost", "no_active_lease", "stale_fencing_token", "fence_mismatch", "fencing_token_required",
    "agent_expired",
    "queued_work_claim_expired", "invalid_state", "unknown_identity", "not_found",
})


class Stats:
    """Thread-safe counters shared by every simulated agent, the driver and the supervisor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.expected: Counter[str] = Counter()
        self.unexpected: list[str] = []

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def expect(self, error: SwarmError) -> bool:
        """Count an error answer; True if it is one the demo expects (a conflict it provoked or raced)."""
        with self._lock:
            if error.code in EXPECTED_CODES:
                self.expected[error.code] += 1
                return True
        self.unexpect(f"{error.status} {error.code}: {error.detail}")
        return False

    def unexpect(self, what: str) -> None:
        with self._lock:
            self.unexpected.append(what)
        log.error("UNEXPECTED %s", what)

    def on_response(self, response: httpx.Response) -> None:
        """httpx hook: a server error is unexpected even when a retry later succeeded."""
        if response.status_code >= 500:
            request = response.request
            self.unexpect(f"{response.status_code} from {request.method} {request.url.path}")

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.on_response]}

    def status_line(self, online: int, leased: int, outputs: int, rejections: int) -> str:
        with self._lock:
            c = self.counts
            return (
                f"status: {online} agents online, {leased} identities leased, {outputs} outputs, "
                f"{rejections} stale writes rejected; {c['answered']} messages answered, {c['hangs']} hangs, "
                f"{c['crashes']} crashes, {len(self.unexpected)} unexpected errors"
            )

    def summary(self) -> str:
        with self._lock:
            counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            expected = ", ".join(f"{k}={v}" for k, v in sorted(self.expected.items())) or "none"
            return f"demo summary: {counts}; expected conflicts: {expected}; unexpected errors: {len(self.unexpected)}"
