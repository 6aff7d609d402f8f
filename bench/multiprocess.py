"""Several server processes on PostgreSQL + Redis: how fast news crosses from one process to another.

- push delay: an identity event written through process A, until a websocket listener gets it, on
  A itself (same process, the baseline) and on B (across processes, through Redis and the log);
- long-poll wake-up: `GET /outputs/wait` waiting on A or on B, woken by an append on A (across
  processes through PostgreSQL LISTEN/NOTIFY; target p95 under 50 ms);
- heartbeats per second with `serve --workers 1` and `--workers 2` on PostgreSQL (16 clients).

Run: .venv/bin/python -m bench.multiprocess (needs PostgreSQL; Redis from REDIS_URL, default db 0).
The last line is the ratio of heartbeats/s with 2 workers to 1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PY, ROOT, bench_env, free_port, fresh_postgres_url, manage, pct, report  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ROUNDS = 60
CLIENTS = 16


def start(env: dict[str, str], port: int, workers: int | None = None) -> subprocess.Popen[bytes]:
    if workers is None:
        cmd = [PY, "-m", "daphne", "-p", str(port), "swarmsite.asgi:application"]
    else:
        cmd = [PY, "manage.py", "serve", "--no-demo", "--port", str(port), "--workers", str(workers),
               "--access-log", os.devnull]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.2)


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5) * 1000:.1f} ms, p95 {pct(values, 0.95) * 1000:.1f} ms"


async def push_delays(a: str, listen: str, token: str, name: str) -> list[float]:
    """Seconds from sending a lease write on `a` until the listener on `listen` has its event."""
    headers = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    async with httpx.AsyncClient(base_url=f"{a}/api/v1", headers=headers) as http:
        agent = str(uuid.uuid4())
        (await http.post(f"/agents/{agent}/register")).raise_for_status()
        ws_url = f"{listen.replace('http', 'ws', 1)}/ws/identities/{name}/events/?after=0"
        async with connect(ws_url, additional_headers=headers) as ws:
            await asyncio.sleep(0.3)
            for _ in range(ROUNDS):
                sent = time.perf_counter()
                got = (await http.post(f"/identities/{name}/lease", json={"agent_id": agent})).json()
                while json.loads(await ws.recv())["kind"] != "identity.lease_acquired":
                    pass
                out.append(time.perf_counter() - sent)
                body = {"agent_id": agent, "fencing_token": got["fencing_token"]}
                (await http.post(f"/identities/{name}/lease/release", json=body)).raise_for_status()
                await asyncio.sleep(0.02)
    return out


async def wake_delays(a: str, waiter: str, token: str) -> list[float]:
    """Seconds from an append's response on `a` until a long-poll on `waiter` answers with it."""
    headers = {"Authorization": f"Bearer {token}"}
    producer = f"bench-{uuid.uuid4().hex[:6]}"
    out: list[float] = []
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        for i in range(ROUNDS):
            wait = asyncio.ensure_future(http.get(f"{waiter}/api/v1/outputs/wait",
                                                  params={"producer": producer, "timeout": 10}))
            await asyncio.sleep(0.15)  # the long-poll is parked
            body = {"task_id": "t", "attempt": 1, "producer_agent": producer,
                    "event": {"type": "progress", "stage": f"s{i}"}}
            (await http.post(f"{a}/api/v1/outputs", json=body)).raise_for_status()
            appended = time.perf_counter()
            answer = await wait
            out.append(time.perf_counter() - appended)
            assert answer.json()["output"] is not None, answer.text
    return out


async def heartbeat_rate(url: str, token: str, seconds: float = 5.0) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    count = 0
    limits = httpx.Limits(max_connections=CLIENTS)

    async def client(http: httpx.AsyncClient, agent: str, until: float) -> None:
        nonlocal count
        while time.monotonic() < until:
            (await http.post(f"/agents/{agent}/heartbeat")).raise_for_status()
            count += 1

    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, limits=limits) as http:
        agents = [str(uuid.uuid4()) for _ in range(CLIENTS)]
        for agent in agents:
            (await http.post(f"/agents/{agent}/register")).raise_for_status()
        await asyncio.gather(*(client(http, a, time.monotonic() + 1) for a in agents))  # warm-up
        count, started = 0, time.monotonic()
        await asyncio.gather(*(client(http, a, started + seconds) for a in agents))
        return count / (time.monotonic() - started)


def main() -> None:
    env = bench_env(fresh_postgres_url("bench_multiprocess"))
    env["REDIS_URL"] = REDIS_URL
    manage(env, "migrate", "--noinput", "-v0")
    token = manage(env, "create_api_token", "bench", "--scope", "operator")
    manage(env, "shell", "-v0", "-c", "from identities.types import DurableAgentSpec; "
           "from swarmsite.composition import identity_runtime as r; "
           "[r().create_identity(DurableAgentSpec(identity=n, profile='b')) for n in ('bench-a', 'bench-b')]")
    ports = [free_port(), free_port()]
    procs = [start(env, port) for port in ports]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        push_same = asyncio.run(push_delays(a, a, token, "bench-a"))
        push_cross = asyncio.run(push_delays(a, b, token, "bench-b"))
        wake_same = asyncio.run(wake_delays(a, a, token))
        wake_cross = asyncio.run(wake_delays(a, b, token))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
    rates = {}
    for workers in (1, 2):
        port = free_port()
        proc = start(env, port, workers)
        try:
            rates[workers] = asyncio.run(heartbeat_rate(f"http://127.0.0.1:{port}", token))
        finally:
            proc.terminate()
            proc.wait(60)
    report("Several processes on PostgreSQL + Redis", [
        ("push delay from sending the write, listener in the writer's process (baseline)", ms(push_same)),
        ("push delay, listener in another process", ms(push_cross)),
        ("long-poll wake-up, waiter in the writer's process (baseline)", ms(wake_same)),
        ("long-poll wake-up, waiter in another process (target p95 < 50 ms)", ms(wake_cross)),
        (f"heartbeats/s, serve --workers 1 ({CLIENTS} clients)", f"{rates[1]:.0f}"),
        (f"heartbeats/s, serve --workers 2 ({CLIENTS} clients)", f"{rates[2]:.0f}"),
        ("cross / same process p95: push, wake-up",
         f"{pct(push_cross, 0.95) / pct(push_same, 0.95):.2f}, {pct(wake_cross, 0.95) / pct(wake_same, 0.95):.2f}"),
    ])
    print(f"\nratio heartbeats/s 2 workers / 1 worker: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
