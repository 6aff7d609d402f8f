"""OrmLookups: the dashboard's cross-store lookups, each a bounded query on an indexed column."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from django.db.models import Q

from identities.lookups import SEARCH_LIMIT, AgentClaim, AgentRejection, HeldLease, SearchHit, SessionOwner
from identities.models import CheckpointRow, ContinuityRow, Identity, LeaseRow, StaleWriteRejection
from identities.types import LeaseState
from stores.backends.orm.base import translate_db_errors
from stores.models import Agent, Output, PersistedSession, QueuedWorkBatchRecord

ID_START = re.compile(r"[0-9a-fA-F]{4}[0-9a-fA-F-]{0,31}")


def _uuid(text: str) -> UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _lease(row: LeaseRow, now: datetime, state: str | None = None) -> HeldLease:
    live = row.state == LeaseState.HELD and row.expires_at is not None and row.expires_at > now
    shown = state or ("held" if live else ("expired" if row.state == LeaseState.HELD else row.state))
    return HeldLease(row.identity, row.fencing_token, shown, row.acquired_at, row.expires_at, row.lost_reason)


class OrmLookups:
    @translate_db_errors
    def agent_leases(self, agent_id: UUID, now: datetime) -> tuple[list[HeldLease], list[HeldLease]]:
        rows = LeaseRow.objects.filter(Q(holder=agent_id) | Q(last_holder=agent_id)).order_by("identity")[:500]
        holds: list[HeldLease] = []
        held: list[HeldLease] = []
        for row in rows:
            lease = _lease(row, now)
            (holds if lease.state == "held" and row.holder == agent_id else held).append(lease)
        return holds, held

    @translate_db_errors
    def agent_claims(self, agent_id: UUID, *, limit: int = 50) -> list[AgentClaim]:
        rows = (
            QueuedWorkBatchRecord.objects.filter(claim_owner=str(agent_id))
            .order_by("-claimed_at_ms")
            .values_list("session_id", "batch_id", "claim_id", "outcome")[:limit]
        )
        return [AgentClaim(str(s), b, c or "", o or "claimed") for s, b, c, o in rows]

    @translate_db_errors
    def agent_rejections(self, agent_id: UUID, *, limit: int = 50) -> list[AgentRejection]:
        rows = StaleWriteRejection.objects.filter(agent_id=agent_id).order_by("-id")[:limit]
        return [AgentRejection(r.identity, r.operation, r.presented_token, r.current_token, r.created_at) for r in rows]

    @translate_db_errors
    def agent_names(self, agent_ids: Iterable[UUID | str]) -> Mapping[str, str]:
        ids = {u for u in (_uuid(str(a)) for a in agent_ids if a) if u is not None}
        if not ids:
            return {}
        return {str(i): name or str(i)[:8] for i, name in Agent.objects.filter(id__in=ids).values_list("id", "name")}

    @translate_db_errors
    def session_owners(self, session_ids: Iterable[str]) -> Mapping[str, SessionOwner]:
        ids = {u for u in (_uuid(str(s)) for s in session_ids) if u is not None}
        if not ids:
            return {}
        owners = {
            str(s): SessionOwner(i, g)
            for s, i, g in ContinuityRow.objects.filter(session_id__in=ids).values_list(
                "session_id", "identity", "generation"
            )
        }
        missing = ids - {uuid.UUID(s) for s in owners}
        if missing:  # an earlier generation's session: its checkpoints still name it
            for s, i, g in CheckpointRow.objects.filter(session_id__in=missing).values_list(
                "session_id", "identity", "generation"
            ).distinct():
                owners.setdefault(str(s), SessionOwner(i, g))
        return owners

    @translate_db_errors
    def search(self, text: str, *, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        text = text.strip().replace("\x00", "")[:200]
        if not text:
            return []
        hits: list[SearchHit] = []
        hits += [SearchHit("identity", n, n, s) for n, s in
                 Identity.objects.filter(name__startswith=text).order_by("name").values_list("name", "state")[:limit]]
        as_uuid = _uuid(text)
        # Pages show agents' and sessions' ids by their first 8 characters: such a start finds them too.
        id_start = as_uuid is None and ID_START.fullmatch(text) is not None
        by_name = Q(name__startswith=text) | Q(id__startswith=text.lower()) if id_start else Q(name__startswith=text)
        agents = Agent.objects.filter(Q(id=as_uuid) if as_uuid else by_name)
        hits += [SearchHit("agent", str(i), n or str(i)[:8], f"{s} · {str(i)[:8]}") for i, n, s in
                 agents.order_by("name").values_list("id", "name", "state")[:limit]]
        hits += [SearchHit("output", r, r, f"{t} · attempt {a}") for r, t, a in
                 Output.objects.filter(ref=text).values_list("ref", "task_id", "attempt")[:1]]
        tasks = Output.objects.filter(task_id__startswith=text).values_list("task_id", flat=True).distinct()
        hits += [SearchHit("task", t, t) for t in tasks.order_by("task_id")[:limit]]
        sessions = PersistedSession.objects.filter(
            Q(session_id__startswith=text) if id_start else Q(session_id=text)
        ).order_by("session_id")
        hits += [SearchHit("session", s, s) for s in sessions.values_list("session_id", flat=True)[:limit]]
        hits += [SearchHit("batch", b, b, f"session {s}") for b, s in
                 QueuedWorkBatchRecord.objects.filter(batch_id=text).values_list("batch_id", "session_id")[:1]]
        return hits
