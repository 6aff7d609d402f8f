"""Delivery into the identity's inbox (send / dispatch), inspection and waiting for output."""

from __future__ import annotations

import time
import uuid
from typing import Any

from identities.core import RuntimeCore
from identities.errors import IdentityRuntimeError, InvalidState, NotAddressable, WaitTimeout
from identities.types import (
    Addressability,
    Delivery,
    DispatchInput,
    DispatchOrigin,
    IdentityState,
    MemberInspection,
    ResolveKind,
)
from stores.errors import NotFound
from stores.output_types import Final, OutputRecord
from stores.outputs import preview_text


class DeliveryOps(RuntimeCore):
    def send(self, identity: str, content: Any, *, idempotency_key: str | None = None) -> Delivery:
        """Deliver conversational content to an addressable, active identity with a live lease
        (REQ-01/03). Checks: registered, addressable, active, lease; then enqueues a turn_input batch."""
        return self._deliver("send", identity, DispatchInput(content, DispatchOrigin.CONNECTOR, None, idempotency_key))

    def dispatch(self, identity: str, message: DispatchInput) -> Delivery:
        """Like send, without the addressability check: internal_only identities accept it (REQ-02/04)."""
        return self._deliver("dispatch", identity, message)

    def send_text(self, identity: str, text: str) -> Delivery:
        return self.send(identity, {"type": "text", "text": text})

    def dispatch_text(self, identity: str, text: str) -> Delivery:
        return self.dispatch(identity, DispatchInput({"type": "text", "text": text}, DispatchOrigin.SYSTEM))

    def _deliver(self, operation: str, identity: str, message: DispatchInput) -> Delivery:
        now = self._clock.now()
        with self._atomic():
            entry = self._entry(identity)
            if operation == "send" and entry.spec.addressability == Addressability.INTERNAL_ONLY:
                raise NotAddressable(
                    f'agent "{identity}" is not addressable (current: InternalOnly)',
                    identity=identity, addressability=entry.spec.addressability.value,
                )
            if entry.state != IdentityState.ACTIVE:
                raise InvalidState(
                    f"cannot {operation} identity {identity} in state {entry.state.value}",
                    identity=identity, state=entry.state.value, operation=operation,
                )
            lease = self._live_lease(identity, now)
            token = lease.fencing_token
            resolved = self._continuity.resolve_many([identity])[identity]
            record = resolved.record if resolved.kind == ResolveKind.READY else None
            batch_id, new = None, True
            if self._inbox is not None and record is not None:
                key = message.idempotency_key or uuid.uuid4().hex
                payload = {
                    "kind": "turn_input", "operation": operation, "identity": identity, "content": message.content,
                    "origin": message.origin.value, "correlation_id": message.correlation_id,
                    "fencing_token": token,
                }
                batch_id, new = self._inbox.deliver(record.session_id, identity, payload, f"{operation}:{key}", now)
            if new:
                self._emit(  # the status from what this delivery already read
                    "message_delivered", identity, now, entry=entry, resolved=resolved, lease=lease,
                    operation=operation, batch_id=batch_id, fencing_token=token,
                    origin=message.origin.value, correlation_id=message.correlation_id,
                )
            return Delivery(
                identity=identity, fencing_token=token, batch_id=batch_id,
                session_id=record.session_id if record else uuid.UUID(int=0), is_durable=self.has_runtime_store(),
            )

    # -- inspection ------------------------------------------------------------------------------
    def _latest_output(self, identity: str) -> OutputRecord | None:
        if self._outputs is None:
            raise IdentityRuntimeError("no output store configured", identity=identity)
        try:
            return self._outputs.get_latest_by_name(identity)
        except NotFound:
            return None

    def inspect(self, identity: str) -> MemberInspection:
        """The newest output the identity produced (preview, whether final) and how many peers are reachable."""
        self._entry(identity)
        latest = self._latest_output(identity)
        return MemberInspection(
            output_preview=preview_text(latest.event) if latest is not None else None,
            is_final=isinstance(latest.event, Final) if latest is not None else False,
            peer_reachable_count=self.reachable_peer_count(identity),
            output_ref=latest.ref if latest is not None else None,
        )

    def reachable_peer_count(self, identity: str) -> int:
        """Peers that could take a message now: active, with a live lease."""
        peers = self._registry.peers_of(identity)
        if not peers:
            return 0
        now = self._clock.now()
        entries = self._registry.find_many(peers)
        leases = self._leases.get_many(peers)
        return len([
            p for p in peers if p in entries and entries[p].state == IdentityState.ACTIVE and leases[p].is_live(now)
        ])

    def wait_for_output(
        self, identity: str, timeout_s: float | None = None, *, containing: str | None = None
    ) -> MemberInspection:
        """The identity's first output preview (containing `containing`, if given): the current one
        if it matches, else the next matching append. Woken by the append itself, not a sleep loop.
        WaitTimeout at the deadline."""
        self._entry(identity)
        deadline = time.monotonic() + (self._default_timeout_s if timeout_s is None else timeout_s)
        latest = self._latest_output(identity)
        while True:
            if latest is not None:
                preview = preview_text(latest.event)
                if preview and (containing is None or containing in preview):
                    return MemberInspection(
                        output_preview=preview, is_final=isinstance(latest.event, Final),
                        peer_reachable_count=self.reachable_peer_count(identity), output_ref=latest.ref,
                    )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            assert self._outputs is not None
            found = self._outputs.wait_for_next(
                identity, after_ref=latest.ref if latest is not None else None, timeout_s=remaining
            )
            if found is None:
                # An append that raced the first read of `latest` is caught here, late but not lost.
                newest = self._latest_output(identity)
                if newest is None or (latest is not None and newest.ref == latest.ref):
                    break
                found = newest
            latest = found
        raise WaitTimeout(f"timed out waiting for output from {identity}", identity=identity)

    def wait_for_output_containing(self, identity: str, needle: str, timeout_s: float | None = None) -> str:
        found = self.wait_for_output(identity, timeout_s, containing=needle)
        return found.output_preview or ""
