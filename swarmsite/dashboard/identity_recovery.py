"""Recovery actions as the dashboard offers them: who may run each, a concrete preview of what it will
do (computed from the runtime's reads), and the call into IdentityRuntime that does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from identities.runtime import IdentityRuntime
from identities.types import Checkpoint, IdentityState, LeaseState, ResolveKind
from swarmsite.roles import ADMIN, OPERATOR

CHECKPOINTS_SCANNED = 1000


@dataclass(frozen=True)
class ActionSpec:
    name: str
    verb: str  # past tense, for results
    role: str
    typed: bool  # the operator must type the identity's name to confirm
    run: Callable[[IdentityRuntime, str, str, str], Any]


ACTIONS: dict[str, ActionSpec] = {
    "respawn": ActionSpec("respawn", "respawned", OPERATOR, False,
                          lambda rt, i, actor, reason: rt.respawn(i, actor=actor, reason=reason)),
    "retire": ActionSpec("retire", "retired", OPERATOR, False,
                         lambda rt, i, actor, reason: rt.retire(i, actor=actor, reason=reason)),
    "reset": ActionSpec("reset", "reset", ADMIN, True,
                        lambda rt, i, actor, reason: rt.reset(i, actor=actor, reason=reason)),
    "delete": ActionSpec("delete", "deleted", ADMIN, True,
                         lambda rt, i, actor, reason: rt.delete_identity(i, actor=actor, reason=reason)),
}
BULK_ACTIONS = ("respawn", "retire")


@dataclass(frozen=True)
class RecoveryPreview:
    identity: str
    action: ActionSpec
    effect: str
    state: IdentityState
    generation: int | None
    session_id: str | None
    holder: str | None
    current_token: int
    resume_from: Checkpoint | None = None  # respawn
    new_generation: int | None = None  # reset
    archived_count: int = 0  # reset: checkpoints of the current generation that get archived
    removed_count: int = 0  # delete: every kept checkpoint
    removed_bytes: int = 0
    removed_archived: int = 0
    inbox_waiting: int = 0  # batches in the current inbox nobody holds
    inbox_claimed: int = 0  # batches the old holder has claimed: freed at once (reset, delete: cancelled)
    blockers: list[str] = field(default_factory=list)  # why the action will be refused


def build_preview(runtime: IdentityRuntime, identity: str, action: str, now: datetime) -> RecoveryPreview:
    """What `action` would do to `identity` now. UnknownIdentity."""
    spec = ACTIONS[action]
    status = runtime.status(identity)
    lease = runtime.lease(identity).effective(now)
    record = runtime.continuity_record(identity)
    checkpoints = runtime.list_checkpoints(identity, limit=CHECKPOINTS_SCANNED).items
    current = [c for c in checkpoints if record is not None and c.generation == record.generation and not c.archived]
    waiting, claimed = runtime.inbox_counts(identity)
    preview = RecoveryPreview(
        identity=identity, action=spec, effect=str(runtime.preview_recovery(identity, action)["effect"]),
        state=status.state, generation=record.generation if record else None,
        session_id=str(record.session_id) if record else None,
        holder=str(lease.holder) if lease.state == LeaseState.HELD and lease.holder else None,
        current_token=lease.fencing_token,
        resume_from=runtime.latest_checkpoint(identity) if action == "respawn" else None,
        new_generation=(record.generation + 1 if record else 0) if action == "reset" else None,
        archived_count=len(current),
        removed_count=len(checkpoints), removed_bytes=sum(c.size for c in checkpoints),
        removed_archived=sum(1 for c in checkpoints if c.archived),
        inbox_waiting=waiting, inbox_claimed=claimed,
        blockers=_blockers(runtime, identity, action, status.state),
    )
    return preview


def _blockers(runtime: IdentityRuntime, identity: str, action: str, state: IdentityState) -> list[str]:
    resolved = runtime.continuity_store().resolve_many([identity])[identity]
    if action == "respawn" and resolved.kind != ResolveKind.READY:
        return [f"its continuity is {resolved.kind.value}: there is nothing to resume; reset it instead"]
    if action == "retire" and state == IdentityState.UNINITIALIZED:
        return ["it is uninitialized: there is nothing to retire"]
    return []


def check_typed_name(action: str, identity: str, typed: str) -> str | None:
    """The error to show when a destructive action's typed confirmation does not match, else None."""
    if ACTIONS[action].typed and typed != identity:
        return f"type the identity's name exactly ({identity}) to confirm"
    return None
