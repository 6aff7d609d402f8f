"""OrmLifecycleStore: durable agent liveness on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from django.db import connection, connections, transaction
from django.db.models import Case, CharField, Count, F, Field, Q, QuerySet, Value, When
from django.db.models.expressions import Col

from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.beat_buffer import BeatBuffer
from stores.backends.orm.pruning import delete_batch, table_retention
from stores.clock import Clock, system_clock
from stores.contracts import EventSink
from stores.errors import AgentExpired, NotFound
from stores.lifecycle import agent_payload, distinct_agents
from stores.models import Agent
from stores.retention_types import TableRetention
from stores.types import AgentRecord, AgentState, EventDraft, HeartbeatOutcome, HeartbeatResult, Page

ExpiryHook = Callable[[Sequence[AgentRecord], datetime], None]

# Agents per statement when the buffer writes pending heartbeats.
FLUSH_BATCH = 500
# A heartbeat is answered from memory when this process saw the agent online within this share of the
# TTL. The rest of the TTL covers the flush (at most a tenth of the TTL, see settings), so no sweep
# anywhere can have expired an agent whose last beat here was that recent.
KNOWN_FOR = 0.9

_BEAT_RETURNS = ("name", "registered_at", "state_changed_at", "metadata")

Columns = list[tuple[Col, list[Any]]]


def _returned_columns(names: tuple[str, ...]) -> Columns:
    """Agent columns as a RETURNING clause reads them, each with the converters that load it as the model
    field would (the database's, then the field's); made once per database connection."""
    wrapper = connections[connection.alias]
    made: dict[tuple[str, ...], Columns] = wrapper.__dict__.setdefault("swarm_agent_columns", {})
    if names not in made:
        fields = [cast(Field[Any, Any], Agent._meta.get_field(n)).get_col(Agent._meta.db_table) for n in names]
        made[names] = [(c, wrapper.ops.get_db_converters(c) + c.get_db_converters(wrapper)) for c in fields]
    return made[names]


def _returning(columns: Columns, table: str = "") -> str:
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + connection.ops.quote_name(str(c.target.column)) for c, _ in columns)


def _beat_statement() -> tuple[str, Columns]:
    """The heartbeat's UPDATE ... RETURNING and its returned columns."""
    columns = _returned_columns(_BEAT_RETURNS)
    sql = (
        f"UPDATE {connection.ops.quote_name(Agent._meta.db_table)} SET last_heartbeat = %s "
        "WHERE id = %s AND state = %s AND last_heartbeat >= %s AND heartbeat_logged_at > %s "
        f"RETURNING {_returning(columns)}"
    )
    return sql, columns


def _flush_statement(count: int) -> tuple[str, Columns]:
    """The buffer's UPDATE ... RETURNING for `count` agents, guarded as the single heartbeat's statement,
    and the returned columns (id first). On PostgreSQL the rows are locked in id order first, so two
    processes flushing the same agents queue instead of deadlocking."""
    columns = _returned_columns(("id", *_BEAT_RETURNS))
    table = connection.ops.quote_name(Agent._meta.db_table)
    marks = ", ".join(["%s"] * count)
    guard = "state = %s AND last_heartbeat >= %s AND heartbeat_logged_at > %s"
    if connection.vendor == "postgresql":
        sql = (
            f"WITH locked AS (SELECT id FROM {table} WHERE id IN ({marks}) AND {guard} ORDER BY id FOR UPDATE) "
            f"UPDATE {table} SET last_heartbeat = %s FROM locked WHERE {table}.id = locked.id "
            f"RETURNING {_returning(columns, table)}"
        )
    else:
        sql = (f"UPDATE {table} SET last_heartbeat = %s WHERE id IN ({marks}) AND {guard} "
               f"RETURNING {_returning(columns)}")
    return sql, columns


def _from_db(value: Any, column: Col, converters: list[Any]) -> Any:
    for convert in converters:
        value = convert(value, column, connection)
    return value


def _refreshed(agent_id: UUID, values: Sequence[Any], columns: Columns, now: datetime) -> AgentRecord:
    """The online agent as a heartbeat at `now` left it, from the _BEAT_RETURNS values of its row."""
    name, registered_at, state_changed_at, metadata = (
        _from_db(value, column, converters) for value, (column, converters) in zip(values, columns, strict=True)
    )
    return AgentRecord(agent_id=agent_id, name=name, state=AgentState.ONLINE, registered_at=registered_at,
                       last_heartbeat=now, state_changed_at=state_changed_at, metadata=metadata)


class OrmLifecycleStore:
    def __init__(
        self,
        *,
        events: EventSink,
        ttl_s: float = 30.0,
        heartbeat_log_interval_s: float = 60.0,
        clock: Clock = system_clock,
        expiry_hooks: Sequence[ExpiryHook] = (),
    ) -> None:
        self.events = events
        self._ttl = timedelta(seconds=ttl_s)
        self._log_interval = timedelta(seconds=heartbeat_log_interval_s)
        self._clock = clock
        self._hooks = list(expiry_hooks)
        self._buffer: BeatBuffer | None = None

    def start_heartbeat_buffer(self, flush_s: float) -> None:
        """From now on, answer the heartbeats of agents this process saw online within 0.9 TTL from
        memory and write them in batches; the caller runs flush_heartbeats() every `flush_s` seconds
        (stores/backends/orm/beat_buffer.py). Without this, every heartbeat is written before its answer."""
        if self._buffer is None:
            self._buffer = BeatBuffer(flush_s)

    @translate_db_errors
    def flush_heartbeats(self) -> int:
        """Write the pending heartbeats as batch heartbeats (500 agents a batch); returns how many agents."""
        buffer = self._buffer
        if buffer is None:
            return 0
        with buffer.flush_lock:
            beats = buffer.drain()
            for start in range(0, len(beats), FLUSH_BATCH):
                try:
                    self._flush_batch(buffer, beats[start:start + FLUSH_BATCH])
                except BaseException:
                    buffer.restore(beats[start:])
                    raise
            buffer.flushed(self._clock.now() - self._ttl * KNOWN_FOR)
        return len(beats)

    def _flush_batch(self, buffer: BeatBuffer, beats: list[tuple[UUID, datetime]]) -> None:
        """One guarded UPDATE ... RETURNING for the agents still online, with no logged beat due, and fresh
        when their beat was answered (broadcast live, as the single heartbeat's one statement); the others
        (a logged beat due, expired, offline, unknown) go through heartbeat_many, which logs, expires or
        reports them."""
        now = self._clock.now()
        ids = [agent_id for agent_id, _ in beats]
        refreshed = self._beat_many_if_fresh(ids, now, min(at for _, at in beats) - self._ttl, buffer)
        for record in refreshed:
            buffer.remember(record)
        if refreshed:
            self.events.emit_many([EventDraft("agent.heartbeat", "agent", str(r.agent_id), agent_payload(r), False)
                                   for r in refreshed], now)
        done = {r.agent_id for r in refreshed}
        rest = [a for a in ids if a not in done]
        if rest:  # heartbeat_many remembers the ones it refreshed
            for result in self.heartbeat_many(rest):
                if result.record is None:  # expired or offline now: its next heartbeat here asks the database
                    buffer.forget(result.agent_id)

    def _beat_many_if_fresh(
        self, ids: list[UUID], now: datetime, cutoff: datetime, buffer: BeatBuffer
    ) -> list[AgentRecord]:
        sql, columns = _flush_statement(len(ids))
        ops = connection.ops
        pk = Agent._meta.pk
        guard = [Agent.State.ONLINE.value, ops.adapt_datetimefield_value(cutoff),
                 ops.adapt_datetimefield_value(now - self._log_interval)]
        stamp = [ops.adapt_datetimefield_value(now)]
        keys = [pk.get_db_prep_value(a, connection) for a in ids]
        params = [*keys, *guard, *stamp] if connection.vendor == "postgresql" else [*stamp, *keys, *guard]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        records = []
        id_column, id_converters = columns[0]
        for row in rows:
            agent_id, rest = _from_db(row[0], id_column, id_converters), tuple(row[1:])
            record = buffer.unchanged(agent_id, rest, now)  # the usual case: converted at an earlier flush
            if record is None:
                record = _refreshed(agent_id, rest, columns[1:], now)
                buffer.read(agent_id, rest)
            records.append(record)
        return records

    def _flush_before_read(self) -> None:
        """Reads in this process see its pending heartbeats (unless inside a transaction, which could roll
        the write back with it)."""
        if self._buffer is not None and self._buffer.has_pending() and not connection.in_atomic_block:
            self.flush_heartbeats()

    def _record(self, row: Agent, now: datetime) -> AgentRecord:
        state = AgentState(row.state)
        changed = row.state_changed_at
        if state == AgentState.ONLINE and row.last_heartbeat < now - self._ttl:
            state, changed = AgentState.EXPIRED, row.last_heartbeat + self._ttl
        return AgentRecord(
            agent_id=row.id,
            name=row.name,
            state=state,
            registered_at=row.registered_at,
            last_heartbeat=row.last_heartbeat,
            state_changed_at=changed,
            metadata=row.metadata,
        )

    @translate_db_errors
    def register(
        self, agent_id: UUID, *, name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> AgentRecord:
        now = self._clock.now()
        with transaction.atomic():
            row = Agent.objects.select_for_update().filter(pk=agent_id).first()
            if row is None:
                row = Agent(id=agent_id, registered_at=now, state_changed_at=now, metadata={})
            elif self._record(row, now).state != AgentState.ONLINE:
                row.registered_at = row.state_changed_at = now
            row.state = Agent.State.ONLINE
            row.last_heartbeat = row.heartbeat_logged_at = now
            row.name = name or row.name
            if metadata is not None:
                row.metadata = dict(metadata)
            row.save()
            record = self._record(row, now)
            self.events.emit("agent.online", "agent", str(agent_id), agent_payload(record), now)
        if self._buffer is not None:
            transaction.on_commit(lambda: self._remember(record))
        return record

    def _remember(self, record: AgentRecord) -> None:
        if self._buffer is not None:
            self._buffer.remember(record)

    @translate_db_errors
    def heartbeat(self, agent_id: UUID) -> AgentRecord:
        now = self._clock.now()
        cutoff = now - self._ttl
        buffer = self._buffer
        if buffer is not None:
            kept = buffer.take(agent_id, now, now - self._ttl * KNOWN_FOR)
            if kept is not None:  # written by the next flush, which also broadcasts it
                return kept
        record = self._beat_if_fresh(agent_id, now, cutoff)
        if record is not None:  # the usual beat: one statement, broadcast live only
            self.events.emit("agent.heartbeat", "agent", str(agent_id), agent_payload(record), now, durable=False)
            if buffer is not None:
                buffer.remember(record)
            return record
        with transaction.atomic():
            row = Agent.objects.filter(pk=agent_id).first()
            if row is None or row.state == Agent.State.OFFLINE:
                raise NotFound(f"agent {agent_id} is not registered", agent_id=str(agent_id))
            # The guard repeats the check in the UPDATE so a concurrent sweep or deregister wins cleanly.
            fresh = Agent.objects.filter(pk=agent_id, state=Agent.State.ONLINE, last_heartbeat__gte=cutoff)
            durable = row.heartbeat_logged_at is None or row.heartbeat_logged_at <= now - self._log_interval
            changes: dict[str, Any] = {"last_heartbeat": now}
            if durable:
                changes["heartbeat_logged_at"] = now
            if fresh.update(**changes) == 1:
                row.last_heartbeat = now
                record = self._record(row, now)
                self.events.emit("agent.heartbeat", "agent", str(agent_id), agent_payload(record), now, durable=durable)
                if buffer is not None:
                    transaction.on_commit(lambda: self._remember(record))
                return record
        if self._expire(Agent.objects.filter(pk=agent_id), now) or row.state != Agent.State.OFFLINE:
            raise AgentExpired(
                f"agent {agent_id} expired after {self._ttl.total_seconds():g}s of silence; register again",
                agent_id=str(agent_id),
            )
        raise NotFound(f"agent {agent_id} is not registered", agent_id=str(agent_id))

    def _beat_if_fresh(self, agent_id: UUID, now: datetime, cutoff: datetime) -> AgentRecord | None:
        """One conditional UPDATE ... RETURNING for an online agent within its TTL whose beat is not due in
        the event log: the agent as refreshed, or None (not registered, offline, expired, or a logged beat
        is due), and the full path decides. The row is read straight from the cursor (no model instance)."""
        sql, columns = _beat_statement()
        ops = connection.ops
        params = [ops.adapt_datetimefield_value(now), Agent._meta.pk.get_db_prep_value(agent_id, connection),
                  Agent.State.ONLINE.value, ops.adapt_datetimefield_value(cutoff),
                  ops.adapt_datetimefield_value(now - self._log_interval)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else _refreshed(agent_id, row, columns, now)

    @translate_db_errors
    def heartbeat_many(self, agent_ids: Sequence[UUID]) -> list[HeartbeatResult]:
        """One locking read, one guarded UPDATE for every live agent (its log stamp moves only where a
        durable heartbeat is due) and one event append, whatever the batch size. Silent agents are expired as
        the single call does, after the refresh has committed."""
        ids = distinct_agents(agent_ids)
        now = self._clock.now()
        cutoff, due_before = now - self._ttl, now - self._log_interval
        refreshed: dict[UUID, AgentRecord] = {}
        with transaction.atomic():
            # Read and lock the named agents in id order, so two batches naming the same agents queue
            # behind each other: a many-row UPDATE alone locks rows in the order it meets them on disk,
            # and two of those deadlocked on PostgreSQL.
            rows = {row.id: row for row in Agent.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
            live = [r for r in rows.values() if r.state == Agent.State.ONLINE and r.last_heartbeat >= cutoff]
            if live:
                live_ids = [r.id for r in live]
                due = Q(heartbeat_logged_at__isnull=True) | Q(heartbeat_logged_at__lte=due_before)
                stamp = Case(When(due, then=Value(now)), default=F("heartbeat_logged_at"))
                # The rows are locked (on SQLite the transaction holds the writer), so no sweep or
                # deregister can change them between the read and this UPDATE.
                Agent.objects.filter(pk__in=live_ids).update(last_heartbeat=now, heartbeat_logged_at=stamp)
                drafts = []
                for row in live:
                    durable = row.heartbeat_logged_at is None or row.heartbeat_logged_at <= due_before
                    row.last_heartbeat = now
                    record = refreshed[row.id] = self._record(row, now)
                    drafts.append(EventDraft("agent.heartbeat", "agent", str(row.id), agent_payload(record), durable))
                self.events.emit_many(drafts, now)
        silent = [a for a, r in rows.items() if a not in refreshed and r.state != Agent.State.OFFLINE]
        expired = {r.agent_id for r in self._expire(Agent.objects.filter(pk__in=silent), now)} if silent else set()
        if self._buffer is not None:  # their next single heartbeats here can be answered from memory
            for record in refreshed.values():
                self._buffer.remember(record)
        results = []
        for agent_id in ids:
            known = rows.get(agent_id)
            if agent_id in refreshed:
                results.append(HeartbeatResult(agent_id, HeartbeatOutcome.OK, refreshed[agent_id]))
            elif known is not None and (agent_id in expired or known.state != Agent.State.OFFLINE):
                results.append(HeartbeatResult(agent_id, HeartbeatOutcome.AGENT_EXPIRED))
            else:
                results.append(HeartbeatResult(agent_id, HeartbeatOutcome.NOT_FOUND))
        return results

    @translate_db_errors
    def deregister(self, agent_id: UUID) -> None:
        if self._buffer is not None:
            self._buffer.forget(agent_id)
        now = self._clock.now()
        with transaction.atomic():
            if Agent.objects.filter(pk=agent_id).exclude(state=Agent.State.OFFLINE).update(
                state=Agent.State.OFFLINE, state_changed_at=now
            ):
                record = self._record(Agent.objects.get(pk=agent_id), now)
                self.events.emit("agent.offline", "agent", str(agent_id), agent_payload(record), now)

    @translate_db_errors
    def get(self, agent_id: UUID) -> AgentRecord:
        self._flush_before_read()
        now = self._clock.now()
        row = Agent.objects.filter(pk=agent_id).first()
        if row is None:
            raise NotFound(f"agent {agent_id} is not registered", agent_id=str(agent_id))
        return self._record(row, now)

    def _effective_state_filter(self, state: AgentState, now: datetime) -> Q:
        stale = Q(state=Agent.State.ONLINE, last_heartbeat__lt=now - self._ttl)
        if state == AgentState.ONLINE:
            return Q(state=Agent.State.ONLINE) & ~stale
        if state == AgentState.EXPIRED:
            return Q(state=Agent.State.EXPIRED) | stale
        return Q(state=Agent.State.OFFLINE)

    @translate_db_errors
    def list_agents(
        self, *, state: AgentState | None = None, ended_since: datetime | None = None, offset: int = 0, limit: int = 50
    ) -> Page[AgentRecord]:
        self._flush_before_read()
        now = self._clock.now()
        rows: QuerySet[Agent] = Agent.objects.all()
        if state is not None:
            rows = rows.filter(self._effective_state_filter(state, now))
        if ended_since is not None:
            # Online rows past their TTL ended at last_heartbeat + TTL; the others when their state changed.
            rows = rows.filter(
                Q(state=Agent.State.ONLINE, last_heartbeat__gte=ended_since - self._ttl)
                | Q(state__in=[Agent.State.OFFLINE, Agent.State.EXPIRED], state_changed_at__gte=ended_since)
            )
        total = rows.count()
        items = [self._record(r, now) for r in rows.order_by("-last_heartbeat", "-id")[offset : offset + limit]]
        return Page(items=items, total=total, offset=offset, limit=limit)

    @translate_db_errors
    def count_by_state(self) -> dict[AgentState, int]:
        self._flush_before_read()
        now = self._clock.now()
        effective = Case(
            When(self._effective_state_filter(AgentState.EXPIRED, now), then=Value(AgentState.EXPIRED.value)),
            default="state",
            output_field=CharField(),
        )
        counts = dict.fromkeys(AgentState, 0)
        for row in Agent.objects.annotate(effective=effective).values("effective").annotate(n=Count("id")):
            counts[AgentState(row["effective"])] += row["n"]
        return counts

    @staticmethod
    def _prunable(before: datetime) -> QuerySet[Agent]:
        return Agent.objects.filter(state__in=[Agent.State.OFFLINE, Agent.State.EXPIRED], state_changed_at__lt=before)

    @translate_db_errors
    def prune_agents(self, before: datetime, *, limit: int) -> int:
        return delete_batch(self._prunable(before), limit)

    @translate_db_errors
    def agents_retention(self, before: datetime) -> TableRetention:
        return table_retention("agents", Agent, "state_changed_at", self._prunable(before))

    @translate_db_errors
    def expire_silent(self) -> Sequence[AgentRecord]:
        self._flush_before_read()  # never expire an agent whose beat this process still holds
        now = self._clock.now()
        return self._expire(Agent.objects.all(), now)

    def _expire(self, rows: QuerySet[Agent], now: datetime) -> list[AgentRecord]:
        """Expire the silent online agents among `rows`, each guarded by a conditional UPDATE."""
        cutoff = now - self._ttl
        expired: list[AgentRecord] = []
        with transaction.atomic():
            candidates = list(rows.filter(state=Agent.State.ONLINE, last_heartbeat__lt=cutoff).order_by("id")[:1000])
            for row in candidates:
                won = Agent.objects.filter(
                    pk=row.pk, state=Agent.State.ONLINE, last_heartbeat__lt=cutoff
                ).update(state=Agent.State.EXPIRED, state_changed_at=now)
                if won:
                    row.state, row.state_changed_at = Agent.State.EXPIRED, now
                    record = self._record(row, now)
                    self.events.emit("agent.expired", "agent", str(row.id), agent_payload(record), now)
                    expired.append(record)
            if expired:
                for hook in self._hooks:
                    hook(expired, now)
        return expired
