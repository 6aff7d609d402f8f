"""The demo swarm: seeds the roster, runs the simulated agents and a driver that sends them work,
and a supervisor that makes one agent misbehave every so often and restarts crashed ones."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

import httpx

from swarmclient import SwarmClient, SwarmError, progress
from swarmsite.demo.agent import AgentConfig, SimAgent, live
from swarmsite.demo.keeper import SessionRuntimeKeeper
from swarmsite.demo.roster import SENTENCES, peer_edges, roster
from swarmsite.demo.stats import Stats

log = logging.getLogger("swarmsite.demo")

MISCHIEF = ("stale_write", "tokenless_write", "hang", "foreign_token_write", "crash")


@dataclass(frozen=True)
class DemoConfig:
    url: str
    token: str
    agents: int = 10
    # The simulated agents' own token (agent scope, so their writes are fenced like any agent's); the
    # admin token seeds the roster and drives the work.
    agent_token: str | None = None
    duration_s: float | None = None
    message_every_s: float = 1.5
    chaos_every_s: float = 25.0
    status_every_s: float = 30.0
    poll_s: float = 1.5
    seed: int = 7
    verbose: bool = False


class Driver(threading.Thread):
    """Sends the swarm work: a request output (the root of the task's lineage) and a message that
    names it, to a random identity with a live lease."""

    def __init__(self, config: DemoConfig, run_id: str, stats: Stats, stop: threading.Event) -> None:
        super().__init__(name="demo-driver", daemon=True)
        self.config, self.run_id, self.stats, self.stop = config, run_id, stats, stop
        self.rng = random.Random(config.seed)
        self.client = SwarmClient(config.url, config.token, event_hooks=stats.hooks)

    def run(self) -> None:
        n = 0
        while not self.stop.wait(self.config.message_every_s * self.rng.uniform(0.6, 1.4)):
            n += 1  # every attempt gets its own task and keys, whether or not it was delivered
            try:
                self.send_one(n)
            except SwarmError as error:
                self.stats.expect(error)  # the lease lapsed between the listing and the send
        self.client.close()

    def send_one(self, n: int) -> None:
        statuses = self.client.list_identities(label="demo=yes", limit=100)["items"]
        targets = [s for s in statuses if s["state"] == "active" and live(s)]
        if not targets:
            return
        target = self.rng.choice(targets)
        text, task = self.rng.choice(SENTENCES), f"task-{self.run_id}-{n:04d}"
        request = self.client.append_output(task, 0, "demo-driver", progress("request", note=text),
                                            idempotency_key=f"{self.run_id}:request:{n}")
        content = {"text": text, "task": task, "parent": request["ref"], "hops": 0}
        key = f"{self.run_id}:message:{n}"
        if target["addressability"] == "addressable":
            self.client.send(target["identity"], content, idempotency_key=key)
        else:
            self.client.dispatch(target["identity"], content, origin="scheduler", correlation_id=task,
                                 idempotency_key=key)
        self.stats.add("messages")
        if self.config.verbose:
            log.info("demo-driver sent %s to %s", task, target["identity"])


class DemoSwarm:
    def __init__(self, config: DemoConfig, stop: threading.Event | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.stats = Stats()
        self.run_id = f"{int(time.time() * 1000):x}"[-7:]
        self.rng = random.Random(config.seed)
        self.agents: list[SimAgent] = []
        self.admin = SwarmClient(config.url, config.token, event_hooks=self.stats.hooks)
        self.agent_config = AgentConfig(url=config.url, token=config.agent_token or config.token, run_id=self.run_id,
                                        poll_s=config.poll_s, verbose=config.verbose)

    def run(self) -> Stats:
        """Run until `stop` is set (or `duration_s` passes), then stop every agent cleanly."""
        self.wait_ready()
        self.seed_roster()
        race = start_langgraph_race(self.config.url, self.config.token)
        for _ in range(self.config.agents):
            self.spawn()
        driver = Driver(self.config, self.run_id, self.stats, self.stop)
        driver.start()
        keeper = SessionRuntimeKeeper(self.config.url, self.config.token, self.run_id, self.stats, self.stop)
        keeper.start()
        try:
            self.supervise()
        finally:
            self.stop.set()
            deadline = time.monotonic() + 30
            for thread in [driver, keeper, *self.agents, *([race] if race else [])]:
                thread.join(timeout=max(0.1, deadline - time.monotonic()))
            self.log_status()
            self.admin.close()
        return self.stats

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.admin.health()
                return
            except SwarmError:
                if time.monotonic() > deadline or self.stop.wait(0.5):
                    raise

    def seed_roster(self) -> None:
        result = self.admin.restore_roster(roster(), topology=peer_edges())
        outcomes = [o["outcome"] for o in result["outcomes"]]
        log.info("seeded the roster: %d identities in 3 teams (%d created, %d resumed, %d broken), %d peer edges",
                 len(outcomes), outcomes.count("created"), outcomes.count("resumed"), outcomes.count("broken"),
                 len(result["managed_edges"]))

    def spawn(self) -> SimAgent:
        agent = SimAgent(len(self.agents) + 1, self.agent_config, self.stats, self.stop,
                         seed=self.config.seed * 1000 + len(self.agents))
        self.agents.append(agent)
        agent.start()
        return agent

    def supervise(self) -> None:
        start = time.monotonic()
        next_chaos = start + self.config.chaos_every_s / 2
        next_status = start + self.config.status_every_s
        restarts: dict[SimAgent, float] = {}
        chaos = 0
        while not self.stop.wait(0.25):
            now = time.monotonic()
            if self.config.duration_s is not None and now - start >= self.config.duration_s:
                return
            if now >= next_chaos and self.make_mischief(MISCHIEF[chaos % len(MISCHIEF)]):
                chaos += 1
                next_chaos = now + self.config.chaos_every_s
            for agent in self.agents:
                if agent.crashed and agent not in restarts:
                    restarts[agent] = now + self.config.chaos_every_s / 3
            for agent, due in list(restarts.items()):
                if now >= due:
                    restarts[agent] = float("inf")
                    log.info("supervisor restarts the crashed %s as %s", agent.name, self.spawn().name)
            if now >= next_status:
                next_status = now + self.config.status_every_s
                self.log_status()

    def make_mischief(self, kind: str) -> bool:
        working = [a for a in self.agents if a.is_alive() and a.identity is not None and a.mischief is None]
        if not working:
            return False
        agent = self.rng.choice(working)
        log.info("supervisor: %s will %s", agent.name, kind.replace("_", " "))
        agent.mischief = kind
        return True

    def log_status(self) -> None:
        try:
            online = self.admin.list_agents(state="online", limit=1)["total"]
            statuses = self.admin.list_identities(label="demo=yes", limit=100)["items"]
            outputs = self.admin.list_outputs(limit=1)["total"]
            rejected = sum(self.admin.rejections(s["identity"], limit=1)["total"] for s in statuses)
        except (SwarmError, httpx.HTTPError) as error:
            log.warning("status unavailable: %s", error)
            return
        log.info(self.stats.status_line(online, sum(live(s) for s in statuses), outputs, rejected))


def start_langgraph_race(url: str, token: str) -> threading.Thread | None:
    """Two LangGraph workers race for one thread once per demo (swarmsite.demo.langgraph_race); skipped
    when the `langgraph` extra is not installed."""
    try:
        from swarmsite.demo.langgraph_race import run_in_demo
    except ImportError:
        log.info("langgraph is not installed: the LangGraph race is left out of the demo")
        return None
    return run_in_demo(url, token)
