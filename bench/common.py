"""Shared benchmark plumbing: a throwaway daphne server on a fresh database, timing helpers.

Benchmarks are not tests: each prints its figures and a ratio against a baseline measured in the
same run (a no-op endpoint on the same server, or the raw SQL doing the same work)."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def machine() -> str:
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(database_url: str | None = None) -> dict[str, str]:
    """Environment for a fresh, isolated database (SQLite file in a temp dir unless given)."""
    env = dict(os.environ)
    if database_url is None:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='swarmbench-')}/bench.sqlite3"
    env["DATABASE_URL"] = database_url
    env.setdefault("SWARM_SWEEP_INTERVAL_S", "0")
    env["DJANGO_SETTINGS_MODULE"] = "swarmsite.settings"
    return env


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def fresh_postgres_url(name: str) -> str:
    """A dropped-and-recreated PostgreSQL database for a benchmark (server from BENCH_PG_URL)."""
    import psycopg

    base = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def live_server(database_url: str | None = None, scope: str = "admin") -> Iterator[tuple[str, str, dict[str, str]]]:
    """Migrate a fresh database, start daphne on a free port; yield (base_url, token, env)."""
    env = bench_env(database_url)
    manage(env, "migrate", "--noinput", "-v0")
    token = manage(env, "create_api_token", "bench", "--scope", scope)
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "swarmsite.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("daphne did not start")
            time.sleep(0.1)
        yield base, token, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def rate(fn: Callable[[int], Any], *, seconds: float = 3.0, warmup: int = 20) -> float:
    """Calls per second of fn(i), single-threaded, after a warm-up."""
    for i in range(warmup):
        fn(i)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(warmup + n)
        n += 1
    return n / (time.perf_counter() - start)


def latencies(fn: Callable[[int], Any], n: int) -> list[float]:
    """Seconds per call of fn(i) for n calls."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n## {title}\n\nMachine: {machine()}\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
