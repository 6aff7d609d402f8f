"""An identity's lease as a context manager: acquire on entry, renew in the background at a third
of the TTL, release on exit. `lost` is set (and renewal stops) as soon as the server says the lease
is gone, or when it could not be renewed before it ran out: work under it must stop then."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from swarmclient.errors import LeaseLost, NoActiveLease, NotFound, StaleFencingToken, SwarmError

if TYPE_CHECKING:
    from swarmclient.client import AsyncSwarmClient, SwarmClient

log = logging.getLogger("swarmclient")

# Answers that mean this agent no longer owns the identity (NotFound: deleted, or the agent expired).
LOST = (LeaseLost, StaleFencingToken, NoActiveLease, NotFound)


class _LeaseState:
    identity: str
    token: int
    ttl_s: float
    expires_at: str | None
    lost_error: SwarmError | None

    def __init__(self, identity: str, ttl_s: float | None, renew_every_s: float | None) -> None:
        self.identity = identity
        self.token = 0
        self.ttl_s = ttl_s or 0.0
        self.expires_at = None
        self.lost_error = None
        self._requested_ttl_s = ttl_s
        self._renew_every_s = renew_every_s
        # Local deadline (monotonic): past it, an unconfirmed lease must be presumed gone.
        self._deadline = 0.0

    @property
    def fence(self) -> dict[str, Any]:
        """Keyword arguments for fenced writes: `swarm.append_output(..., **lease.fence)`."""
        return {"identity": self.identity, "fencing_token": self.token}

    def _fence_for(self, method: Callable[..., Any]) -> dict[str, Any]:
        """The fence a client method takes: `identity` and `fencing_token` in the body where it has both,
        else the token alone (sent as the Fencing-Token header)."""
        accepts = inspect.signature(method).parameters
        if "identity" in accepts:
            return self.fence
        if "fencing_token" in accepts:
            return {"fencing_token": self.token}
        raise TypeError(f"{method.__name__} is not a fenced write")

    def _granted(self, grant: dict[str, Any], started: float) -> None:
        self.token = int(grant["fencing_token"])
        self.ttl_s = int(grant["ttl_ms"]) / 1000
        self.expires_at = grant.get("expires_at")
        self._deadline = started + self.ttl_s

    def _interval(self) -> float:
        return self._renew_every_s or max(self.ttl_s / 3, 0.05)

    def _producer(self, producer: str | None) -> str:
        return producer if producer is not None else self.identity

    def _fenced_items(self, outputs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Batch appends: the producer defaults to this identity, and its own outputs carry the fence."""
        items = []
        for output in outputs:
            item = {"producer_agent": self.identity, **output}
            items.append({**item, **self.fence} if item["producer_agent"] == self.identity else item)
        return items

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identity} token={self.token}>"


class Lease(_LeaseState):
    """`with swarm.lease("planner") as lease:` ... `if lease.lost.is_set(): stop`."""

    def __init__(
        self, client: SwarmClient, identity: str, *, ttl_s: float | None = None, renew_every_s: float | None = None,
        on_lost: Callable[[Lease], None] | None = None,
    ) -> None:
        super().__init__(identity, ttl_s, renew_every_s)
        self._client = client
        self._on_lost = on_lost
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        started = time.monotonic()
        self._granted(self._client.acquire_lease(self.identity, ttl_s=self._requested_ttl_s), started)
        self._thread = threading.Thread(target=self._renew_loop, name=f"swarm-lease-{self.identity}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_renewing()
        if not self.lost.is_set():
            try:
                self._client.release_lease(self.identity, self.token)
            except SwarmError as error:
                log.warning("releasing %s failed: %s", self.identity, error)

    def stop_renewing(self) -> None:
        """Stop the background renewal; the lease then runs out at its TTL unless released."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)
        self._thread = None

    def check(self) -> None:
        """Raise LeaseLost if the lease is gone: call it between steps of long work."""
        if self.lost.is_set():
            raise self.lost_error or LeaseLost(409, "lease_lost", f"the lease of {self.identity} was lost")

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._interval()):
            started = time.monotonic()
            try:
                self._granted(self._client.renew_lease(self.identity, self.token, ttl_s=self._requested_ttl_s), started)
            except LOST as error:
                self._mark_lost(error)
                return
            except SwarmError as error:
                log.warning("renewing %s failed: %s", self.identity, error)
                if time.monotonic() >= self._deadline:
                    self._mark_lost(LeaseLost(409, "lease_lost", f"could not renew {self.identity} in time"))
                    return

    def _mark_lost(self, error: SwarmError) -> None:
        if self.lost.is_set():
            return
        self.lost_error = error
        self.lost.set()
        self._stop.set()
        log.warning("lease of %s (token %s) lost: %s", self.identity, self.token, error)
        if self._on_lost is not None:
            self._on_lost(self)

    def _fenced(self, send: Callable[[], Any]) -> Any:
        try:
            return send()
        except LOST as error:
            self._mark_lost(error)
            raise

    # -- fenced writes under this lease ----------------------------------------------------------
    def checkpoint(self, data: bytes, *, version: int | None = None) -> Any:
        return self._fenced(lambda: self._client.checkpoint(self.identity, data, fencing_token=self.token,
                                                            version=version))

    def append_output(
        self, task_id: str, attempt: int, event: dict[str, Any], *, parent_refs: Iterable[str] = (),
        producer: str | None = None, idempotency_key: str | None = None,
    ) -> Any:
        """Append an output produced by this identity (the producer defaults to its name)."""
        return self._fenced(lambda: self._client.append_output(
            task_id, attempt, self._producer(producer), event, parent_refs=parent_refs,
            idempotency_key=idempotency_key, **self.fence,
        ))

    def complete_claim(self, session_id: str, claim: dict[str, Any]) -> Any:
        return self._fenced(lambda: self._client.complete_claim(session_id, claim, **self.fence))

    def claim(self, session_id: str, **options: Any) -> Any:
        """Claim work in this identity's session (its inbox); None when there is nothing."""
        return self.call("claim", session_id, **options)

    def claim_many(self, session_id: str, **options: Any) -> Any:
        """Up to `max_claims` claims in this identity's session at once; [] when there is nothing."""
        return self.call("claim_many", session_id, **options)

    def complete_claims(self, session_id: str, claims: Iterable[Mapping[str, Any]]) -> Any:
        """Finish several claims in one call (per-claim outcomes; a lost lease refuses them all)."""
        return self._fenced(lambda: self._client.complete_claims(session_id, claims, **self.fence))

    def append_outputs(self, outputs: Iterable[Mapping[str, Any]], *, idempotency_key: str | None = None) -> Any:
        """Append several outputs at once (`output_item(...)` each; the producer defaults to this identity,
        whose outputs carry the lease's token), all or nothing."""
        items = self._fenced_items(outputs)
        return self._fenced(lambda: self._client.append_outputs(items, idempotency_key=idempotency_key))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Any fenced write of the client under this lease, with its token: `lease.call("renew_claim",
        session_id, claim)`, `lease.call("commit_session", session_id, ...)`, `lease.call("put_ops_lifecycle", ...)`."""
        method = getattr(self._client, name)
        return self._fenced(lambda: method(*args, **kwargs, **self._fence_for(method)))


class AsyncLease(_LeaseState):
    """`async with swarm.lease("planner") as lease:` ... `if lease.lost.is_set(): stop`."""

    def __init__(
        self, client: AsyncSwarmClient, identity: str, *, ttl_s: float | None = None,
        renew_every_s: float | None = None, on_lost: Callable[[AsyncLease], None] | None = None,
    ) -> None:
        super().__init__(identity, ttl_s, renew_every_s)
        self._client = client
        self._on_lost = on_lost
        self.lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncLease:
        started = time.monotonic()
        self._granted(await self._client.acquire_lease(self.identity, ttl_s=self._requested_ttl_s), started)
        self._task = asyncio.create_task(self._renew_loop(), name=f"swarm-lease-{self.identity}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_renewing()
        if not self.lost.is_set():
            try:
                await self._client.release_lease(self.identity, self.token)
            except SwarmError as error:
                log.warning("releasing %s failed: %s", self.identity, error)

    async def stop_renewing(self) -> None:
        """Stop the background renewal; the lease then runs out at its TTL unless released."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def check(self) -> None:
        """Raise LeaseLost if the lease is gone: call it between steps of long work."""
        if self.lost.is_set():
            raise self.lost_error or LeaseLost(409, "lease_lost", f"the lease of {self.identity} was lost")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            started = time.monotonic()
            try:
                grant = await self._client.renew_lease(self.identity, self.token, ttl_s=self._requested_ttl_s)
                self._granted(grant, started)
            except LOST as error:
                self._mark_lost(error)
                return
            except SwarmError as error:
                log.warning("renewing %s failed: %s", self.identity, error)
                if time.monotonic() >= self._deadline:
                    self._mark_lost(LeaseLost(409, "lease_lost", f"could not renew {self.identity} in time"))
                    return

    def _mark_lost(self, error: SwarmError) -> None:
        if self.lost.is_set():
            return
        self.lost_error = error
        self.lost.set()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()  # a fenced write learned it first: no point renewing
        log.warning("lease of %s (token %s) lost: %s", self.identity, self.token, error)
        if self._on_lost is not None:
            self._on_lost(self)

    async def _fenced(self, send: Any) -> Any:
        try:
            return await send
        except LOST as error:
            self._mark_lost(error)
            raise

    # -- fenced writes under this lease ----------------------------------------------------------
    async def checkpoint(self, data: bytes, *, version: int | None = None) -> Any:
        return await self._fenced(self._client.checkpoint(self.identity, data, fencing_token=self.token,
                                                          version=version))

    async def append_output(
        self, task_id: str, attempt: int, event: dict[str, Any], *, parent_refs: Iterable[str] = (),
        producer: str | None = None, idempotency_key: str | None = None,
    ) -> Any:
        """Append an output produced by this identity (the producer defaults to its name)."""
        return await self._fenced(self._client.append_output(
            task_id, attempt, self._producer(producer), event, parent_refs=parent_refs,
            idempotency_key=idempotency_key, **self.fence,
        ))

    async def complete_claim(self, session_id: str, claim: dict[str, Any]) -> Any:
        return await self._fenced(self._client.complete_claim(session_id, claim, **self.fence))

    async def claim(self, session_id: str, **options: Any) -> Any:
        """Claim work in this identity's session (its inbox); None when there is nothing."""
        return await self.call("claim", session_id, **options)

    async def claim_many(self, session_id: str, **options: Any) -> Any:
        """Up to `max_claims` claims in this identity's session at once; [] when there is nothing."""
        return await self.call("claim_many", session_id, **options)

    async def complete_claims(self, session_id: str, claims: Iterable[Mapping[str, Any]]) -> Any:
        """Finish several claims in one call (per-claim outcomes; a lost lease refuses them all)."""
        return await self._fenced(self._client.complete_claims(session_id, claims, **self.fence))

    async def append_outputs(
        self, outputs: Iterable[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> Any:
        """Append several outputs at once (see Lease.append_outputs)."""
        items = self._fenced_items(outputs)
        return await self._fenced(self._client.append_outputs(items, idempotency_key=idempotency_key))

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Any fenced write of the client under this lease, with its token (see Lease.call)."""
        method = getattr(self._client, name)
        return await self._fenced(method(*args, **kwargs, **self._fence_for(method)))
