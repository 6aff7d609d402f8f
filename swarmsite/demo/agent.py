"""One simulated agent process: a thread with its own SwarmClient.

It registers and heartbeats, takes the lease of a free identity (preferring one whose lease was
lost), resumes from its latest checkpoint, answers inbox messages for a shift (an output whose
parent is the message's output, sometimes forwarded to a peer), checkpoints, and moves on. When
the supervisor asks, it misbehaves: hangs past the TTL, crashes, or writes with a stale token."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from swarmclient import (
    AgentExpired,
    Lease,
    LeaseHeld,
    StaleFencingToken,
    SwarmClient,
    SwarmError,
    final,
)
from swarmsite.demo.roster import work
from swarmsite.demo.stats import Stats

log = logging.getLogger("swarmsite.demo")

CHECKPOINT_EVERY = 3
MAX_HOPS = 2


def live(status: dict[str, Any]) -> bool:
    return bool(status["lease"] and status["lease"]["ttl_remaining_ms"] > 0)


def needs_recovery(status: dict[str, Any]) -> bool:
    """Its last owner did not let go cleanly: the lease ran out, its agent expired, or it was fenced."""
    lease = status["lease"]
    return bool(lease) and not live(status) and lease["state"] in {"held", "lost", "fenced"}


class Crash(Exception):
    """The simulated process dies: nothing more is sent, nothing is released."""


@dataclass(frozen=True)
class AgentConfig:
    url: str
    token: str
    run_id: str
    poll_s: float = 1.5
    shift_ttls: tuple[float, float] = (3.0, 8.0)
    forward_chance: float = 0.6
    verbose: bool = False


class SimAgent(threading.Thread):
    def __init__(self, number: int, config: AgentConfig, stats: Stats, stop: threading.Event, seed: int) -> None:
        super().__init__(name=f"demo-agent-{number:02d}", daemon=True)
        self.config, self.stats, self.stop = config, stats, stop
        self.rng = random.Random(seed)
        self.client = SwarmClient(config.url, config.token, event_hooks=stats.hooks)
        self.identity: str | None = None
        self.mischief: str | None = None
        self.crashed = False

    def say(self, message: str) -> None:
        log.info("%s %s", self.name, message)

    # -- the process ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.client.register(name=self.name, metadata={"demo": True, "run": self.config.run_id})
            self.client.start_heartbeat()
            self.say(f"online (agent {str(self.client.agent_id)[:8]})")
            last: str | None = None
            while not self.stop.is_set():
                last = self.take_shift(exclude=last) or last
        except Crash:
            self.crashed = True
            self.stats.add("crashes")
            self.client.close()  # sends nothing: the heartbeat just stops
            self.say("crashed: no deregister, no release; the server will expire it")
            return
        except SwarmError as error:
            self.stats.expect(error)
            self.say(f"stopped on {error.code}")
        self.client.stop_heartbeat()
        with contextlib.suppress(SwarmError):
            self.client.deregister()
        self.client.close()
        self.say("offline (deregistered)")

    def pick(self, exclude: str | None) -> list[dict[str, Any]]:
        """Identities an agent may take, best first: lost leases (someone needs recovering), then
        never-leased or released ones; never the one it just left, unless it is the only one."""
        items = self.client.list_identities(label="demo=yes", limit=100)["items"]
        free = [s for s in items if s["state"] == "active" and not live(s)]
        self.rng.shuffle(free)
        free.sort(key=lambda s: (s["identity"] == exclude, not needs_recovery(s)))
        return free

    def take_shift(self, exclude: str | None) -> str | None:
        for status in self.pick(exclude)[:3]:
            if self.stop.is_set():
                return None
            try:
                self.work_under_lease(status)
                return status["identity"]
            except LeaseHeld as error:
                self.stats.expect(error)  # another agent was faster
            except SwarmError as error:
                self.stats.expect(error)
                self.say(f"left {status['identity']} on {error.code}")
                return status["identity"]
        self.stop.wait(self.config.poll_s)
        return None

    def work_under_lease(self, status: dict[str, Any]) -> None:
        identity = status["identity"]
        previous = status["lease"]["fencing_token"] if status["lease"] else None
        with contextlib.ExitStack() as stack:
            lease = stack.enter_context(self.client.lease(identity, on_lost=self.on_lost))
            self.identity = identity
            self.stats.add("leases")
            how = f", taking over after: {status['why_stuck']}" if needs_recovery(status) else ""
            self.say(f"took {identity} (token {lease.token}){how}")
            try:
                self.shift(lease, status, previous)
            except Crash:
                lease.stop_renewing()
                stack.pop_all()  # a dead process releases nothing
                raise
            finally:
                self.identity = None
            if not lease.lost.is_set():
                self.say(f"ends its shift on {identity}: releases the lease")

    def on_lost(self, lease: Lease) -> None:
        self.stats.add("leases_lost")
        code = lease.lost_error.code if lease.lost_error else "lease_lost"
        self.say(f"lost the lease of {lease.identity} (token {lease.token}): {code}; stops working on it")

    # -- a shift ---------------------------------------------------------------------------------
    def shift(self, lease: Lease, status: dict[str, Any], previous: int | None) -> None:
        identity, profile = lease.identity, status["profile"] or "worker"
        session = str(self.client.identity_status(identity)["session_id"])
        state = self.resume(identity)
        peers = self.client.peers(identity)["peers"]
        ends_at = time.monotonic() + self.rng.uniform(*self.config.shift_ttls) * lease.ttl_s
        while not self.stop.is_set() and not lease.lost.is_set() and time.monotonic() < ends_at:
            if self.mischief is not None:
                if self.misbehave(lease, state, previous):
                    return
                continue
            claim = lease.claim(session)
            if claim is None:
                self.stop.wait(self.config.poll_s * self.rng.uniform(0.7, 1.3))
                continue
            try:
                for batch in claim["batches"]:
                    for item in batch["items"]:
                        self.answer(lease, profile, peers, state, batch["batch_id"], item)
                lease.complete_claim(session, claim)
            except SwarmError as error:
                # Hand the work back at once instead of letting it wait for the claim to expire.
                with contextlib.suppress(SwarmError):
                    lease.call("abandon_claim", session, claim)
                raise error
            state["answered"] += sum(len(b["items"]) for b in claim["batches"])
            if state["answered"] % CHECKPOINT_EVERY == 0:
                self.save(lease, state)
        if not lease.lost.is_set():
            self.save(lease, state)

    def resume(self, identity: str) -> dict[str, Any]:
        latest = self.client.latest_checkpoint(identity)
        if latest is None:
            return {"answered": 0, "last_ref": None}
        self.say(f"resumes {identity} from checkpoint v{latest['version']} (generation {latest['generation']})")
        state: dict[str, Any] = json.loads(latest["data"] or b"{}")
        state.setdefault("answered", 0)
        return state

    def save(self, lease: Lease, state: dict[str, Any]) -> None:
        saved = lease.checkpoint(json.dumps(state).encode())
        self.stats.add("checkpoints")
        if self.config.verbose:
            self.say(f"checkpointed {lease.identity} v{saved['version']}")

    def answer(
        self, lease: Lease, profile: str, peers: list[str], state: dict[str, Any], batch_id: str, item: dict[str, Any]
    ) -> None:
        message = (item["payload"].get("input") or {}).get("content") or {}
        text = str(message.get("text", "")) if isinstance(message, dict) else str(message)
        task = str(message.get("task", f"adhoc-{batch_id}")) if isinstance(message, dict) else f"adhoc-{batch_id}"
        parent = message.get("parent") if isinstance(message, dict) else None
        answer = work(profile, text)
        out = lease.append_output(task, 0, final(answer), parent_refs=[parent] if parent else [],
                                  idempotency_key=f"{self.config.run_id}:{batch_id}:{item['item_id']}")
        state["last_ref"] = out["ref"]
        self.stats.add("answered")
        if self.config.verbose:
            self.say(f"{lease.identity} answered {task}: {answer!r} -> {out['ref']}")
        hops = int(message.get("hops", 0)) if isinstance(message, dict) else MAX_HOPS
        if peers and hops < MAX_HOPS and self.rng.random() < self.config.forward_chance:
            self.forward(self.rng.choice(peers), task, answer, out["ref"], hops + 1)

    def forward(self, peer: str, task: str, text: str, parent: str, hops: int) -> None:
        content = {"text": text, "task": task, "parent": parent, "hops": hops}
        key = f"{self.config.run_id}:fwd:{parent}"
        try:
            # dispatch, not send: it reaches internal-only peers too (agents talk internally).
            self.client.dispatch(peer, content, origin="system", correlation_id=task, idempotency_key=key)
            self.stats.add("forwarded")
        except SwarmError as error:
            self.stats.expect(error)  # the peer has no live lease right now; the work stops here

    # -- misbehaving on purpose ------------------------------------------------------------------
    def misbehave(self, lease: Lease, state: dict[str, Any], previous: int | None) -> bool:
        """Do the mischief the supervisor asked for; True if the shift is over."""
        kind, self.mischief = self.mischief, None
        if kind == "crash":
            raise Crash()
        if kind == "stale_write":
            self.stale_write(lease, previous)
            return False
        if kind == "tokenless_write":
            self.tokenless_write(lease)
            return False
        if kind == "foreign_token_write":
            self.foreign_token_write(lease)
            return False
        self.hang(lease, state)
        return True

    def stale_write(self, lease: Lease, previous: int | None) -> None:
        if previous is None or previous >= lease.token:
            self.tokenless_write(lease)  # no older token of this identity to replay
            return
        token = previous
        self.say(f"writes a checkpoint of {lease.identity} with an old token {token} (current {lease.token})")
        try:
            self.client.checkpoint(lease.identity, b'{"zombie": true}', fencing_token=token)
            self.stats.unexpect(f"a checkpoint with stale token {token} was accepted")
        except StaleFencingToken as error:
            self.stats.add("stale_writes_rejected")
            self.stats.expect(error)
            self.say(f"stale write to {lease.identity} rejected (stale_fencing_token) and recorded")

    def tokenless_write(self, lease: Lease) -> None:
        """Write as the identity without its token: an output with producer = the identity's name."""
        self.say(f"appends an output as {lease.identity} without a fencing token")
        try:
            self.client.append_output("mischief", 0, lease.identity, final("written without a token"))
            self.stats.unexpect(f"an output of {lease.identity} without a fencing token was accepted")
        except StaleFencingToken as error:
            self.stats.add("stale_writes_rejected")
            self.stats.expect(error)
            self.say(f"tokenless write to {lease.identity} refused ({error.code}) and recorded")

    def foreign_token_write(self, lease: Lease) -> None:
        """Checkpoint another identity with this lease's (valid, current) token."""
        others = [p for p in self.client.peers(lease.identity)["peers"] if p != lease.identity]
        if not others:
            return
        victim = self.rng.choice(others)
        self.say(f"checkpoints {victim} with {lease.identity}'s token {lease.token}")
        try:
            self.client.checkpoint(victim, b'{"foreign": true}', fencing_token=lease.token)
            self.stats.unexpect(f"a checkpoint of {victim} with {lease.identity}'s token was accepted")
        except StaleFencingToken as error:
            self.stats.add("stale_writes_rejected")
            self.stats.expect(error)
            self.say(f"write to {victim} with another identity's token refused ({error.code}) and recorded")

    def hang(self, lease: Lease, state: dict[str, Any]) -> None:
        agent_ttl = float(self.client.get_agent()["ttl_s"])
        pause = max(agent_ttl, lease.ttl_s) * 1.5 + 1
        self.stats.add("hangs")
        self.say(f"hangs for {pause:.0f}s holding {lease.identity}: no heartbeat, no renewal")
        self.client.stop_heartbeat()
        lease.stop_renewing()
        if self.stop.wait(pause):
            return  # shutting down: leave normally
        self.say(f"wakes up and checkpoints {lease.identity} with its old token {lease.token}")
        try:
            self.client.checkpoint(lease.identity, json.dumps(state).encode(), fencing_token=lease.token)
            self.stats.unexpect(f"a checkpoint after a {pause:.0f}s hang was accepted")
        except StaleFencingToken as error:
            self.stats.add("stale_writes_rejected")
            self.stats.expect(error)
            self.say(f"late checkpoint of {lease.identity} rejected: a newer owner holds token "
                     f"{error.current_token} (recorded)")
        except SwarmError as error:
            self.stats.expect(error)
            self.say(f"late checkpoint of {lease.identity} refused: {error.code} (nobody took over yet)")
        lease.lost.set()  # whatever the answer, this lease is over: leave without releasing
        try:
            self.client.heartbeat()
        except AgentExpired as error:
            self.stats.expect(error)
            self.client.register(name=self.name, metadata={"demo": True, "run": self.config.run_id})
            self.say("had expired: registers again")
        self.client.start_heartbeat()
