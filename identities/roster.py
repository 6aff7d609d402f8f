"""The roster: registration, restore_flow, reconcile actions and managed peer edges (topology)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from identities.errors import DuplicateIdentity
from identities.recovery import RecoveryOps
from identities.status import build_status
from identities.types import (
    AgentBuildContext,
    AgentBuildDraft,
    ContinuityRecord,
    DurableAgentSpec,
    EdgeChanges,
    IdentityEntry,
    IdentityState,
    IdentityStatus,
    ManagedPeerEdge,
    ReconcileAction,
    ReconcileKind,
    ResolveKind,
    RestoreFlowResult,
    RestoreKind,
    RestoreOutcome,
)
from stores.events import check_resume
from stores.types import Event, Page

Customizer = Callable[[DurableAgentSpec, AgentBuildContext, AgentBuildDraft], AgentBuildDraft]
# Spec fields a running agent can take without a respawn (mobkit's HotReload set).
HOT_FIELDS = ("labels", "display_name", "addressability", "context", "additional_instructions",
              "initial_message", "runtime_mode_override")


class TopologyProvider(Protocol):
    def compute_edges(self, identities: Sequence[str], roster: Sequence[DurableAgentSpec]) -> list[ManagedPeerEdge]:
        ...


class FullMeshTopology:
    """Every identity of the roster is a peer of every other."""

    def compute_edges(self, identities: Sequence[str], roster: Sequence[DurableAgentSpec]) -> list[ManagedPeerEdge]:
        return sorted({ManagedPeerEdge.of(a, b) for a, b in itertools.combinations(identities, 2)})


@dataclass(frozen=True)
class StaticTopology:
    edges: Sequence[ManagedPeerEdge]

    def compute_edges(self, identities: Sequence[str], roster: Sequence[DurableAgentSpec]) -> list[ManagedPeerEdge]:
        return sorted(set(self.edges))


def seed_draft(spec: DurableAgentSpec) -> AgentBuildDraft:
    return AgentBuildDraft(
        additional_instructions=spec.additional_instructions, labels=dict(spec.labels), app_context=spec.context
    )


class RosterOps(RecoveryOps):
    # -- registration ----------------------------------------------------------------------------
    def register(
        self, spec: DurableAgentSpec, state: IdentityState = IdentityState.ACTIVE,
        continuity: ContinuityRecord | None = None, *, reason: str = "",
    ) -> IdentityEntry:
        """Insert or replace the identity (spec, state) and, if given, its continuity record."""
        now = self._clock.now()
        with self._atomic():
            entry = self._registry.put(spec, state, now, reason=reason)
            self._leases.ensure(spec.identity)
            if continuity is not None:
                self._continuity.upsert_continuity_record(continuity, self._leases.get(spec.identity).fencing_token)
            self._emit("registered", spec.identity, now, spec=spec.to_json())
            return entry

    def create_identity(self, spec: DurableAgentSpec, *, actor: str = "system") -> IdentityStatus:
        """A new identity, active, with fresh continuity (generation 0). DuplicateIdentity if it exists
        (an uninitialized one, after delete, may be created again)."""
        now = self._clock.now()
        with self._atomic():
            self._registry.create(spec, IdentityState.ACTIVE, now)
            self._leases.ensure(spec.identity)
            record = self._ensure_continuity(spec.identity)
            self._audit(actor, "created", spec.identity, "", now, ok=True,
                        result={"generation": record.generation, "session_id": str(record.session_id)})
            self._emit("registered", spec.identity, now, spec=spec.to_json(), actor=actor)
            return self._status(self._entry(spec.identity), now)

    def _ensure_continuity(self, identity: str) -> ContinuityRecord:
        resolved = self._continuity.resolve_many([identity])[identity]
        if resolved.record is not None:
            self._own_record(resolved.record)
            return resolved.record
        record = self._fresh_record(identity, 0, uuid.uuid4())
        self._continuity.upsert_continuity_record(record, self._leases.get(identity).fencing_token)
        self._own_record(record)
        return record

    def update_spec(self, spec: DurableAgentSpec) -> IdentityEntry:
        now = self._clock.now()
        with self._atomic():
            entry = self._registry.update_spec(spec, now)
            self._emit("spec_updated", spec.identity, now, spec=spec.to_json())
            return entry

    def set_state(self, identity: str, state: IdentityState, *, reason: str = "") -> None:
        """Any state may be set (no transition table, as in the original); emits state_changed."""
        now = self._clock.now()
        with self._atomic():
            self._set_state(identity, state, now, reason)

    # -- reads -----------------------------------------------------------------------------------
    def contains(self, identity: str) -> bool:
        """Registered and materialised: deleted (uninitialized) identities do not count."""
        entry = self._registry.find(identity)
        return entry is not None and entry.state != IdentityState.UNINITIALIZED

    def is_active(self, identity: str) -> bool:
        entry = self._registry.find(identity)
        return entry is not None and entry.state == IdentityState.ACTIVE

    def status(self, identity: str) -> IdentityStatus:
        return self._status(self._entry(identity), self._clock.now())

    def spec(self, identity: str) -> DurableAgentSpec:
        return self._entry(identity).spec

    def list_statuses(self, **filters: Any) -> Page[IdentityStatus]:
        """Identities by name with their status, filtered (state, profile, label, search), in 4 reads."""
        now = self._clock.now()
        page = self._registry.list_identities(**filters)
        names = [e.identity for e in page.items]
        resolved = self._continuity.resolve_many(names)
        leases = self._leases.get_many(names)
        items = [build_status(e, resolved[e.identity], leases[e.identity], now, self._durability_policy)
                 for e in page.items]
        return Page(items=items, total=page.total, offset=page.offset, limit=page.limit)

    def roster_inspect(self) -> dict[str, tuple[DurableAgentSpec, IdentityStatus]]:
        """Every registered identity, whatever its state, with spec and status; sorted by identity."""
        out: dict[str, tuple[DurableAgentSpec, IdentityStatus]] = {}
        offset = 0
        while True:
            page = self.list_statuses(offset=offset, limit=500)
            specs = self._registry.find_many([s.identity for s in page.items])
            out.update({s.identity: (specs[s.identity].spec, s) for s in page.items})
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out

    def subscribe(self, identity: str, *, after: int = 0, limit: int = 500) -> list[Event]:
        """The identity's events after an event id (live delivery is the websocket's job)."""
        self._entry(identity)
        check_resume(self._events, after)
        return self._events.since(after, limit=limit, subject_type="identity", subject_id=identity)

    # -- roster ----------------------------------------------------------------------------------
    @staticmethod
    def validate_roster_uniqueness(specs: Sequence[DurableAgentSpec]) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.identity in seen:
                raise DuplicateIdentity(f"duplicate identity in roster: {spec.identity}", identity=spec.identity)
            seen.add(spec.identity)

    def restore_flow(
        self, roster: Sequence[DurableAgentSpec], topology: TopologyProvider | None = None,
        customizer: Customizer | None = None,
    ) -> RestoreFlowResult:
        """Create or resume every identity of the roster (Created / Resumed / Broken, never dropped),
        then store the topology's managed peer edges. Safe to run again."""
        self.validate_roster_uniqueness(roster)
        names = [s.identity for s in roster]
        states = self._continuity.resolve_many(names)
        edges = topology.compute_edges(names, roster) if topology is not None else []
        outcomes: dict[str, RestoreOutcome] = {}
        for spec in roster:
            context = AgentBuildContext(identity=spec.identity, active_peers=list(names), managed_edges=edges)
            draft = seed_draft(spec)
            if customizer is not None:
                draft = customizer(spec, context, draft)
            outcomes[spec.identity] = self._restore_one(spec, states[spec.identity], draft)
        self.reconcile_managed_peer_edges(edges)
        return RestoreFlowResult(outcomes=dict(sorted(outcomes.items())), managed_edges=edges)

    def _restore_one(self, spec: DurableAgentSpec, resolved: Any, draft: AgentBuildDraft) -> RestoreOutcome:
        now = self._clock.now()
        with self._atomic():
            if resolved.kind == ResolveKind.BROKEN:
                failure = resolved.failure
                # Kept visible (state broken, with why) instead of silently dropped.
                self._registry.put(spec, IdentityState.BROKEN, now, reason=failure.detail)
                self._leases.ensure(spec.identity)
                self._emit("registered", spec.identity, now, outcome=RestoreKind.BROKEN.value,
                           failure=failure.kind.value, detail=failure.detail)
                return RestoreOutcome(RestoreKind.BROKEN, spec.identity, record=failure.record, failure=failure,
                                      draft=draft)
            self._registry.put(spec, IdentityState.ACTIVE, now, reason="restored from roster")
            self._leases.ensure(spec.identity)
            record = self._ensure_continuity(spec.identity)
            snapshot = None
            if resolved.kind == ResolveKind.READY:
                snapshot = self._continuity.load_session_snapshot(record.session_id)
            kind = RestoreKind.RESUMED if snapshot is not None else RestoreKind.CREATED
            self._emit("registered", spec.identity, now, outcome=kind.value, spec=spec.to_json())
            return RestoreOutcome(kind, spec.identity, record=record, snapshot=snapshot, draft=draft)

    def compute_reconcile_actions(self, desired: Sequence[DurableAgentSpec]) -> list[ReconcileAction]:
        """Activate new identities, Retire missing ones, HotReload changed specs of the same profile,
        Respawn a changed profile; nothing for unchanged specs (REQ-33)."""
        self.validate_roster_uniqueness(desired)
        roster = self.roster_inspect()
        current = {i: spec for i, (spec, status) in roster.items() if status.state != IdentityState.UNINITIALIZED}
        retiring = {i for i, (_, status) in roster.items() if status.state == IdentityState.RETIRING}
        wanted = {s.identity: s for s in desired}
        actions = [ReconcileAction(ReconcileKind.ACTIVATE, s.identity, s) for s in desired if s.identity not in current]
        actions += [ReconcileAction(ReconcileKind.RETIRE, i) for i in sorted(current)
                    if i not in wanted and i not in retiring]
        for spec in desired:
            old = current.get(spec.identity)
            if old is None or old == spec:
                continue
            kind = ReconcileKind.RESPAWN if old.profile != spec.profile else ReconcileKind.HOT_RELOAD
            actions.append(ReconcileAction(kind, spec.identity, spec))
        return actions

    def apply_reconcile_actions(
        self, actions: Sequence[ReconcileAction], *, actor: str = "system", reason: str = "reconcile"
    ) -> None:
        for action in actions:
            if action.kind == ReconcileKind.ACTIVATE and action.spec is not None:
                self._restore_one(action.spec, self._continuity.resolve_many([action.identity])[action.identity],
                                  seed_draft(action.spec))
            elif action.kind == ReconcileKind.RETIRE:
                self.retire(action.identity, actor=actor, reason=reason)
            elif action.spec is not None:
                self.update_spec(action.spec)
                if action.kind == ReconcileKind.RESPAWN:
                    self.respawn(action.identity, actor=actor, reason=reason)

    # -- topology --------------------------------------------------------------------------------
    def reconcile_managed_peer_edges(self, desired: Sequence[ManagedPeerEdge]) -> EdgeChanges:
        """Store the desired managed edges; returns what was added, removed and kept."""
        wanted = {ManagedPeerEdge.of(e.a, e.b) for e in desired}
        with self._atomic():
            current: set[ManagedPeerEdge] = set(self._registry.managed_edges())
            self._registry.replace_managed_edges(sorted(wanted))
        return EdgeChanges(added=sorted(wanted - current), removed=sorted(current - wanted),
                           kept=sorted(wanted & current))

    def managed_edges(self) -> list[ManagedPeerEdge]:
        return self._registry.managed_edges()

    def peers(self, identity: str) -> list[str]:
        self._entry(identity)
        return self._registry.peers_of(identity)
