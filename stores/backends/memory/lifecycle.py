"""InMemoryLifecycleStore: ephemeral agent liveness for tests and embedding."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from stores.backends.memory.pruning import first_prunable, retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink
from stores.errors import AgentExpired, NotFound
from stores.events import InMemoryEventLog
from stores.lifecycle import agent_payload, distinct_agents
from stores.retention_types import TableRetention
from stores.types import AgentRecord, AgentState, EventDraft, HeartbeatOutcome, HeartbeatResult, Page

ExpiryHook = Callable[[Sequence[AgentRecord], datetime], None]


class InMemoryLifecycleStore:
    def __init__(
        self,
        *,
        ttl_s: float = 30.0,
        heartbeat_log_interval_s: float = 60.0,
        clock: Clock = system_clock,
        events: EventSink | None = None,
        expiry_hooks: Sequence[ExpiryHook] = (),
    ) -> None:
        self._ttl = timedelta(seconds=ttl_s)
        self._log_interval = timedelta(seconds=heartbeat_log_interval_s)
        self._clock = clock
        self.events: EventSink = events or InMemoryEventLog()
        self._hooks = list(expiry_hooks)
        self._agents: dict[UUID, AgentRecord] = {}
        self._heartbeat_logged: dict[UUID, datetime] = {}
        self._lock = threading.RLock()

    def _effective(self, record: AgentRecord, now: datetime) -> AgentRecord:
        if record.state == AgentState.ONLINE and record.last_heartbeat < now - self._ttl:
            return replace(record, state=AgentState.EXPIRED, state_changed_at=record.last_heartbeat + self._ttl)
        return record

    def register(
        self, agent_id: UUID, *, name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> AgentRecord:
        now = self._clock.now()
        with self._lock:
            old = self._agents.get(agent_id)
            was_online = old is not None and self._effective(old, now).state == AgentState.ONLINE
            record = AgentRecord(
                agent_id=agent_id,
                name=name or (old.name if old else ""),
                state=AgentState.ONLINE,
                registered_at=old.registered_at if (old and was_online) else now,
                last_heartbeat=now,
                state_changed_at=old.state_changed_at if (old and was_online) else now,
                metadata=dict(metadata) if metadata is not None else (old.metadata if old else {}),
            )
            self._agents[agent_id] = record
            self._heartbeat_logged[agent_id] = now
            self.events.emit("agent.online", "agent", str(agent_id), agent_payload(record), now)
            return record

    def heartbeat(self, agent_id: UUID) -> AgentRecord:
        now = self._clock.now()
        with self._lock:
            old = self._agents.get(agent_id)
            if old is None or old.state == AgentState.OFFLINE:
                raise NotFound(f"agent {agent_id} is not registered", agent_id=str(agent_id))
            if self._effective(old, now).state == AgentState.EXPIRED:
                if old.state == AgentState.ONLINE:  # expired once, as the ORM backend does
                    self._expire([agent_id], now)
                raise AgentExpired(
                    f"agent {agent_id} expired after {self._ttl.total_seconds():g}s of silence; register again",
                    agent_id=str(agent_id),
                )
            record = replace(old, last_heartbeat=now)
            self._agents[agent_id] = record
            durable = self._heartbeat_logged.get(agent_id, now - self._log_interval) <= now - self._log_interval
            if durable:
                self._heartbeat_logged[agent_id] = now
            self.events.emit("agent.heartbeat", "agent", str(agent_id), agent_payload(record), now, durable=durable)
            return record

    def heartbeat_many(self, agent_ids: Sequence[UUID]) -> list[HeartbeatResult]:
        ids = distinct_agents(agent_ids)
        now = self._clock.now()
        results: list[HeartbeatResult] = []
        drafts: list[EventDraft] = []
        with self._lock:
            silent = []
            for agent_id in ids:
                old = self._agents.get(agent_id)
                if old is None or old.state == AgentState.OFFLINE:
                    results.append(HeartbeatResult(agent_id, HeartbeatOutcome.NOT_FOUND))
                    continue
                if self._effective(old, now).state == AgentState.EXPIRED:
                    if old.state == AgentState.ONLINE:  # not yet persisted as expired: expire it now
                        silent.append(agent_id)
                    results.append(HeartbeatResult(agent_id, HeartbeatOutcome.AGENT_EXPIRED))
                    continue
                record = self._agents[agent_id] = replace(old, last_heartbeat=now)
                due = now - self._log_interval
                durable = self._heartbeat_logged.get(agent_id, due) <= due
                if durable:
                    self._heartbeat_logged[agent_id] = now
                drafts.append(EventDraft("agent.heartbeat", "agent", str(agent_id), agent_payload(record), durable))
                results.append(HeartbeatResult(agent_id, HeartbeatOutcome.OK, record))
            self.events.emit_many(drafts, now)
            if silent:
                self._expire(silent, now)
        return results

    def start_heartbeat_buffer(self, flush_s: float) -> None:
        """Nothing to buffer: every heartbeat here is already a write to memory."""

    def flush_heartbeats(self) -> int:
        return 0

    def deregister(self, agent_id: UUID) -> None:
        now = self._clock.now()
        with self._lock:
            old = self._agents.get(agent_id)
            if old is None or old.state == AgentState.OFFLINE:
                return
            record = replace(old, state=AgentState.OFFLINE, state_changed_at=now)
            self._agents[agent_id] = record
            self.events.emit("agent.offline", "agent", str(agent_id), agent_payload(record), now)

    def get(self, agent_id: UUID) -> AgentRecord:
        now = self._clock.now()
        with self._lock:
            record = self._agents.get(agent_id)
            if record is None:
                raise NotFound(f"agent {agent_id} is not registered", agent_id=str(agent_id))
            return self._effective(record, now)

    def list_agents(
        self, *, state: AgentState | None = None, ended_since: datetime | None = None, offset: int = 0, limit: int = 50
    ) -> Page[AgentRecord]:
        now = self._clock.now()
        with self._lock:
            records = [self._effective(r, now) for r in self._agents.values()]
        if state is not None:
            records = [r for r in records if r.state == state]
        if ended_since is not None:
            records = [r for r in records if r.state == AgentState.ONLINE or r.state_changed_at >= ended_since]
        records.sort(key=lambda r: (r.last_heartbeat, str(r.agent_id)), reverse=True)
        return Page(items=records[offset : offset + limit], total=len(records), offset=offset, limit=limit)

    def count_by_state(self) -> dict[AgentState, int]:
        now = self._clock.now()
        counts = dict.fromkeys(AgentState, 0)
        with self._lock:
            for record in self._agents.values():
                counts[self._effective(record, now).state] += 1
        return counts

    @staticmethod
    def _prunable(before: datetime) -> Callable[[AgentRecord], bool]:
        # The stored state, as in the database: an online row is never pruned, even a silent one.
        return lambda r: r.state in (AgentState.OFFLINE, AgentState.EXPIRED) and r.state_changed_at < before

    def prune_agents(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            doomed = first_prunable(self._agents.values(), self._prunable(before), limit)
            for record in doomed:
                del self._agents[record.agent_id]
                self._heartbeat_logged.pop(record.agent_id, None)
            return len(doomed)

    def agents_retention(self, before: datetime) -> TableRetention:
        with self._lock:
            rows = list(self._agents.values())
            return retention("agents", rows, lambda r: r.state_changed_at, self._prunable(before))

    def expire_silent(self) -> Sequence[AgentRecord]:
        now = self._clock.now()
        with self._lock:
            silent = [
                a for a, r in self._agents.items() if self._effective(r, now).state == AgentState.EXPIRED
                and r.state == AgentState.ONLINE
            ]
            return self._expire(silent, now)

    def _expire(self, agent_ids: Sequence[UUID], now: datetime) -> list[AgentRecord]:
        expired = []
        for agent_id in agent_ids:
            record = replace(self._agents[agent_id], state=AgentState.EXPIRED, state_changed_at=now)
            self._agents[agent_id] = record
            self.events.emit("agent.expired", "agent", str(agent_id), agent_payload(record), now)
            expired.append(record)
        if expired:
            for hook in self._hooks:
                hook(expired, now)
        return expired
