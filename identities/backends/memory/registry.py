"""InMemoryIdentityRegistry: the roster, peer edges, audit log and rejections for tests and embedding."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from identities.audit_filter import AuditFilter
from identities.errors import DuplicateIdentity, UnknownIdentity
from identities.types import (
    AuditRecord,
    DurableAgentSpec,
    IdentityEntry,
    IdentityState,
    ManagedPeerEdge,
    StaleWriteRecord,
)
from stores.backends.memory.pruning import first_prunable, retention
from stores.retention_types import TableRetention
from stores.types import Page


def _page(items: list, offset: int, limit: int) -> Page:  # type: ignore[type-arg]
    return Page(items=items[offset : offset + limit], total=len(items), offset=offset, limit=limit)


class InMemoryIdentityRegistry:
    def __init__(self) -> None:
        self._entries: dict[str, IdentityEntry] = {}
        self._edges: set[ManagedPeerEdge] = set()
        self._audit: list[AuditRecord] = []
        self._rejections: list[StaleWriteRecord] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def create(self, spec: DurableAgentSpec, state: IdentityState, now: datetime) -> IdentityEntry:
        with self._lock:
            old = self._entries.get(spec.identity)
            if old is not None and old.state != IdentityState.UNINITIALIZED:
                raise DuplicateIdentity(f"identity {spec.identity!r} already exists", identity=spec.identity)
            return self.put(spec, state, now)

    def put(self, spec: DurableAgentSpec, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        with self._lock:
            old = self._entries.get(spec.identity)
            changed = old is None or old.state != state
            entry = IdentityEntry(
                spec=spec, state=state, created_at=old.created_at if old else now, updated_at=now,
                state_changed_at=now if changed or old is None else old.state_changed_at,
                state_reason=reason if changed else (old.state_reason if old else ""),
            )
            self._entries[spec.identity] = entry
            return entry

    def find(self, identity: str) -> IdentityEntry | None:
        with self._lock:
            return self._entries.get(identity)

    def find_many(self, identities: Iterable[str]) -> dict[str, IdentityEntry]:
        with self._lock:
            return {i: self._entries[i] for i in identities if i in self._entries}

    def _get(self, identity: str) -> IdentityEntry:
        entry = self._entries.get(identity)
        if entry is None:
            raise UnknownIdentity(f"unknown identity: {identity}", identity=identity)
        return entry

    def update_spec(self, spec: DurableAgentSpec, now: datetime) -> IdentityEntry:
        with self._lock:
            entry = replace(self._get(spec.identity), spec=spec, updated_at=now)
            self._entries[spec.identity] = entry
            return entry

    def set_state(self, identity: str, state: IdentityState, now: datetime, *, reason: str = "") -> IdentityEntry:
        with self._lock:
            entry = replace(self._get(identity), state=state, state_changed_at=now, updated_at=now, state_reason=reason)
            self._entries[identity] = entry
            return entry

    def list_identities(
        self,
        *,
        state: IdentityState | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        search: str | None = None,
        identities: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[IdentityEntry]:
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: e.identity)
        if state is not None:
            entries = [e for e in entries if e.state == state]
        if profile is not None:
            entries = [e for e in entries if e.spec.profile == profile]
        if label is not None:
            entries = [e for e in entries if e.spec.labels.get(label[0]) == label[1]]
        if search:
            needle = search.lower()
            entries = [
                e for e in entries if needle in e.identity.lower() or needle in (e.spec.display_name or "").lower()
            ]
        if identities is not None:
            wanted = set(identities)
            entries = [e for e in entries if e.identity in wanted]
        return _page(entries, offset, limit)

    def managed_edges(self) -> list[ManagedPeerEdge]:
        with self._lock:
            return sorted(self._edges)

    def replace_managed_edges(self, edges: Sequence[ManagedPeerEdge]) -> None:
        with self._lock:
            self._edges = set(edges)

    def peers_of(self, identity: str) -> list[str]:
        with self._lock:
            return sorted(e.other(identity) for e in self._edges if identity in (e.a, e.b))

    def record_audit(self, record: AuditRecord) -> AuditRecord:
        with self._lock:
            saved = replace(record, id=next(self._ids))
            self._audit.append(saved)
            return saved

    def list_audit(
        self, *, identity: str | None = None, offset: int = 0, limit: int = 50, where: AuditFilter | None = None
    ) -> Page[AuditRecord]:
        with self._lock:
            rows = [r for r in reversed(self._audit) if (identity is None or r.identity == identity)
                    and (where is None or where.matches(r))]
        return _page(rows, offset, limit)

    def record_rejection(self, record: StaleWriteRecord) -> StaleWriteRecord:
        with self._lock:
            saved = replace(record, id=next(self._ids))
            self._rejections.append(saved)
            return saved

    def list_rejections(
        self, *, identity: str | None = None, since: datetime | None = None, until: datetime | None = None,
        offset: int = 0, limit: int = 50,
    ) -> Page[StaleWriteRecord]:
        with self._lock:
            rows = [r for r in reversed(self._rejections) if (identity is None or r.identity == identity)
                    and (since is None or r.created_at >= since) and (until is None or r.created_at < until)]
        return _page(rows, offset, limit)

    # -- retention -------------------------------------------------------------------------------
    def prune_audit(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            doomed = {id(r) for r in first_prunable(self._audit, lambda r: r.created_at < before, limit)}
            self._audit = [r for r in self._audit if id(r) not in doomed]
            return len(doomed)

    def audit_retention(self, before: datetime) -> TableRetention:
        with self._lock:
            return retention("audit", list(self._audit), lambda r: r.created_at, lambda r: r.created_at < before)

    def _rejection_prunable(self, before: datetime) -> Callable[[StaleWriteRecord], bool]:
        return lambda r: r.created_at < before or r.identity not in self._entries

    def prune_rejections(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            doomed = {id(r) for r in first_prunable(self._rejections, self._rejection_prunable(before), limit)}
            self._rejections = [r for r in self._rejections if id(r) not in doomed]
            return len(doomed)

    def rejections_retention(self, before: datetime) -> TableRetention:
        with self._lock:
            rows = list(self._rejections)
            return retention("rejections", rows, lambda r: r.created_at, self._rejection_prunable(before))
