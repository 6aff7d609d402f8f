"""The one rule of ownership (SPEC 4): a write by an agent to a resource identity X owns must carry X's
current fencing token, checked inside the write's own transaction.

- no token → FencingTokenRequired; a token that was never X's (another identity's) → FenceMismatch;
  an older token of X, or X's token after its lease ended → StaleFencingToken;
- operator and admin callers are not fenced: their writes to owned resources are audited instead;
- resources no identity owns stay unfenced (a token, if given, is still checked for its identity).

Every refusal is recorded (who, presented and current token, operation, when) after the write's
transaction rolled back. Ownership is recorded when a resource is created or bound (`_own_record`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from uuid import UUID

from identities.core import RuntimeCore, lease_error
from identities.errors import OwnedInbox
from identities.types import Caller, ContinuityRecord, Lease, Owned
from stores.errors import FenceMismatch, FencingTokenRequired, InvalidInput, StaleFencingToken
from stores.fencing import checked_in_this_transaction, whole_write
from stores.types import Fence


class OwnershipOps(RuntimeCore):
    def owner_of(self, kind: Owned, resource_id: str) -> str | None:
        return self._leases.owner_of(kind.value, resource_id)

    def inbox_counts(self, identity: str) -> tuple[int, int]:
        """(waiting, claimed) batches in the identity's current inbox: what a recovery frees or cancels."""
        record = self._continuity.resolve_many([identity])[identity].record
        if record is None or self._inbox is None:
            return 0, 0
        return self._inbox.counts(record.session_id)

    def refuse_raw_enqueue(self, session_id: str) -> None:
        """An identity's inbox is written by send/dispatch, which check it is registered, addressable,
        active and leased; a raw enqueue would bypass all four."""
        owner = self._leases.owner_of(Owned.SESSION.value, session_id)
        if owner is not None:
            raise OwnedInbox(
                f"session {session_id!r} is identity {owner!r}'s inbox: deliver with "
                f"POST /api/v1/identities/{owner}/send (or /dispatch)", identity=owner, session_id=session_id,
            )

    @contextlib.contextmanager
    def owned_write(
        self, kind: Owned, resource_id: str, fence: Fence | None, *, operation: str, caller: Caller | None = None
    ) -> Iterator[Fence | None]:
        """Open the write's transaction and authorize it; yields the fence to hand to the store (bound to
        the owner), or None for an unowned resource or a privileged caller. Refusals are recorded."""
        try:
            with self._atomic():
                owner, granted = self._leases.owner_and_grant(kind.value, resource_id, fence.token if fence else None)
                bound, lease = self._authorize(owner, granted, kind, resource_id, fence, operation, caller)
                # The lease row stays locked until this transaction ends: the store's own check of the
                # same fence inside it is answered by this one instead of a second read.
                checked = checked_in_this_transaction(bound, lease) if bound and lease else contextlib.nullcontext()
                with whole_write(), checked:
                    yield bound
                if owner is not None and bound is None and caller is not None and caller.privileged:
                    self._audit(caller.name, "unfenced_write", owner, "", self._clock.now(), ok=True,
                                result={"operation": operation, "resource": f"{kind.value}:{resource_id}"})
        except StaleFencingToken as exc:
            if caller is not None:
                exc.context.setdefault("caller", caller.name)
            self.record_stale_write(exc)
            raise

    @contextlib.contextmanager
    def owned_writes(
        self, kind: Owned, writes: Sequence[tuple[str, Fence | None]], *, operation: str, caller: Caller | None = None
    ) -> Iterator[list[Fence | None]]:
        """`owned_write` for a batch: one transaction for every (resource, fence) of the batch, each
        distinct pair authorized once by the same rule (owners read in one go). Yields the bound fence of
        each write, in order; the first refusal refuses the whole batch and is recorded as usual."""
        try:
            with self._atomic():
                owners = self._leases.owners_of(kind.value, list(dict.fromkeys(r for r, _ in writes)))
                decided: dict[tuple[str, Fence | None], Fence | None] = {}
                for resource_id, fence in writes:
                    if (resource_id, fence) not in decided:
                        granted = self._leases.grant_of(fence.token) if fence is not None else None
                        decided[(resource_id, fence)] = self._authorize(
                            owners.get(resource_id), granted, kind, resource_id, fence, operation, caller
                        )[0]
                with whole_write():
                    yield [decided[write] for write in writes]
                if caller is not None and caller.privileged:
                    for resource_id, fence in dict.fromkeys(writes):
                        owner = owners.get(resource_id)
                        if owner is not None and decided[(resource_id, fence)] is None:
                            self._audit(caller.name, "unfenced_write", owner, "", self._clock.now(), ok=True,
                                        result={"operation": operation, "resource": f"{kind.value}:{resource_id}"})
        except StaleFencingToken as exc:
            if caller is not None:
                exc.context.setdefault("caller", caller.name)
            self.record_stale_write(exc)
            raise

    def _authorize(
        self, owner: str | None, granted: tuple[str, UUID] | None, kind: Owned, resource_id: str,
        fence: Fence | None, operation: str, caller: Caller | None,
    ) -> tuple[Fence | None, Lease | None]:
        if owner is None:
            if fence is not None and not fence.identity:
                raise InvalidInput(
                    f"a fencing_token was sent, but no identity owns {kind.value} {resource_id!r}: name the "
                    "identity whose lease it is", field="identity",
                )
            return fence, self._leases.check_and_get(fence, operation=operation) if fence is not None else None
        if fence is None:
            if caller is not None and caller.privileged:
                return None, None
            lease = self._leases.get(owner)
            raise FencingTokenRequired(
                f"{operation} writes to {kind.value} {resource_id!r}, which identity {owner!r} owns: send its "
                "current fencing_token (from POST /identities/{identity}/lease)",
                identity=owner, operation=operation, presented_token=None, current_token=lease.fencing_token,
                resource=f"{kind.value}:{resource_id}",
            )
        holder = fence.agent_id or (granted[1] if granted else None)
        named = fence.identity or (granted[0] if granted else owner)
        if named != owner or (granted is not None and granted[0] != owner):
            lease = self._leases.get(owner)
            raise FenceMismatch(
                f"{operation} writes to {kind.value} {resource_id!r}, which identity {owner!r} owns, but fencing "
                f"token {fence.token} is not {owner!r}'s",
                identity=owner, operation=operation, presented_token=fence.token, current_token=lease.fencing_token,
                presented_identity=granted[0] if granted else named, agent_id=str(holder) if holder else None,
                resource=f"{kind.value}:{resource_id}",
            )
        bound = replace(fence, identity=owner, agent_id=holder)
        try:
            lease = self._leases.check_and_get(bound, operation=operation)
        except StaleFencingToken as exc:
            if exc.context.get("current_token") == bound.token:
                # Still the owner's newest token, but its lease is over and nobody took over: not a stale
                # owner, a lapsed one (LeaseLost / NoActiveLease, as checkpoints answer).
                lease_error(self._leases.get(owner))
            if holder is not None:
                exc.context.setdefault("agent_id", str(holder))
            raise
        return bound, lease

    def _own_record(self, record: ContinuityRecord) -> None:
        """An identity owns its producer name, and each generation's session and runtime id."""
        identity = record.identity
        self._leases.own(identity, Owned.IDENTITY.value, [identity])
        self._leases.own(identity, Owned.SESSION.value, [str(record.session_id)])
        self._leases.own(identity, Owned.RUNTIME.value, [record.agent_runtime_id])
