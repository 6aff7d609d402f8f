"""The storage contracts. Every backend (InMemory*, Orm*) passes the same conformance suite.

Contracts are synchronous: the ORM needs transaction.atomic(). Async callers use sync_to_async.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from stores.metrics_types import MetricIncrement, MetricPoint
from stores.output_types import OutputDraft, OutputEvent, OutputKind, OutputRecord, OutputRef
from stores.persistence_types import (
    AttachmentIntent,
    AttachmentManifestEntry,
    DurabilityTier,
    GcReport,
    PersistedSessionRead,
    RuntimeCommit,
    RuntimeCommitResult,
    SessionMeta,
    SessionNodeRecord,
    SessionReadScope,
    SessionSummary,
    VacuumReport,
)
from stores.queue_types import (
    ClaimHandle,
    CompletionResult,
    QueuedWorkBatch,
    QueuedWorkBatchDraft,
    QueuedWorkClaim,
    QueuedWorkClaimBoundary,
    QueuedWorkCompletion,
)
from stores.retention_types import PruneRun, TableRetention
from stores.runtime_state import MachineLifecycleCommit
from stores.runtime_types import (
    LogicalRuntimeId,
    OAuthFlowUpdate,
    RunBoundaryReceipt,
    RuntimeState,
    RuntimeSummary,
    SessionDelta,
    StoredInputState,
    StoredReceipt,
)
from stores.thread_types import (
    CheckpointPut,
    CheckpointQuery,
    CheckpointRecord,
    PendingWrite,
    PruneStrategy,
    ThreadSummary,
)
from stores.types import AgentRecord, AgentState, Event, EventDraft, Fence, HeartbeatResult, Page


class EventSink(Protocol):
    """Where stores record what changed: appended in the caller's transaction, published after commit."""

    def emit(
        self,
        kind: str,
        subject_type: str,
        subject_id: str,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        durable: bool = True,
    ) -> Event:
        """Append an event (durable=False: publish live only, no log entry, id None)."""
        ...

    def emit_many(self, drafts: Sequence[EventDraft], now: datetime) -> list[Event]:
        """Append several events as `emit` would, in order, in as few statements as the backend can
        (one insert for every durable draft); each is published after commit."""
        ...

    def since(
        self, after_id: int, *, limit: int = 500, subject_type: str | None = None, subject_id: str | None = None
    ) -> list[Event]:
        """Durable events with id > after_id, oldest first, optionally for one subject."""
        ...

    def recent(self, *, limit: int = 50, subject_type: str | None = None, subject_id: str | None = None) -> list[Event]:
        """The newest durable events, newest first."""
        ...

    def latest_id(self) -> int:
        """The id of the newest durable event, 0 when the log is empty."""
        ...

    def prune_events(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` events created before `before`, lowest ids first, in one short
        transaction that also raises the pruned watermark to the highest id deleted; how many."""
        ...

    def pruned_through(self) -> int:
        """The highest event id ever pruned (0: none). Resuming after an id below it has missed events."""
        ...

    def events_retention(self, before: datetime) -> TableRetention:
        """The log's rows, size and oldest event, and how many events are older than `before`."""
        ...


class LifecycleStore(Protocol):
    """Agent liveness: register, heartbeat, deregister; silent agents expire after the TTL."""

    def register(
        self, agent_id: UUID, *, name: str = "", metadata: Mapping[str, Any] | None = None
    ) -> AgentRecord:
        """Upsert: the agent is online with last_heartbeat = now. Never fails for a known agent."""
        ...

    def heartbeat(self, agent_id: UUID) -> AgentRecord:
        """Refresh liveness. NotFound if unknown or offline; AgentExpired if silent past the TTL."""
        ...

    def heartbeat_many(self, agent_ids: Sequence[UUID]) -> list[HeartbeatResult]:
        """Heartbeat each agent as `heartbeat` would, one result per id in order, in a fixed number of
        statements: OK, AGENT_EXPIRED (expired and freed like the single call) or NOT_FOUND; never raises
        for one agent. Ids must be distinct (InvalidInput)."""
        ...

    def start_heartbeat_buffer(self, flush_s: float) -> None:
        """Let heartbeats of agents known online be answered at once and written within about `flush_s`
        seconds, in batches; the caller then runs flush_heartbeats() that often. Reads in this process
        still see every answered heartbeat."""
        ...

    def flush_heartbeats(self) -> int:
        """Write the heartbeats answered but not written yet; how many agents (0 without a buffer)."""
        ...

    def deregister(self, agent_id: UUID) -> None:
        """Mark offline, keeping the row as history. Idempotent: unknown or offline agents are fine."""
        ...

    def get(self, agent_id: UUID) -> AgentRecord:
        """One agent with its effective state (an online agent past the TTL reads as expired). NotFound."""
        ...

    def list_agents(
        self, *, state: AgentState | None = None, ended_since: datetime | None = None, offset: int = 0, limit: int = 50
    ) -> Page[AgentRecord]:
        """Agents by effective state, most recently seen first. With `ended_since`, only the online ones
        and those that went offline or expired at or after it (an agent past its TTL ended at its last
        heartbeat plus the TTL, swept or not)."""
        ...

    def count_by_state(self) -> dict[AgentState, int]:
        """How many agents are in each effective state."""
        ...

    def prune_agents(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` offline or expired agents whose state changed before `before` (online
        agents are never pruned); how many."""
        ...

    def agents_retention(self, before: datetime) -> TableRetention:
        """Agent rows, size, the oldest state change, and how many a prune at `before` would remove."""
        ...

    def expire_silent(self) -> Sequence[AgentRecord]:
        """The sweep: persist expiry of online agents silent past the TTL, emit agent.expired, run hooks."""
        ...


class RuntimeStore(Protocol):
    """Atomic persistence of runtime state per LogicalRuntimeId (semantics 4); runtimes are isolated.

    Fenced commits (fence given) check it with the store's FenceGuard inside their transaction."""

    def commit_session_snapshot(
        self, runtime_id: LogicalRuntimeId, session_delta: SessionDelta, *, fence: Fence | None = None
    ) -> None:
        """Replace the runtime's snapshot; no receipt, no inputs. InvalidSnapshot, StaleFencingToken."""
        ...

    def atomic_apply(
        self,
        runtime_id: LogicalRuntimeId,
        session_delta: SessionDelta | None,
        receipt: RunBoundaryReceipt,
        input_updates: Sequence[StoredInputState],
        session_store_key: UUID | None = None,
        *,
        fence: Fence | None = None,
    ) -> None:
        """Snapshot, receipt and input upserts in one commit, or nothing: WriteFailed (duplicate receipt),
        InvalidSnapshot, SessionKeyMismatch, StaleFencingToken. The key only validates the snapshot."""
        ...

    def load_input_states(self, runtime_id: LogicalRuntimeId) -> list[StoredInputState]:
        """All input states in first-insertion order (an update keeps its place); [] if none."""
        ...

    def load_boundary_receipt(
        self, runtime_id: LogicalRuntimeId, run_id: UUID, sequence: int
    ) -> RunBoundaryReceipt | None:
        """The receipt stored under (runtime, run_id, sequence), or None."""
        ...

    def load_session_snapshot(self, runtime_id: LogicalRuntimeId) -> bytes | None:
        """The latest committed snapshot bytes, exactly as committed, or None."""
        ...

    def persist_input_state(self, runtime_id: LogicalRuntimeId, state: StoredInputState) -> None:
        """Upsert one input state by (runtime, input_id) (durable before ack)."""
        ...

    def load_input_state(self, runtime_id: LogicalRuntimeId, input_id: UUID) -> StoredInputState | None:
        """One input state, or None."""
        ...

    def load_runtime_state(self, runtime_id: LogicalRuntimeId) -> RuntimeState | None:
        """The last committed RuntimeState, or None."""
        ...

    def commit_machine_lifecycle(
        self,
        runtime_id: LogicalRuntimeId,
        commit: MachineLifecycleCommit,
        input_states: Sequence[StoredInputState],
        *,
        fence: Fence | None = None,
    ) -> None:
        """Runtime state and input upserts in one commit. InvalidTransition if the state moved since the
        commit was planned; StaleFencingToken."""
        ...

    def auth_authority_key(self) -> str | None:
        """Stable key shared by every handle on the same durable store; None for ephemeral stores."""
        ...

    def persist_auth_oauth_flow_snapshot(self, snapshot_json: bytes) -> None:
        """Replace the one global OAuth-flow blob (a UTF-8 JSON object). InvalidSnapshot."""
        ...

    def load_auth_oauth_flow_snapshot(self) -> bytes | None:
        """The global OAuth-flow blob, or None."""
        ...

    def update_auth_oauth_flow_snapshot(self, update: OAuthFlowUpdate) -> bytes:
        """Under a lock: store update(current or None) and return it. If update raises, nothing changes."""
        ...

    def persist_ops_lifecycle(self, runtime_id: LogicalRuntimeId, snapshot: Mapping[str, Any]) -> None:
        """Upsert the runtime's ops-lifecycle snapshot (an opaque JSON object)."""
        ...

    def load_ops_lifecycle(self, runtime_id: LogicalRuntimeId) -> dict[str, Any] | None:
        """The runtime's ops-lifecycle snapshot, or None."""
        ...

    def get_runtime(self, runtime_id: LogicalRuntimeId) -> RuntimeSummary:
        """One runtime with stored data of any kind. NotFound."""
        ...

    def list_runtimes(
        self, *, state: RuntimeState | None = None, offset: int = 0, limit: int = 50
    ) -> Page[RuntimeSummary]:
        """Runtimes, most recently updated first, optionally in one state."""
        ...

    def list_receipts(self, runtime_id: LogicalRuntimeId, *, offset: int = 0, limit: int = 50) -> Page[StoredReceipt]:
        """The runtime's receipts, newest commit first."""
        ...


class OutputStore(Protocol):
    """Immutable task outputs and their lineage (semantics 2, SPEC 3). "Latest" is by insertion
    sequence, never by timestamp; parents must exist, so the lineage graph never dangles."""

    def append(
        self,
        task_id: str,
        attempt: int,
        producer_agent: str,
        event: OutputEvent,
        parent_refs: Sequence[OutputRef] = (),
        *,
        fence: Fence | None = None,
        idempotency_key: str | None = None,
    ) -> OutputRecord:
        """Store a new record under a fresh unique ref, all or nothing, emitting output.appended.
        UnknownParent (checked in the same transaction), InvalidInput (a parent named twice),
        StaleFencingToken / FencingUnavailable (fenced appends), IdempotencyKeyReused. A retry with
        the producer's same idempotency key and the same content returns the first record."""
        ...

    def append_many(self, drafts: Sequence[OutputDraft]) -> list[OutputRecord]:
        """Append every draft as `append` would (the same checks, refs, lineage and events), all or
        nothing in one transaction, in a fixed number of statements; records in draft order (their seq
        ascending). A draft whose producer's idempotency key was used answers that record (or
        IdempotencyKeyReused for another content, failing the batch); one key twice is InvalidInput."""
        ...

    def get(self, ref: OutputRef) -> OutputRecord:
        """One record by ref. NotFound."""
        ...

    def get_many(self, refs: Sequence[OutputRef]) -> dict[OutputRef, OutputRecord]:
        """The records of the refs that exist (unknown refs are simply absent)."""
        ...

    def get_latest_by_name(self, name: str) -> OutputRecord:
        """The newest record whose producer_agent is `name`, across all tasks and attempts. NotFound."""
        ...

    def get_latest_by_name_in_run(self, task_id: str, attempt: int, name: str) -> OutputRecord:
        """The newest record of producer `name` within one (task_id, attempt). NotFound."""
        ...

    def list_for_attempt(self, task_id: str, attempt: int) -> list[OutputRecord]:
        """Every record of (task_id, attempt) in insertion order; [] for an unknown pair."""
        ...

    def list_outputs(
        self,
        *,
        task_id: str | None = None,
        attempt: int | None = None,
        producer_agent: str | None = None,
        kind: OutputKind | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[OutputRecord]:
        """Records matching every given filter, newest first."""
        ...

    def prune_outputs(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` outputs created before `before` that no output names as a parent,
        with their own lineage edges; how many. Lineage never dangles: an output a kept output names
        as parent is kept (chains of old outputs go leaf first, over successive calls)."""
        ...

    def outputs_retention(self, before: datetime) -> TableRetention:
        """Output rows, size, the oldest, and how many the next prune at `before` would remove."""
        ...

    def children_of(self, ref: OutputRef, *, offset: int = 0, limit: int = 100) -> Page[OutputRecord]:
        """Records naming `ref` among their parents, in insertion order. NotFound for an unknown ref."""
        ...

    def wait_for_next(
        self, producer_agent: str, *, after_ref: OutputRef | None = None, timeout_s: float
    ) -> OutputRecord | None:
        """The producer's oldest record appended after `after_ref` (default: after the call began),
        waiting up to timeout_s, woken by the append itself; None on timeout. NotFound (after_ref)."""
        ...


class RuntimePersistence(Protocol):
    """One session's settled state (semantics 5): graph and head commits, checkpoints, metadata, the
    durable inbox (queued work) and the attachment manifest. A store is bound to one session id: a
    write naming another session raises SessionBindingMismatch. Fenced writes check their fence with
    the store's FenceGuard inside their own transaction (StaleFencingToken, nothing written)."""

    @property
    def session_id(self) -> str:
        """The session this store is bound to."""
        ...

    def durability_tier(self) -> DurabilityTier:
        """INLINE for ephemeral backends, DURABLE for database ones."""
        ...

    def load_session(self, scope: SessionReadScope) -> PersistedSessionRead | None:
        """The head with its graph in the scope (tombstoned nodes hidden); None before the first commit."""
        ...

    def load_node(self, node_id: str) -> SessionNodeRecord | None:
        """One live node; None if missing or tombstoned."""
        ...

    def commit_runtime_state(self, commit: RuntimeCommit, *, fence: Fence | None = None) -> RuntimeCommitResult:
        """Atomic, checked in this order: binding (SessionBindingMismatch), turn idempotency (a same-hash
        retry returns the stored result and applies nothing; RuntimeTurnCommitConflict), head CAS
        (HeadRevisionConflict), fence, claim ownership of every completion (QueuedWorkClaimExpired);
        then checkpoint, ledger, graph (SessionNodeConflict), head + 1, attachments, turn record."""
        ...

    def save_session_meta(self, meta: SessionMeta) -> None:
        """Upsert the session's metadata (last write wins)."""
        ...

    def load_session_meta(self) -> SessionMeta | None:
        """The metadata, or None."""
        ...

    def tombstone_nodes(self, node_ids: Sequence[str]) -> None:
        """Hide nodes from every read; unknown ids are ignored."""
        ...

    def vacuum(self, *, dry_run: bool = False) -> VacuumReport:
        """Delete tombstoned nodes; reports only what this call removed (dry run: would remove)."""
        ...

    def gc_unreachable(self, *, dry_run: bool = False) -> GcReport:
        """Mark from the head's checkpoint manifest, sweep unreached blobs. Never raises: an unreadable
        live manifest or a backend failure deletes nothing and says why in `aborted`."""
        ...

    def enqueue_queued_work(self, draft: QueuedWorkBatchDraft) -> QueuedWorkBatch:
        """Queue a batch for this session. Idempotent by (session, source_key): a repeat returns the
        originally stored batch and inserts nothing. Producers (the identity runtime's send/dispatch)
        call it with a turn_input payload and a source key derived from their idempotency key."""
        ...

    def claim_ready_queued_work(
        self, session_id: str, owner_id: str, boundary: QueuedWorkClaimBoundary, lease_ttl_ms: int, max_batches: int
    ) -> QueuedWorkClaim | None:
        """Claim the next ready, unheld group (semantics 5.6: the head gates, join groups extend); None."""
        ...

    def claim_ready_queued_work_by_batch_ids(
        self,
        session_id: str,
        owner_id: str,
        boundary: QueuedWorkClaimBoundary,
        lease_ttl_ms: int,
        batch_ids: Sequence[str],
    ) -> QueuedWorkClaim | None:
        """Claim exactly these ids if they are the next ready group, in order; otherwise abandon and None."""
        ...

    def claim_ready_queued_work_many(
        self,
        session_id: str,
        owner_id: str,
        boundary: QueuedWorkClaimBoundary,
        lease_ttl_ms: int,
        max_batches: int,
        max_claims: int,
    ) -> list[QueuedWorkClaim]:
        """Up to max_claims claims, each the group claim_ready_queued_work would take next (its own claim
        id, lease token and event), taken together in one transaction; [] when nothing is ready."""
        ...

    def renew_queued_work_claim(self, claim: ClaimHandle, lease_ttl_ms: int) -> QueuedWorkClaim:
        """Extend the claim to now + ttl. QueuedWorkClaimExpired unless it still holds every batch."""
        ...

    def abandon_queued_work_claim(self, claim: ClaimHandle) -> None:
        """Release the claim's batches (fencing counters kept). A no-op if it holds nothing."""
        ...

    def complete_queued_work(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[QueuedWorkBatch]:
        """Delete claimed batches without a head commit, under the same guard as a commit's completions
        (QueuedWorkClaimExpired, all or nothing). An extension for inbox-only workers."""
        ...

    def complete_queued_work_many(
        self, completions: Sequence[QueuedWorkCompletion], *, fence: Fence | None = None
    ) -> list[CompletionResult]:
        """Complete each claim that still holds every batch it names, in one transaction; the others
        answer CLAIM_EXPIRED and change nothing. The fence is checked once for all (StaleFencingToken:
        nothing completed). A claim named twice is InvalidInput."""
        ...

    def cancel_queued_work_batch(self, session_id: str, batch_id: str) -> QueuedWorkBatch | None:
        """Delete and return a batch not held by a live claim; None if missing or held."""
        ...

    def release_claims(self, why: str) -> int:
        """End every claim on this session at once (its owner was fenced out): the batches are claimable
        again, with queue.abandoned events saying why; how many batches. Runs in the caller's transaction."""
        ...

    def list_queued_work(self, session_id: str, *, offset: int = 0, limit: int | None = None) -> list[QueuedWorkBatch]:
        """Every batch of the session, claimed ones included, in enqueue order."""
        ...

    def list_pending_queued_work(
        self, session_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[QueuedWorkBatch]:
        """Batches not held by a live claim (not-yet-available ones included), in enqueue order."""
        ...

    def record_intent(self, intent: AttachmentIntent) -> None:
        """Write-ahead an attachment; a repeated id keeps the first intent."""
        ...

    def commit_refs(self, session_id: str, attachment_ids: Sequence[str]) -> None:
        """Mark the session's attachments committed, keeping the first commit time; unknown ids ignored."""
        ...

    def list_uncommitted(self, older_than_epoch_ms: int) -> list[AttachmentManifestEntry]:
        """Uncommitted intents with intent_at <= older_than (inclusive), oldest first."""
        ...

    def forget(self, attachment_id: str) -> None:
        """Delete an attachment intent; a missing id is fine."""
        ...


class RuntimePersistenceFactory(Protocol):
    """Opens per-session RuntimePersistence stores over one shared storage, plus cross-session reads."""

    def open(self, session_id: str, *, initial_meta: SessionMeta | None = None) -> RuntimePersistence:
        """The store bound to session_id; initial_meta is saved only if the session has no metadata yet."""
        ...

    def list_sessions(self, *, offset: int = 0, limit: int = 50) -> Page[SessionSummary]:
        """Every known session (committed, described or with queued work), most recently updated first."""
        ...

    def get_summary(self, session_id: str) -> SessionSummary:
        """One session's summary. NotFound."""
        ...

    def release_claims_of_owner(self, owner_id: str) -> int:
        """Make every batch claimed by owner_id claimable again (its agent expired); how many batches."""
        ...

    def prune_finished_work(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` finished (completed or cancelled) batch records enqueued before `before`;
        open batches are never touched. A replayed enqueue of a pruned key queues anew; how many."""
        ...

    def finished_work_retention(self, before: datetime) -> TableRetention:
        """Queued-work rows, size, the oldest enqueue, and how many finished records predate `before`."""
        ...


class FenceGuard(Protocol):
    """Fencing for every write path: called by a store inside the transaction of a fenced write."""

    def check(self, fence: Fence, *, operation: str) -> None:
        """Raise StaleFencingToken unless fence.token is the identity's current token and its lease is live.

        Must run inside the caller's transaction so the check and the write are one atomic step; on
        databases with row locks it locks the identity's lease row so a concurrent grant waits."""
        ...


class PruneLedger(Protocol):
    """When the periodic jobs (prune, upkeep) are due, shared by every server process, and past runs."""

    def claim_due(self, job: str, now: datetime, hold_s: float) -> bool:
        """True for exactly one caller when `job` is due at `now` (it is then held for hold_s seconds, so
        a concurrent process gets False); a job never seen before is due."""
        ...

    def reschedule(self, job: str, at: datetime) -> None:
        """Make `job` due next at `at`."""
        ...

    def next_due(self, job: str) -> datetime | None:
        """When `job` is due next (None: never scheduled, so due now)."""
        ...

    def record_run(self, run: PruneRun) -> PruneRun:
        """Keep the record of one prune pass (the newest few hundred are kept)."""
        ...

    def recent_runs(self, *, limit: int = 10) -> list[PruneRun]:
        """The newest prune runs, newest first."""


class ThreadStore(Protocol):
    """Checkpoint threads (what a LangGraph checkpointer keeps), fenced by their owner's lease.

    A thread belongs to the identity whose fenced write created it. Every write to an owned thread must
    carry the owner's current token, checked with the store's FenceGuard inside the write's own
    transaction: missing, another identity's or an older token raises StaleFencingToken and nothing is
    written. Writes to threads nobody owns are unfenced. Reads are never fenced."""

    def put_checkpoint(self, put: CheckpointPut, *, fence: Fence | None = None) -> CheckpointRecord:
        """Store (or replace, same thread/namespace/id) a checkpoint; InvalidInput for a bad filter key."""
        ...

    def put_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[PendingWrite],
        *, fence: Fence | None = None,
    ) -> None:
        """Pending writes of a checkpoint (they may arrive before the checkpoint's own put). A repeated
        (task_id, idx) is kept once; special channels (negative idx) are replaced."""
        ...

    def get_checkpoint(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        """That checkpoint (or the newest of the namespace) with its pending writes; None if absent."""
        ...

    def list_checkpoints(self, query: CheckpointQuery) -> list[CheckpointRecord]:
        """Newest first; metadata filters match JSON-equal members; before/limit page."""
        ...

    def delete_thread(self, thread_id: str, *, fence: Fence | None = None) -> None:
        """Remove a thread's checkpoints and writes in every namespace (no-op if absent)."""
        ...

    def delete_for_runs(self, run_ids: Sequence[str], *, fence: Fence | None = None) -> None:
        """Remove every checkpoint whose metadata run_id is listed, with its writes, in every thread."""
        ...

    def copy_thread(self, source_thread_id: str, target_thread_id: str, *, fence: Fence | None = None) -> None:
        """Copy every checkpoint and write of a thread to another (which the fence's identity then owns)."""
        ...

    def prune(self, thread_ids: Sequence[str], strategy: PruneStrategy, *, fence: Fence | None = None) -> None:
        """keep_latest: keep the newest checkpoint per namespace (and its writes); delete: remove all."""
        ...

    def list_threads(self, *, identity: str | None = None, offset: int = 0, limit: int = 50) -> Page[ThreadSummary]:
        """Threads (of one owner, or all), most recently written first."""


class MetricsRollup(Protocol):
    """Counters kept per minute at write time (the event log's append path adds to them), so a chart
    over an hour or a day reads at most a day of buckets and never the event log."""

    def add(self, increments: Sequence[MetricIncrement], minute: int) -> None:
        """Add each increment to its (metric, scope) bucket for `minute` (minutes since the epoch), in the
        caller's transaction; queue_delta also moves its running total."""
        ...

    def series(
        self, metrics: Sequence[str], scope_type: str, scope_id: str, *, start_minute: int, end_minute: int,
        step: int = 1,
    ) -> dict[str, list[MetricPoint]]:
        """Per metric, one point per `step` minutes from start_minute (inclusive) to end_minute (exclusive),
        oldest first, empty buckets included as zeros. InvalidInput for step < 1 or a range over 10,000 points."""
        ...

    def total(self, metric: str, scope_type: str, scope_id: str) -> int:
        """The running total of a metric that keeps one (queue_delta); 0 for the others."""
        ...

    def buckets_retention(self, before: datetime) -> TableRetention:
        """The buckets table: rows (running totals included), oldest bucket, and how many buckets a prune
        with the same cutoff would remove."""
        ...

    def prune_buckets(self, before: datetime, *, limit: int) -> int:
        """Remove at most `limit` minute and hour buckets that ended at or before `before`, oldest first;
        running totals stay. Returns how many went."""
        ...
