"""The identity page's panels, each built on its own so a live refresh recomputes only its panel:
summary (status, lease, continuity, why), checkpoints, inbox, outputs, peers, timeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from identities.lookups import lookups
from identities.runtime import IdentityRuntime
from stores.outputs import preview_text
from stores.queue_types import QueuedWorkBatch
from swarmsite.composition import event_log, lifecycle_store, output_store, runtime_persistence
from swarmsite.dashboard.identity_threads import threads_panel
from swarmsite.dashboard.identity_timeline import timeline
from swarmsite.dashboard.roster_table import explain, last_holder_record, roster_row

CHECKPOINTS_SHOWN = 20
INBOX_SHOWN = 50
OUTPUTS_SHOWN = 10
PEERS_SHOWN = 100
EVENTS_SHOWN = 60
PREVIEW = 160


def subject(subject_type: str, subject_id: str) -> str:
    """A live subject as the websocket marker names it (see templates/live/fragments.html)."""
    return f"{subject_type}:{quote(subject_id, safe='')}"


@dataclass(frozen=True)
class InboxRow:
    batch: QueuedWorkBatch
    enqueued_at: datetime
    claim_expires_at: datetime | None
    claimed: bool
    preview: str


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _body_preview(batch: QueuedWorkBatch) -> str:
    if not batch.items:
        return ""
    body = batch.items[0].payload.body
    content = body.get("content") if isinstance(body, dict) else body
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        text = content["text"]
    else:
        text = json.dumps(content, ensure_ascii=False, default=str)
    more = f" (+{len(batch.items) - 1} more)" if len(batch.items) > 1 else ""
    return (text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…") + more


def summary_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    entry = runtime.registry().find(name)
    assert entry is not None  # the view resolved the identity first
    resolved = runtime.continuity_store().resolve_many([name])[name]
    lease = runtime.lease(name).effective(now)
    row = roster_row(entry, resolved, lease, now, runtime.durability_policy())
    holder = last_holder_record(lifecycle_store(), lease)
    return {
        "row": row, "entry": entry, "spec": entry.spec, "status": row.status, "lease": lease,
        "record": resolved.record, "holder_agent": holder, "why": explain(entry, resolved, lease, now, holder),
        "spec_json": json.dumps(entry.spec.to_json(), indent=2, ensure_ascii=False, default=str),
        "rejection_count": runtime.registry().list_rejections(identity=name, limit=1).total,
    }


def checkpoints_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    page = runtime.list_checkpoints(name, limit=CHECKPOINTS_SHOWN)
    return {"checkpoints": page.items, "checkpoint_total": page.total}


def inbox_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    record = runtime.continuity_record(name)
    if record is None:
        return {"inbox": [], "session_id": None}
    session_id = str(record.session_id)
    batches = runtime_persistence().open(session_id).list_queued_work(session_id, limit=INBOX_SHOWN)
    now_ms = int(now.timestamp() * 1000)
    rows = [
        InboxRow(
            batch=b, enqueued_at=_ms(b.enqueued_at_ms), claimed=b.is_held(now_ms), preview=_body_preview(b),
            claim_expires_at=_ms(b.claim.expires_at_ms) if b.claim is not None else None,
        )
        for b in batches
        if b.outcome is None
    ]
    return {"inbox": rows, "session_id": session_id, "inbox_subject": subject("session", session_id)}


def outputs_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    page = output_store().list_outputs(producer_agent=name, limit=OUTPUTS_SHOWN)
    return {"outputs": [(o, preview_text(o.event)) for o in page.items], "output_total": page.total}


def peers_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    peers = runtime.peers(name)[:PEERS_SHOWN]
    entries = runtime.registry().find_many(peers)
    leases = runtime.lease_provider().get_many(peers)
    rows = [(p, entries.get(p), leases[p].is_live(now)) for p in peers]
    return {"peers": rows, "peer_subjects": " ".join(subject("identity", p) for p in peers)}


def timeline_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    events = event_log().recent(limit=EVENTS_SHOWN, subject_type="identity", subject_id=name)
    audits = runtime.registry().list_audit(identity=name, limit=EVENTS_SHOWN).items
    items = timeline(list(events), list(audits), EVENTS_SHOWN)
    return {"timeline": items, "agent_names": lookups().agent_names({t.agent for t in items if t.agent})}


Panel = Callable[[IdentityRuntime, str, datetime], dict[str, Any]]
PANELS: dict[str, Panel] = {
    "identity-summary": summary_panel,
    "identity-checkpoints": checkpoints_panel,
    "identity-threads": threads_panel,
    "identity-inbox": inbox_panel,
    "identity-outputs": outputs_panel,
    "identity-peers": peers_panel,
    "identity-timeline": timeline_panel,
}
