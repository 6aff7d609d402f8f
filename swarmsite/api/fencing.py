"""Writes to what an identity owns, from the API edge: who the caller is and which fence it sent.

The rule itself (token required, bound to the owner, current) is the runtime's
`IdentityRuntime.owned_write`, checked inside the write's own transaction; this module only reads the
caller's scope and the `Fencing-Token` header for routes whose bodies carry no fence."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Annotated

from django.http import HttpRequest
from ninja import Header

from identities.types import Caller, Owned
from stores.errors import InvalidInput
from stores.types import Fence
from swarmsite.api.auth import SCOPE_RANK
from swarmsite.composition import identity_runtime
from swarmsite.models import ApiToken

# Headers are text on the wire, so the document says so: a decimal token.
FencingTokenHeader = Annotated[
    str | None,
    Header(
        alias="Fencing-Token",
        pattern=r"^[0-9]{1,19}$",
        description="The owning identity's current fencing token (decimal); required from agent tokens when "
        "the resource is owned by an identity (409 `fencing_token_required` otherwise).",
    ),
]
MAX_TOKEN = 2**63 - 1


def caller_of(request: HttpRequest) -> Caller:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    privileged = SCOPE_RANK[ApiToken.Scope(token.scope)] >= SCOPE_RANK[ApiToken.Scope.OPERATOR]
    return Caller(name=token.name, privileged=privileged)


def owned_write(
    request: HttpRequest, kind: Owned, resource_id: str, operation: str, *, fence: Fence | None = None,
    token: str | None = None,
) -> AbstractContextManager[Fence | None]:
    """The write's transaction, authorized; yields the fence bound to the owner for the store to check."""
    if fence is None and token is not None:
        if int(token) > MAX_TOKEN:
            raise InvalidInput(f"Fencing-Token must be at most {MAX_TOKEN}", field="Fencing-Token")
        fence = Fence(identity="", token=int(token))
    return identity_runtime().owned_write(kind, resource_id, fence, operation=operation, caller=caller_of(request))


def owned_writes(
    request: HttpRequest, kind: Owned, writes: Sequence[tuple[str, Fence | None]], operation: str
) -> AbstractContextManager[list[Fence | None]]:
    """A batch write's transaction, every (resource, fence) authorized; yields each write's bound fence."""
    return identity_runtime().owned_writes(kind, writes, operation=operation, caller=caller_of(request))
