"""The roster API (/api/v1/roster, admin): restore a roster, reconcile with a dry run, managed peer edges."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from identities.types import ReconcileAction, RestoreOutcome
from swarmsite.api.auth import require_scope
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.identities import actor
from swarmsite.api.identities_schemas import EdgesIn, ReconcileIn, RosterIn
from swarmsite.composition import identity_runtime

roster_router = Router(tags=["roster"])

class OutcomeOut(Schema):
    identity: str
    outcome: str
    generation: int | None
    session_id: str | None
    checkpoint_version: int | None
    snapshot_size: int | None
    failure: dict[str, Any] | None


class RestoreOut(Schema):
    outcomes: list[OutcomeOut]
    managed_edges: list[list[str]]


class ReconcileActionOut(Schema):
    action: str
    identity: str
    profile: str | None


class ReconcileOut(Schema):
    dry_run: bool
    actions: list[ReconcileActionOut]


class EdgesOut(Schema):
    edges: list[list[str]]
    added: list[list[str]] = []
    removed: list[list[str]] = []


def outcome_out(outcome: RestoreOutcome) -> dict[str, Any]:
    record, failure = outcome.record, outcome.failure
    return {
        "identity": outcome.identity,
        "outcome": outcome.kind.value,
        "generation": record.generation if record else None,
        "session_id": str(record.session_id) if record else None,
        "checkpoint_version": record.checkpoint_version if record else None,
        "snapshot_size": len(outcome.snapshot) if outcome.snapshot is not None else None,
        "failure": None if failure is None else {"kind": failure.kind.value, "detail": failure.detail},
    }


def edge_list(edges: Any) -> list[list[str]]:
    return [[e.a, e.b] for e in edges]


def action_out(action: ReconcileAction) -> dict[str, Any]:
    return {"action": action.kind.value, "identity": action.identity,
            "profile": action.spec.profile if action.spec else None}


@roster_router.post("/restore", response={200: RestoreOut, 403: ErrorOut, 409: ErrorOut, **COMMON_ERRORS})
def restore(request: HttpRequest, body: RosterIn) -> dict[str, Any]:
    """Admin: create or resume every identity of the roster (created / resumed / broken, each
    reported), then store the topology's managed peer edges. 409 `duplicate_identity`."""
    require_scope(request, "admin")
    result = identity_runtime().restore_flow(body.specs(), body.provider())
    return {"outcomes": [outcome_out(o) for o in result.outcomes.values()],
            "managed_edges": edge_list(result.managed_edges)}


@roster_router.post("/reconcile", response={200: ReconcileOut, 403: ErrorOut, 409: ErrorOut, **COMMON_ERRORS})
def reconcile(request: HttpRequest, body: ReconcileIn) -> dict[str, Any]:
    """Admin: the actions (activate, retire, hot_reload, respawn) that make the roster match; applied
    only with `dry_run: false`."""
    require_scope(request, "admin")
    runtime = identity_runtime()
    actions = runtime.compute_reconcile_actions([s.to_spec(s.identity) for s in body.identities])
    if not body.dry_run:
        runtime.apply_reconcile_actions(actions, actor=actor(request), reason=body.reason)
    return {"dry_run": body.dry_run, "actions": [action_out(a) for a in actions]}


@roster_router.get("/edges", response={200: EdgesOut, **COMMON_ERRORS})
def get_edges(request: HttpRequest) -> dict[str, Any]:
    """The managed peer edges (undirected, a < b)."""
    return {"edges": edge_list(identity_runtime().managed_edges())}


@roster_router.put("/edges", response={200: EdgesOut, 403: ErrorOut, **COMMON_ERRORS})
def put_edges(request: HttpRequest, body: EdgesIn) -> dict[str, Any]:
    """Admin: replace the managed peer edges; says what was added and removed. 422 `self_edge`."""
    require_scope(request, "admin")
    runtime = identity_runtime()
    changes = runtime.reconcile_managed_peer_edges(body.to_edges())
    return {"edges": edge_list(runtime.managed_edges()), "added": edge_list(changes.added),
            "removed": edge_list(changes.removed)}

