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
from dataclasses import dataclass
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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: figures from a shared machine are read with these."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


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


def pg_server_url() -> str | None:
    """The PostgreSQL server benchmarks use: BENCH_PG_URL, else DATABASE_URL when it is PostgreSQL."""
    bench = os.environ.get("BENCH_PG_URL", "")
    if bench:
        return bench
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url.split("?", 1)[0].rsplit("/", 1)[0] + "/postgres"  # the server's maintenance database
    return None


def fresh_postgres_url(name: str) -> str:
    """A dropped-and-recreated PostgreSQL database for a benchmark, on the server of BENCH_PG_URL, else
    of a PostgreSQL DATABASE_URL, else postgres@127.0.0.1:5432."""
    import psycopg

    base = pg_server_url() or "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def wait_healthy(base: str, proc: subprocess.Popen[bytes], what: str, path: str = "/api/v1/health",
                 method: str = "GET") -> None:
    """Wait until base+path answers 200 (up to 120 s: a busy shared machine starts servers slowly); fail
    at once if the server process exited."""
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.request(method, f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (serve then stops its daphne workers in order); kill if it does not exit."""
    proc.terminate()
    try:
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:PORT
    token: str  # a fresh API token of the asked scope
    env: dict[str, str]  # the server's environment (DATABASE_URL among it)
    pid: int  # the `manage.py serve` process; its daphne workers are its children (process_tree)


@contextlib.contextmanager
def product_server(database_url: str | None = None, scope: str = "admin", *, workers: int = 1) -> Iterator[Served]:
    """Migrate a fresh database and serve it the way the product serves: `manage.py serve --no-demo
    --workers N` (daphne workers on one shared socket), with the access log to /dev/null."""
    env = bench_env(database_url)
    manage(env, "migrate", "--noinput", "-v0")
    token = manage(env, "create_api_token", "bench", "--scope", scope)
    port = free_port()
    proc = subprocess.Popen(
        [PY, "manage.py", "serve", "--no-demo", "--workers", str(workers), "--host", "127.0.0.1",
         "--port", str(port), "--access-log", os.devnull],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, "manage.py serve")
        yield Served(base, token, env, proc.pid)
    finally:
        stop_server(proc)


@contextlib.contextmanager
def live_server(database_url: str | None = None, scope: str = "admin") -> Iterator[tuple[str, str, dict[str, str]]]:
    """product_server with one worker; yields (base_url, token, env)."""
    with product_server(database_url, scope) as served:
        yield served.base, served.token, served.env


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


# -- HTTP load: wrk (as the issue measured) or, without it, a Python load generator ------------------

WRK_SCRIPT = Path(__file__).resolve().parent / "post.lua"


def process_tree(pid: int) -> list[int]:
    """pid and every descendant (Linux /proc): `serve` runs its daphne workers as children."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


@contextlib.contextmanager
def daphne_app(asgi_app: str, env: dict[str, str], health_path: str, method: str = "GET") -> Iterator[tuple[str, int]]:
    """`python -m daphne` serving asgi_app on a free port, access log to /dev/null as `serve` does;
    yields (base_url, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "daphne", "--access-log", os.devnull, "-b", "127.0.0.1", "-p", str(port), asgi_app],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, f"daphne {asgi_app}", health_path, method)
        yield base, proc.pid
    finally:
        stop_server(proc)


def have_wrk() -> bool:
    import shutil

    return shutil.which("wrk") is not None


def wrk_post(
    base: str, paths: list[str], token: str | None, *, connections: int, seconds: float, body: str = "",
) -> tuple[float, int]:
    """POSTs per second with wrk (1 thread, `connections` keep-alive connections) over `paths` round
    robin (bench/post.lua); returns (rate, failed) where failed counts non-2xx answers and socket errors."""
    import re

    env = dict(os.environ, BENCH_TOKEN=token or "", BENCH_PATHS=" ".join(paths), BENCH_BODY=body)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "20s", "-s", str(WRK_SCRIPT),
         f"{base}{paths[0]}"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        failed += sum(int(n) for n in errors.groups())
    return float(found.group(1)), failed


def _python_load(base: str, paths: list[str], token: str | None, connections: int, seconds: float,
                 out: Any, body: str = "") -> None:
    import threading

    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers["Content-Type"] = "application/json"
    counts, failures = [0] * connections, [0] * connections
    start_line = threading.Barrier(connections + 1)
    stop = threading.Event()

    def run(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=20) as client:
            client.post(paths[i % len(paths)], content=body)  # open the keep-alive connection before the clock starts
            start_line.wait()
            n = i
            while not stop.is_set():
                n += 1
                if client.post(paths[n % len(paths)], content=body).status_code // 100 == 2:
                    counts[i] += 1
                else:
                    failures[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    start_line.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    out.send((sum(counts) / (time.perf_counter() - started), sum(failures)))


def python_post(
    base: str, paths: list[str], token: str | None, *, connections: int, seconds: float, body: str = "",
) -> tuple[float, int]:
    """The same load as wrk_post from a separate Python process (threads with keep-alive httpx clients);
    the client's own CPU is higher than wrk's, so prefer wrk."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_python_load, args=(base, paths, token, connections, seconds, send, body))
    proc.start()
    result: tuple[float, int] = receive.recv()
    proc.join()
    return result


def post_load(
    base: str, paths: list[str], token: str | None, *, connections: int, seconds: float, body: str = "",
) -> tuple[float, int]:
    """POST load with wrk when installed (apt-get install wrk), else the Python load generator."""
    load = wrk_post if have_wrk() else python_post
    return load(base, paths, token, connections=connections, seconds=seconds, body=body)
