"""The identities API (/api/v1/identities): thin routes over IdentityRuntime.

Agents lease identities, checkpoint under the lease and read their inbox's senders; operators send,
respawn and retire; admins reset and delete. Every fenced write records its rejections."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Header, Query, Router
from ninja.responses import Status

from identities.errors import WaitTimeout
from identities.status import status_json
from identities.types import DispatchInput, LeaseGrant, Owned, validate_identity
from stores.errors import InvalidInput
from stores.types import Fence
from swarmsite.api.auth import require_scope
from swarmsite.api.errors import COMMON_ERRORS, ErrorOut
from swarmsite.api.fencing import owned_write
from swarmsite.api.idempotency import earlier_answer, remember
from swarmsite.api.identities_schemas import (
    ActionIn,
    AuditOut,
    CheckpointDataOut,
    CheckpointIn,
    CheckpointOut,
    DeliveryOut,
    DispatchIn,
    EventOut,
    EventParams,
    IdentityFilter,
    InspectOut,
    LeaseAcquireIn,
    LeaseOut,
    LeaseReleaseIn,
    LeaseRenewIn,
    PeersOut,
    RecoveryOut,
    RejectionOut,
    SendIn,
    SpecFields,
    SpecIn,
    SpecOut,
    StatusOut,
    WaitParams,
    checkpoint_out,
)
from swarmsite.api.schemas import NO_NUL, PageOut, PageParams
from swarmsite.composition import identity_runtime

identities_router = Router(tags=["identities"])

NOT_FOUND = {404: ErrorOut}
CONFLICTS = {404: ErrorOut, 409: ErrorOut}
SCOPED = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, pattern=NO_NUL)]


def actor(request: HttpRequest) -> str:
    return f"token:{request.auth.name}"  # type: ignore[attr-defined]


def lease_out(grant: LeaseGrant) -> dict[str, Any]:
    return asdict(grant)


def page_out(page: Any, render: Any) -> dict[str, Any]:
    return {"items": [render(i) for i in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


def parse_label(label: str | None) -> tuple[str, str] | None:
    if label is None:
        return None
    key, sep, value = label.partition("=")
    if not sep or not key:
        raise InvalidInput("label filter must look like key=value", field="label")
    return key, value


# -- identities --------------------------------------------------------------------------------
@identities_router.post("", response={201: StatusOut, **SCOPED, **COMMON_ERRORS})
def create(request: HttpRequest, body: SpecIn) -> Status:
    """Create an identity (operator): active, generation 0, no lease yet. 409 `duplicate_identity`."""
    require_scope(request, "operator")
    status = identity_runtime().create_identity(body.to_spec(body.identity), actor=actor(request))
    return Status(201, status_json(status))


@identities_router.get("", response={200: PageOut[StatusOut], **COMMON_ERRORS})
def list_identities(request: HttpRequest, filters: Query[IdentityFilter]) -> dict[str, Any]:
    """Identities by name with their status; filter by state, profile, `label=key=value`, search `q`."""
    page = identity_runtime().list_statuses(
        state=filters.state, profile=filters.profile, label=parse_label(filters.label), search=filters.q,
        offset=filters.offset, limit=filters.limit,
    )
    return page_out(page, status_json)


@identities_router.get("/{identity}", response={200: StatusOut, **NOT_FOUND, **COMMON_ERRORS})
def get_status(request: HttpRequest, identity: str) -> dict[str, Any]:
    """Status with the "why" facts: lease holder and expiry, last holder, lost reason, last checkpoint."""
    return status_json(identity_runtime().status(validate_identity(identity)))


@identities_router.get("/{identity}/spec", response={200: SpecOut, **NOT_FOUND, **COMMON_ERRORS})
def get_spec(request: HttpRequest, identity: str) -> dict[str, Any]:
    return identity_runtime().spec(validate_identity(identity)).to_json()


@identities_router.put("/{identity}/spec", response={200: StatusOut, **SCOPED, **COMMON_ERRORS})
def update_spec(request: HttpRequest, identity: str, body: SpecFields) -> dict[str, Any]:
    """Replace the spec (operator). Running agents see it in the `identity.spec_updated` event."""
    require_scope(request, "operator")
    runtime = identity_runtime()
    runtime.update_spec(body.to_spec(identity))
    return status_json(runtime.status(identity))


# -- leases ------------------------------------------------------------------------------------
@identities_router.post("/{identity}/lease", response={200: LeaseOut, **CONFLICTS, **COMMON_ERRORS})
def acquire_lease(request: HttpRequest, identity: str, body: LeaseAcquireIn) -> dict[str, Any]:
    """Take the lease for a registered, online agent: a new, higher `fencing_token` to carry on every
    write. 409 `lease_held` (with `holder` and `expires_at`) while another agent's lease is live."""
    grant = identity_runtime().acquire_lease(validate_identity(identity), body.agent_id, ttl_s=body.ttl_s)
    return lease_out(grant)


@identities_router.post("/{identity}/lease/renew", response={200: LeaseOut, **CONFLICTS, **COMMON_ERRORS})
def renew_lease(request: HttpRequest, identity: str, body: LeaseRenewIn) -> dict[str, Any]:
    """Extend the lease (same token). 409 `lease_lost` if it expired, was fenced or taken over."""
    grant = identity_runtime().renew_lease(
        validate_identity(identity), body.agent_id, body.fencing_token, ttl_s=body.ttl_s
    )
    return lease_out(grant)


@identities_router.post("/{identity}/lease/release", response={204: None, **NOT_FOUND, **COMMON_ERRORS})
def release_lease(request: HttpRequest, identity: str, body: LeaseReleaseIn) -> Status:
    """Give the lease up on a clean shutdown. Idempotent: a stale token is a no-op."""
    identity_runtime().release_lease(validate_identity(identity), body.agent_id, body.fencing_token)
    return Status(204, None)


# -- delivery ----------------------------------------------------------------------------------
@identities_router.post("/{identity}/send", response={200: DeliveryOut, **CONFLICTS, **COMMON_ERRORS})
def send(request: HttpRequest, identity: str, body: SendIn, idempotency_key: IdempotencyKey = None) -> Any:
    """Put a message in an addressable, active identity's inbox (its current session's queued work).
    409 `not_addressable`, `invalid_state`, `no_active_lease`, `lease_lost`. Retry with the same
    `Idempotency-Key` (header or field) to get the same batch."""
    delivery = identity_runtime().send(
        validate_identity(identity), body.content, idempotency_key=idempotency_key or body.idempotency_key
    )
    return asdict(delivery)


@identities_router.post("/{identity}/dispatch", response={200: DeliveryOut, **CONFLICTS, **COMMON_ERRORS})
def dispatch(request: HttpRequest, identity: str, body: DispatchIn, idempotency_key: IdempotencyKey = None) -> Any:
    """Like send, for internal traffic: internal_only identities accept it."""
    message = DispatchInput(body.content, body.origin, body.correlation_id, idempotency_key or body.idempotency_key)
    return asdict(identity_runtime().dispatch(validate_identity(identity), message))


# -- continuity --------------------------------------------------------------------------------
@identities_router.post("/{identity}/checkpoints", response={201: CheckpointOut, **CONFLICTS, **COMMON_ERRORS})
def save_checkpoint(
    request: HttpRequest,
    identity: str,
    body: CheckpointIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, pattern=NO_NUL)] = None,
) -> Any:
    """Save the next checkpoint under the lease. 409 `stale_fencing_token` (a newer owner exists; the
    rejection is recorded), `fence_mismatch` (another identity's token), `lease_lost`, `no_active_lease`,
    `stale_checkpoint_version`. With `Idempotency-Key`, a retry whose answer was lost gets the same
    version back instead of saving a second one."""
    name = validate_identity(identity)
    earlier = earlier_answer(request, "checkpoint", idempotency_key)
    if earlier is not None:
        return Status(201, earlier)
    fence = None if body.fencing_token is None else Fence(name, body.fencing_token, body.agent_id)
    with owned_write(request, Owned.IDENTITY, name, "checkpoint", fence=fence) as bound:
        saved = identity_runtime().checkpoint(
            name, body.snapshot(), token=body.fencing_token, agent_id=bound.agent_id if bound else body.agent_id,
            version=body.version,
        )
        answer = checkpoint_out(saved)
        remember(request, "checkpoint", idempotency_key, answer)
    return Status(201, answer)


@identities_router.get(
    "/{identity}/checkpoints/latest", response={200: CheckpointDataOut, 204: None, **NOT_FOUND, **COMMON_ERRORS}
)
def latest_checkpoint(request: HttpRequest, identity: str) -> Any:
    """The snapshot a new owner resumes from (current generation); 204 when there is none yet."""
    found = identity_runtime().latest_checkpoint(validate_identity(identity))
    return checkpoint_out(found, with_data=True) if found is not None else Status(204, None)


@identities_router.get("/{identity}/checkpoints", response={200: PageOut[CheckpointOut], **NOT_FOUND, **COMMON_ERRORS})
def list_checkpoints(request: HttpRequest, identity: str, page: Query[PageParams]) -> dict[str, Any]:
    """Kept checkpoints, newest first, archived generations included (without their bytes)."""
    found = identity_runtime().list_checkpoints(validate_identity(identity), offset=page.offset, limit=page.limit)
    return page_out(found, checkpoint_out)


# -- inspection --------------------------------------------------------------------------------
@identities_router.get("/{identity}/inspect", response={200: InspectOut, **NOT_FOUND, **COMMON_ERRORS})
def inspect(request: HttpRequest, identity: str) -> dict[str, Any]:
    """The identity's newest output (preview, whether final) and how many of its peers are reachable."""
    return asdict(identity_runtime().inspect(validate_identity(identity)))


@identities_router.get("/{identity}/output", response={200: InspectOut, 204: None, **NOT_FOUND, **COMMON_ERRORS})
def wait_for_output(request: HttpRequest, identity: str, params: Query[WaitParams]) -> Any:
    """Long-poll: the identity's output (containing `contains`, if given) as soon as there is one,
    woken by the append. 204 when `timeout_s` passes first: ask again."""
    try:
        found = identity_runtime().wait_for_output(
            validate_identity(identity), params.timeout_s, containing=params.contains
        )
    except WaitTimeout:
        return Status(204, None)
    return asdict(found)


@identities_router.get("/{identity}/peers", response={200: PeersOut, **NOT_FOUND, **COMMON_ERRORS})
def peers(request: HttpRequest, identity: str) -> dict[str, Any]:
    """The identity's managed peers (from the roster topology) and how many can take a message now."""
    runtime = identity_runtime()
    name = validate_identity(identity)
    return {"identity": name, "peers": runtime.peers(name), "reachable_count": runtime.reachable_peer_count(name)}


@identities_router.get("/{identity}/events", response={200: list[EventOut], **NOT_FOUND, **COMMON_ERRORS})
def events(request: HttpRequest, identity: str, params: Query[EventParams]) -> list[dict[str, Any]]:
    """The identity's events after an event id, oldest first (the websocket streams them live)."""
    found = identity_runtime().subscribe(validate_identity(identity), after=params.after, limit=params.limit)
    return [asdict(e) for e in found]


@identities_router.get(
    "/{identity}/rejections", response={200: PageOut[RejectionOut], **NOT_FOUND, **COMMON_ERRORS}
)
def rejections(request: HttpRequest, identity: str, page: Query[PageParams]) -> dict[str, Any]:
    """Writes refused for a stale fencing token: who, with which token, against which current one."""
    runtime = identity_runtime()
    name = validate_identity(identity)
    runtime.status(name)
    found = runtime.registry().list_rejections(identity=name, offset=page.offset, limit=page.limit)
    return page_out(found, asdict)


@identities_router.get("/{identity}/audit", response={200: PageOut[AuditOut], **NOT_FOUND, **COMMON_ERRORS})
def audit(request: HttpRequest, identity: str, page: Query[PageParams]) -> dict[str, Any]:
    """Recovery actions taken on the identity: who, when, why, and how each ended."""
    runtime = identity_runtime()
    name = validate_identity(identity)
    runtime.status(name)
    return page_out(runtime.registry().list_audit(identity=name, offset=page.offset, limit=page.limit), asdict)


# -- recovery ----------------------------------------------------------------------------------
def action_out(identity: str, action: str, token: int, record: Any = None) -> dict[str, Any]:
    runtime = identity_runtime()
    return {
        "identity": identity, "action": action, "fencing_token": token,
        "generation": record.generation if record is not None else None,
        "session_id": record.session_id if record is not None else None,
        "status": status_json(runtime.status(identity)),
    }


@identities_router.post("/{identity}/respawn", response={200: RecoveryOut, **SCOPED, **COMMON_ERRORS})
def respawn(request: HttpRequest, identity: str, body: ActionIn | None = None) -> dict[str, Any]:
    """Operator: fence the owner and reactivate, keeping generation, session and checkpoints. The next
    agent to take the lease resumes from the latest checkpoint."""
    require_scope(request, "operator")
    name = validate_identity(identity)
    record = identity_runtime().respawn(name, actor=actor(request), reason=(body or ActionIn()).reason)
    return action_out(name, "respawn", identity_runtime().lease(name).fencing_token, record)


@identities_router.post("/{identity}/retire", response={200: RecoveryOut, **SCOPED, **COMMON_ERRORS})
def retire(request: HttpRequest, identity: str, body: ActionIn | None = None) -> dict[str, Any]:
    """Operator: fence the owner and set retiring; no new deliveries."""
    require_scope(request, "operator")
    name = validate_identity(identity)
    token = identity_runtime().retire(name, actor=actor(request), reason=(body or ActionIn()).reason)
    return action_out(name, "retire", token)


@identities_router.post("/{identity}/reset", response={200: RecoveryOut, **SCOPED, **COMMON_ERRORS})
def reset(request: HttpRequest, identity: str, body: ActionIn | None = None) -> dict[str, Any]:
    """Admin: fence the owner and start the next generation from nothing (old checkpoints archived)."""
    require_scope(request, "admin")
    name = validate_identity(identity)
    record = identity_runtime().reset(name, actor=actor(request), reason=(body or ActionIn()).reason)
    return action_out(name, "reset", identity_runtime().lease(name).fencing_token, record)


@identities_router.delete("/{identity}", response={200: RecoveryOut, **SCOPED, **COMMON_ERRORS})
def delete(request: HttpRequest, identity: str, body: ActionIn | None = None) -> dict[str, Any]:
    """Admin: fence the owner, delete continuity and every checkpoint; the identity becomes uninitialized."""
    require_scope(request, "admin")
    name = validate_identity(identity)
    identity_runtime().delete_identity(name, actor=actor(request), reason=(body or ActionIn()).reason)
    return action_out(name, "delete", identity_runtime().lease(name).fencing_token)

