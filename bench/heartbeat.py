"""The request path against the framework's floor, in one run (SQLite by default, PostgreSQL with --pg):

- floor: a bare django-ninja app with an async no-op (bench/floor: no auth, no database, no middleware)
  under daphne, started as `python -m daphne bench.floor.asgi:application`;
- product no-op: Swarmsite's authenticated POST /api/v1/noop, served as the product serves
  (`manage.py serve --no-demo --workers 1`, bench/common.py live_server) on a fresh database;
- heartbeats: POST /api/v1/agents/{id}/heartbeat on the same product server, round robin over 50
  registered agents, with an agent-scope token;
- batch heartbeats: POST /api/v1/agents/heartbeats naming all 50 agents in one request (how a process
  hosting many agents keeps them alive), reported as agent heartbeats per second against the no-op's
  requests per second (no target: it says how many agents one server keeps alive);
- heartbeats over many agents (--many-agents, 1000): the same single heartbeat, round robin over 1000
  other agents, so each beats about once a second and a heartbeat flush writes nearly one row per
  heartbeat (no target: it shows the heartbeat's cost stays flat with the swarm's size).

Load: wrk, 1 thread, 8 keep-alive connections (the Python load generator if wrk is missing); the
targets are interleaved, --rounds runs each after a warm-up, and the medians are compared. Both daphne
servers write their access log to /dev/null, so logging costs them alike. Also printed: the server
processes' CPU time per request (from /proc), which a busy shared machine disturbs less than rates.

Targets: product no-op / floor >= 1.0, heartbeat / product no-op >= 0.9. The heartbeat ratio is
printed second to last; the last line is the product no-op / floor ratio.

Run: .venv/bin/python -m bench.heartbeat [--pg] [--seconds 5] [--rounds 3] [--agents 50] [--many-agents 1000]"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/queue.py shadows queue
sys.path.insert(0, str(HERE.parent))
from bench.common import (  # noqa: E402
    cpu_seconds,
    daphne_app,
    fresh_postgres_url,
    have_wrk,
    load_average,
    machine,
    median,
    post_load,
    process_tree,
    product_server,
)

AGENTS = 50
MANY_AGENTS = 1000  # wrk's script gets the paths in one environment variable (at most 128 KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite for the product")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each (the median counts)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--agents", type=int, default=AGENTS, help="agents the single heartbeats go round")
    parser.add_argument("--many-agents", type=int, default=MANY_AGENTS,
                        help="agents of the second single-heartbeat target (0 leaves it out)")
    args = parser.parse_args()
    engine = "PostgreSQL" if args.pg else "SQLite"
    db = fresh_postgres_url("bench_heartbeat") if args.pg else None
    floor_env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    floor_env["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
    load_before = load_average()
    with (
        daphne_app("bench.floor.asgi:application", floor_env, "/api/v1/noop", "POST") as (floor_base, floor_pid),
        product_server(db, scope="agent") as served,
    ):
        base, token = served.base, served.token
        with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as client:
            agents = [uuid.uuid4() for _ in range(args.agents)]
            crowd = [uuid.uuid4() for _ in range(args.many_agents)]
            for agent in agents + crowd:
                client.post(f"/agents/{agent}/register").raise_for_status()
        batch = json.dumps({"agent_ids": [str(a) for a in agents[:AGENTS]]})
        targets: dict[str, tuple[str, list[str], str | None, Callable[[], list[int]], str]] = {
            "floor": (floor_base, ["/api/v1/noop"], None, lambda: [floor_pid], ""),
            "noop": (base, ["/api/v1/noop"], token, lambda: process_tree(served.pid), ""),
            "heartbeat": (base, [f"/api/v1/agents/{a}/heartbeat" for a in agents], token,
                          lambda: process_tree(served.pid), ""),
            "batch": (base, ["/api/v1/agents/heartbeats"], token, lambda: process_tree(served.pid), batch),
        }
        if crowd:
            targets["crowd"] = (base, [f"/api/v1/agents/{a}/heartbeat" for a in crowd], token,
                                lambda: process_tree(served.pid), "")
        rates: dict[str, list[float]] = {name: [] for name in targets}
        cpu_ms: dict[str, list[float]] = {name: [] for name in targets}
        beating = {"heartbeat": agents, "crowd": crowd}

        def keep_alive(name: str) -> None:
            """Unmeasured: every agent of a single-heartbeat target beats once (a batch heartbeat), so none
            has fallen silent past its TTL while the other targets ran."""
            with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as client:
                ids = [str(a) for a in beating.get(name, [])]
                for start in range(0, len(ids), 500):
                    client.post("/agents/heartbeats", json={"agent_ids": ids[start:start + 500]}).raise_for_status()

        for name, (url, paths, bearer, _pids, body) in targets.items():  # warm-up: code paths, caches, connections
            keep_alive(name)
            post_load(url, paths, bearer, connections=args.connections, seconds=1, body=body)
        for _ in range(args.rounds):
            for name, (url, paths, bearer, pids, body) in targets.items():
                keep_alive(name)
                watched = pids()
                cpu_start = cpu_seconds(watched)
                rate, failed = post_load(url, paths, bearer, connections=args.connections, seconds=args.seconds,
                                         body=body)
                if failed:
                    sys.exit(f"{name}: {failed} requests failed (non-2xx or socket errors)")
                rates[name].append(rate)
                cpu_ms[name].append(1000 * (cpu_seconds(watched) - cpu_start) / (rate * args.seconds))
    floor, noop, heartbeat = (median(rates[n]) for n in ("floor", "noop", "heartbeat"))
    tool = "wrk" if have_wrk() else "Python load generator (wrk not installed)"
    print(f"\n## The request path against the floor ({engine})\n")
    print(f"Machine: {machine()}; load average before {load_before}, after {load_average()}")
    print(f"Load: {tool}, {args.connections} connections, {args.rounds} interleaved runs of {args.seconds:g} s, "
          "medians\n")
    print("| measure | req/s (median) | runs | server CPU per request |\n|---|---|---|---|")
    labels = {
        "floor": "floor: bare django-ninja async no-op under daphne",
        "noop": "product: authenticated POST /api/v1/noop (serve --workers 1)",
        "heartbeat": f"product: POST /api/v1/agents/{{id}}/heartbeat, round robin over {args.agents} agents",
        "batch": f"product: POST /api/v1/agents/heartbeats, {AGENTS} agents per request",
        "crowd": f"product: POST /api/v1/agents/{{id}}/heartbeat, round robin over {args.many_agents} agents",
    }
    for name, label in labels.items():
        if name not in rates:
            continue
        runs = ", ".join(f"{r:.0f}" for r in rates[name])
        print(f"| {label} | {median(rates[name]):.0f} | {runs} | {median(cpu_ms[name]):.2f} ms |")
    beats = median(rates["batch"]) * AGENTS
    print(f"\nBatch heartbeats: {beats:.0f} agent heartbeats/s, {beats / noop:.1f} times the no-op's requests/s\n")
    if crowd:
        print(f"ratio heartbeat over {args.many_agents} agents/product-noop: {median(rates['crowd']) / noop:.2f} "
              "(each agent beats about once a second: a flush writes nearly one row per heartbeat)")
    print(f"ratio heartbeat/product-noop: {heartbeat / noop:.2f} (target >= 0.9)")
    print(f"ratio product-noop/floor-noop: {noop / floor:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
