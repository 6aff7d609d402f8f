"""Single heartbeats written behind, in batches: what the server process knows of its agents' liveness.

A heartbeat of an agent this process saw online within nine tenths of its TTL (it registered here, or
a heartbeat or a flush here found it online) is answered from memory and kept as pending. The
server's flusher (swarmsite/sweeper.py) writes every pending beat each SWARM_HEARTBEAT_FLUSH_S in one
guarded UPDATE (OrmLifecycleStore.flush_heartbeats). Anything else (an agent this process does not
know or has not seen for that long, or any beat while the flusher has not flushed for STALE_FLUSHES
intervals, as when the database is failing) takes the single call's path and is written before the
answer. An agent the flush finds offline or expired is forgotten, so its next heartbeat here answers
404 from the database."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any
from uuid import UUID

from stores.types import AgentRecord

# The flusher counts as stopped (and beats are written at once) after this many intervals without a flush.
STALE_FLUSHES = 5
# The most agents one process keeps in memory; past it, the others' beats are written at once.
MAX_KNOWN = 100_000


class BeatBuffer:
    def __init__(self, flush_s: float, *, max_known: int = MAX_KNOWN) -> None:
        self.flush_s = flush_s
        self.stale_after_s = max(1.0, STALE_FLUSHES * flush_s)
        self.max_known = max_known
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()  # one flush at a time (the flusher, a read, the sweep, exit)
        self.known: dict[UUID, AgentRecord] = {}
        self.pending: dict[UUID, datetime] = {}  # agent: when its last kept beat was answered
        self.rows: dict[UUID, tuple[Any, ...]] = {}  # agent: the columns the last flush returned, as read
        self.flushed_at = time.monotonic()

    def flushing(self) -> bool:
        """The flusher has flushed recently: a beat kept now is written within about flush_s."""
        return time.monotonic() - self.flushed_at <= self.stale_after_s

    def take(self, agent_id: UUID, now: datetime, seen_after: datetime) -> AgentRecord | None:
        """Keep this beat for the next flush and return the agent as refreshed, when the agent was seen
        online after `seen_after` and the flusher is running; else None (write it at once)."""
        if not self.flushing():
            return None
        with self.lock:
            known = self.known.get(agent_id)
            if known is None or known.last_heartbeat < seen_after:
                return None
            record = self.known[agent_id] = AgentRecord(
                agent_id, known.name, known.state, known.registered_at, now, known.state_changed_at, known.metadata
            )
            self.pending[agent_id] = now
        return record

    def remember(self, record: AgentRecord) -> None:
        """The agent as the database just answered it (online)."""
        with self.lock:
            if record.agent_id in self.known or len(self.known) < self.max_known:
                self.known[record.agent_id] = record

    def forget(self, agent_id: UUID) -> None:
        with self.lock:
            self.known.pop(agent_id, None)
            self.rows.pop(agent_id, None)
            self.pending.pop(agent_id, None)

    def drain(self) -> list[tuple[UUID, datetime]]:
        """The pending agents with their beat times, in id order, now no longer pending."""
        with self.lock:
            beats = sorted(self.pending.items())
            self.pending.clear()
        return beats

    def restore(self, beats: list[tuple[UUID, datetime]]) -> None:
        """Beats a failed flush did not write: pending again (unless a newer one is), for the next flush."""
        with self.lock:
            for agent_id, at in beats:
                if agent_id in self.known:
                    self.pending.setdefault(agent_id, at)

    def flushed(self, silent_before: datetime) -> None:
        """A flush succeeded: mark the time, and forget agents not seen since `silent_before`."""
        self.flushed_at = time.monotonic()
        with self.lock:
            for agent_id in [a for a, r in self.known.items() if r.last_heartbeat < silent_before]:
                if agent_id not in self.pending:
                    del self.known[agent_id]
                    self.rows.pop(agent_id, None)

    def unchanged(self, agent_id: UUID, row: tuple[Any, ...], now: datetime) -> AgentRecord | None:
        """The agent refreshed at `now` from memory when the flush read the same columns as last time
        (nothing to convert), else None."""
        known = self.known.get(agent_id)
        if known is None or self.rows.get(agent_id) != row:
            return None
        return AgentRecord(agent_id, known.name, known.state, known.registered_at, now, known.state_changed_at,
                           known.metadata)

    def read(self, agent_id: UUID, row: tuple[Any, ...]) -> None:
        self.rows[agent_id] = row

    def has_pending(self) -> bool:
        return bool(self.pending)
