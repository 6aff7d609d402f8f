"""swarmclient's overhead per call against raw httpx calls to the same endpoints, in the same run.

Two measurements:
- against a live daphne server (SQLite): median latency of the same calls made through
  `SwarmClient` and through a bare `httpx.Client` (same keep-alive, same headers, same bodies,
  interleaved); the ratio is what an agent pays for the client end to end (target: <= 1.1);
- against an in-process transport that answers at once: the client's own CPU per call (building
  the call, retry bookkeeping, error decoding), in microseconds over raw httpx.

Run: .venv/bin/python bench/client.py [--calls N]"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import latencies, live_server, median, report  # noqa: E402
from swarmclient import SwarmClient, final  # noqa: E402

Pair = tuple[str, Callable[[int], Any], Callable[[int], Any]]


def pairs(client: SwarmClient, raw: httpx.Client, identity: str, token: int) -> list[Pair]:
    agent = client.agent_id
    fence = {"identity": identity, "fencing_token": token}

    def raw_append(i: int) -> Any:
        body = {"task_id": "bench", "attempt": 0, "producer_agent": identity, "event": final(f"raw {i}"),
                "parent_refs": [], **fence}
        response = raw.post("/outputs", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        response.raise_for_status()
        return response.json()

    def raw_call(method: str, path: str) -> Callable[[int], Any]:
        def call(i: int) -> Any:
            response = raw.request(method, path)
            response.raise_for_status()
            return response.json()
        return call

    return [
        ("GET /noop", raw_call("GET", "/noop"), lambda i: client.request("GET", "/noop")),
        ("POST /agents/{id}/heartbeat", raw_call("POST", f"/agents/{agent}/heartbeat"), lambda i: client.heartbeat()),
        ("GET /identities/{identity}", raw_call("GET", f"/identities/{identity}"),
         lambda i: client.identity_status(identity)),
        ("POST /outputs (fenced, Idempotency-Key)", raw_append,
         lambda i: client.append_output("bench", 0, identity, final(f"client {i}"), **fence)),
    ]


def live(calls: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with live_server(scope="admin") as (base, token, _env):
        client = SwarmClient(base, token)
        raw = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})
        client.register(name="bench")
        client.create_identity("bench-identity", "bench")
        lease = client.acquire_lease("bench-identity", ttl_s=3600)
        ratios = []
        for name, raw_fn, client_fn in pairs(client, raw, "bench-identity", lease["fencing_token"]):
            raw_times: list[float] = []
            client_times: list[float] = []
            for _ in range(4):  # interleaved rounds: drift on a shared machine hits both alike
                raw_times += latencies(raw_fn, calls // 4)
                client_times += latencies(client_fn, calls // 4)
            raw_ms, client_ms = median(raw_times) * 1000, median(client_times) * 1000
            ratios.append(client_ms / raw_ms)
            rows.append((f"{name}: raw httpx / swarmclient (median)",
                         f"{raw_ms:.2f} ms / {client_ms:.2f} ms = {client_ms / raw_ms:.2f}"))
        rows.append(("live server: mean ratio swarmclient / raw httpx (target ≤ 1.1)",
                     f"{sum(ratios) / len(ratios):.2f}"))
    return rows


def in_process(calls: int) -> list[tuple[str, str]]:
    body = json.dumps({"ok": True}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    transport = httpx.MockTransport(answer)
    client = SwarmClient("http://bench", "token", transport=transport)
    raw = httpx.Client(base_url="http://bench/api/v1", headers={"Authorization": "Bearer token"}, transport=transport)

    def raw_call(i: int) -> Any:
        response = raw.post("/outputs", json={"n": i}, headers={"Idempotency-Key": uuid.uuid4().hex})
        response.raise_for_status()
        return response.json()

    def client_call(i: int) -> Any:
        return client.append_output("bench", 0, "p", final(i))

    raw_times: list[float] = []
    client_times: list[float] = []
    for _ in range(4):
        raw_times += latencies(raw_call, calls // 4)
        client_times += latencies(client_call, calls // 4)
    raw_us, client_us = median(raw_times) * 1e6, median(client_times) * 1e6
    return [
        ("in-process transport: raw httpx POST", f"{raw_us:.0f} µs"),
        ("in-process transport: swarmclient append_output", f"{client_us:.0f} µs"),
        ("client CPU overhead per call", f"{client_us - raw_us:.0f} µs ({client_us / raw_us:.2f}x raw httpx)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400, help="calls per endpoint and flavour (live)")
    args = parser.parse_args()
    rows = live(args.calls) + in_process(args.calls * 5)
    report("swarmclient overhead per call against raw httpx (SQLite, one keep-alive client each)", rows)


if __name__ == "__main__":
    main()
