"""Two LangGraph workers race for one thread, and Swarmsite's fencing keeps its checkpoint chain whole.

A real LangGraph graph (plan -> fetch -> compute -> report; deterministic nodes, no model) checkpoints
through SwarmsiteSaver under the identity's lease. Worker A stalls inside `compute` (its lease renewal
freezes with it, as in a long GC pause or a partition) until its lease runs out; worker B takes the lease,
resumes the thread from the last good checkpoint and finishes. When A wakes up, its next write is refused
with StaleFencingToken, so the thread never forks. `python -m swarmsite.demo.langgraph_race URL TOKEN` runs
it against a server; the demo swarm runs it once at start-up (identity `lg-racer`)."""

from __future__ import annotations

import logging
import operator
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from swarmclient import SwarmClient
from swarmclient.errors import LeaseHeld, StaleFencingToken
from swarmclient.langgraph import SwarmsiteSaver

log = logging.getLogger("swarmsite.demo")

NODES = ("plan", "fetch", "compute", "report")


class RaceState(TypedDict):
    steps: Annotated[list[str], operator.add]
    total: int


@dataclass
class RaceResult:
    thread_id: str
    identity: str
    final: dict[str, Any]
    stale_error: StaleFencingToken | None
    token_a: int
    token_b: int
    chain: list[dict[str, Any]]  # newest first: checkpoint_id, parent, fencing_token, step


def _node(name: str, stalls: dict[str, threading.Event], resume: threading.Event) -> Any:
    def run(state: RaceState, config: RunnableConfig) -> dict[str, Any]:
        worker = config["configurable"]["worker"]
        if name == "compute" and worker in stalls:
            stalls[worker].set()
            resume.wait(timeout=120)
        return {"steps": [f"{name}:{worker}"], "total": state["total"] * 2 + len(name)}

    return run


def build_graph(saver: SwarmsiteSaver, stalls: dict[str, threading.Event], resume: threading.Event) -> Any:
    builder = StateGraph(RaceState)
    for name in NODES:
        builder.add_node(name, _node(name, stalls, resume))
    builder.add_edge(START, NODES[0])
    for a, b in zip(NODES, NODES[1:], strict=False):
        builder.add_edge(a, b)
    builder.add_edge(NODES[-1], END)
    return builder.compile(checkpointer=saver)


def _take_over(client: SwarmClient, identity: str, ttl_s: float, timeout_s: float) -> SwarmsiteSaver:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return SwarmsiteSaver(client=client, identity=identity, lease_ttl_s=ttl_s)
        except LeaseHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(ttl_s / 5)


def race(url: str, token: str, *, identity: str = "lg-racer", thread_id: str | None = None,
         lease_ttl_s: float = 1.0) -> RaceResult:
    thread_id = thread_id or f"race-{uuid.uuid4().hex[:8]}"
    stalled, resume = threading.Event(), threading.Event()
    saver_a = SwarmsiteSaver(url, token, identity, lease_ttl_s=lease_ttl_s, retries=0)
    graph_a = build_graph(saver_a, {"a": stalled}, resume)
    outcome: dict[str, BaseException | None] = {"a": None}

    def worker_a() -> None:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id, "worker": "a"}}
        try:
            # durability="sync": each step's checkpoint is stored before the next step starts, so the
            # last good checkpoint is exactly the last finished step.
            graph_a.invoke({"steps": [], "total": 1}, config, durability="sync")
        except BaseException as error:  # noqa: B036 - reported to the caller, whatever it is
            outcome["a"] = error

    a = threading.Thread(target=worker_a, name="lg-race-a", daemon=True)
    a.start()
    if not stalled.wait(timeout=60):
        raise RuntimeError("worker A never reached compute")
    saver_a.lease.stop_renewing()  # A's whole process is frozen: its renewals stop with it
    token_a = saver_a.lease.token
    saver_b = _take_over(SwarmClient(url, token, retries=0), identity, lease_ttl_s, timeout_s=lease_ttl_s * 20)
    try:
        graph_b = build_graph(saver_b, {}, resume)
        config_b: RunnableConfig = {"configurable": {"thread_id": thread_id, "worker": "b"}}
        final = graph_b.invoke(None, config_b, durability="sync")
        resume.set()  # A wakes up and tries to write its stale result
        a.join(timeout=60)
        chain = [
            {"checkpoint_id": row["checkpoint_id"], "parent": row["parent_checkpoint_id"],
             "fencing_token": row["fencing_token"], "step": row["metadata"].get("step")}
            for row in saver_b.client.list_thread_checkpoints(thread_id, checkpoint_ns="")
        ]
        error = outcome["a"]
        if error is not None and not isinstance(error, StaleFencingToken):
            raise error
        return RaceResult(thread_id, identity, dict(final), error, token_a, saver_b.lease.token, chain)
    finally:
        resume.set()
        saver_a.close()
        saver_b.close()
        saver_b.client.close()


def run_in_demo(url: str, token: str) -> threading.Thread:
    """The demo's start-up hook: one race in the background (the demo joins it when it stops, so its agents
    go offline cleanly); the thread and the rejection show on the identity page of `lg-racer`."""

    def go() -> None:
        try:
            result = race(url, token, lease_ttl_s=2.0)
            log.info("langgraph race on %s: B finished %s; A was fenced out: %s", result.thread_id,
                     result.final["steps"], result.stale_error)
        except Exception:
            log.exception("the langgraph race failed")

    thread = threading.Thread(target=go, name="lg-race", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    outcome = race(sys.argv[1], sys.argv[2])
    print(f"thread {outcome.thread_id}: {outcome.final['steps']}")
    print(f"worker A (token {outcome.token_a}) fenced out: {outcome.stale_error}")
    for row in outcome.chain:
        print(f"  {row['checkpoint_id']} <- {row['parent']}  token {row['fencing_token']}  step {row['step']}")
