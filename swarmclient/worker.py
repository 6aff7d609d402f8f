"""Worker helpers over the batch calls: drain a session's inbox many claims at a time (`QueueWorker`,
`AsyncQueueWorker`) and keep many agents of one process alive with one call per beat (`HeartbeatGroup`).

    worker = QueueWorker(swarm, session_id, handle, max_claims=32)   # handle(claim) does the work
    worker.run(stop=stop)          # claim up to 32, handle each, complete the finished ones in one call

Two round trips per round, whatever its size: the claim and the completion. A claim whose handler
raised is given back (abandoned) so another worker takes it; under a lease (`lease=`) every call
carries the lease's token, and the worker stops once the lease is lost."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swarmclient.errors import SwarmError

if TYPE_CHECKING:
    from swarmclient.client import AsyncSwarmClient, SwarmClient
    from swarmclient.lease import AsyncLease, Lease

log = logging.getLogger("swarmclient")
Claim = dict[str, Any]
MAX_HEARTBEATS = 500  # what one heartbeat_many call may carry


@dataclass(frozen=True)
class Round:
    """What one claim-handle-complete round did."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0  # the handler raised: given back
    expired: int = 0  # finished too late: the claim had lost its batches (another worker has them)


def _tally(claims: list[Claim], failed: list[Claim], answer: dict[str, Any] | None) -> Round:
    outcomes = [r["outcome"] for r in (answer or {}).get("results", [])]
    return Round(len(claims), outcomes.count("completed"), len(failed),
                 sum(o != "completed" for o in outcomes))


class QueueWorker:
    """Claims up to `max_claims` claims at a time from one session, hands each to `handle(claim)`, and
    completes the finished ones with one call."""

    def __init__(
        self, client: SwarmClient, session_id: str, handle: Callable[[Claim], object], *, max_claims: int = 16,
        max_batches: int = 1, lease_ttl_ms: int | None = None, lease: Lease | None = None,
    ) -> None:
        self.client, self.session_id, self.handle, self.lease = client, session_id, handle, lease
        self.options: dict[str, Any] = {"max_claims": max_claims, "max_batches": max_batches,
                                        "lease_ttl_ms": lease_ttl_ms}

    def run_once(self) -> Round:
        """One round: claim, handle each claim, give back the failed ones, complete the rest."""
        lease, sid = self.lease, self.session_id
        claims: list[Claim] = lease.claim_many(sid, **self.options) if lease else \
            self.client.claim_many(sid, **self.options)
        done, failed = [], []
        for claim in claims:
            try:
                self.handle(claim)
                done.append(claim)
            except Exception:  # the worker keeps going; the claim goes back to the queue
                log.exception("handling claim %s failed; giving it back", claim["claim_id"])
                failed.append(claim)
        for claim in failed:
            try:
                lease.call("abandon_claim", sid, claim) if lease else self.client.abandon_claim(sid, claim)
            except SwarmError as error:
                log.warning("giving back claim %s failed: %s", claim["claim_id"], error)
        answer = None
        if done:
            answer = lease.complete_claims(sid, done) if lease else self.client.complete_claims(sid, done)
        return _tally(claims, failed, answer)

    def run(self, *, stop: threading.Event | None = None, idle_wait_s: float = 0.5, until_empty: bool = False) -> int:
        """Work rounds until `stop` is set, the lease is lost, or (`until_empty`) nothing is left to
        claim; waits `idle_wait_s` after an empty round. How many claims it completed."""
        stop = stop or threading.Event()
        completed = 0
        while not stop.is_set() and not (self.lease is not None and self.lease.lost.is_set()):
            done = self.run_once()
            completed += done.completed
            if done.claimed == 0:
                if until_empty:
                    break
                stop.wait(idle_wait_s)
        return completed


class AsyncQueueWorker:
    """QueueWorker for AsyncSwarmClient: `handle(claim)` may be a coroutine function."""

    def __init__(
        self, client: AsyncSwarmClient, session_id: str, handle: Callable[[Claim], object | Awaitable[object]], *,
        max_claims: int = 16, max_batches: int = 1, lease_ttl_ms: int | None = None, lease: AsyncLease | None = None,
    ) -> None:
        self.client, self.session_id, self.handle, self.lease = client, session_id, handle, lease
        self.options: dict[str, Any] = {"max_claims": max_claims, "max_batches": max_batches,
                                        "lease_ttl_ms": lease_ttl_ms}

    async def run_once(self) -> Round:
        lease, sid = self.lease, self.session_id
        claims: list[Claim] = await (lease.claim_many(sid, **self.options) if lease else
                                     self.client.claim_many(sid, **self.options))
        done, failed = [], []
        for claim in claims:
            try:
                result = self.handle(claim)
                if asyncio.iscoroutine(result):
                    await result
                done.append(claim)
            except Exception:
                log.exception("handling claim %s failed; giving it back", claim["claim_id"])
                failed.append(claim)
        for claim in failed:
            try:
                await (lease.call("abandon_claim", sid, claim) if lease else self.client.abandon_claim(sid, claim))
            except SwarmError as error:
                log.warning("giving back claim %s failed: %s", claim["claim_id"], error)
        answer = None
        if done:
            answer = await (lease.complete_claims(sid, done) if lease else self.client.complete_claims(sid, done))
        return _tally(claims, failed, answer)

    async def run(
        self, *, stop: asyncio.Event | None = None, idle_wait_s: float = 0.5, until_empty: bool = False
    ) -> int:
        stop = stop or asyncio.Event()
        completed = 0
        while not stop.is_set() and not (self.lease is not None and self.lease.lost.is_set()):
            done = await self.run_once()
            completed += done.completed
            if done.claimed == 0:
                if until_empty:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), idle_wait_s)
                except TimeoutError:
                    pass
        return completed


class HeartbeatGroup:
    """Keeps many agents of one process alive: one heartbeat_many call per beat (per 500 agents), in a
    background thread; an agent that expired (a long pause) is registered again under its name."""

    def __init__(
        self, client: SwarmClient, agents: Iterable[uuid.UUID | str] | dict[str, str], *, interval_s: float = 10.0
    ) -> None:
        named = agents if isinstance(agents, dict) else {str(a): "" for a in agents}
        self.client, self.names, self.interval_s = client, {str(a): n for a, n in named.items()}, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> dict[str, str]:
        """Heartbeat every agent now; their outcomes (agent id -> ok | agent_expired | not_found). Expired
        and unknown agents are registered again."""
        ids = list(self.names)
        outcomes: dict[str, str] = {}
        for start in range(0, len(ids), MAX_HEARTBEATS):
            answer = self.client.heartbeat_many(ids[start : start + MAX_HEARTBEATS])
            outcomes.update({r["agent_id"]: r["outcome"] for r in answer["results"]})
        for agent_id, outcome in outcomes.items():
            if outcome != "ok":
                log.warning("agent %s: %s; registering again", agent_id, outcome)
                self.client.request("POST", f"/agents/{agent_id}/register", {"name": self.names[agent_id]})
        return outcomes

    def start(self) -> HeartbeatGroup:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="swarm-heartbeats", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except SwarmError as error:
                log.warning("heartbeats failed: %s", error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def __enter__(self) -> HeartbeatGroup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
