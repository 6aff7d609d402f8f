from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from swarmsite.affinity import CPU_ENV, worker_cpu

PING_INTERVAL_S = 20  # daphne pings idle websockets this often, so proxies and NATs keep them open
RESTART_BACKOFF_MAX_S = 10.0


def demo_enabled(no_demo: bool) -> bool:
    return not no_demo and os.environ.get("DEMO", "1").lower() not in {"0", "false", "no", "off"}


def listening_socket(host: str, port: int) -> socket.socket:
    """One listening socket the workers share: each accepts from it, the kernel spreads connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class Worker:
    """One daphne process on the shared socket; restarted with a growing pause if it keeps dying."""

    def __init__(self, number: int, fd: int, access_log: str) -> None:
        self.number, self.fd, self.access_log = number, fd, access_log
        self.proc: subprocess.Popen[bytes] | None = None
        self.crashes = 0
        self.restart_at = 0.0

    def start(self) -> None:
        env = dict(os.environ)
        cpu = worker_cpu(self.number)
        if cpu is not None:  # the worker pins itself at start (swarmsite/affinity.py)
            env[CPU_ENV] = str(cpu)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "--fd", str(self.fd), "--access-log", self.access_log,
             "--ping-interval", str(PING_INTERVAL_S), "swarmsite.asgi:application"],
            pass_fds=(self.fd,), start_new_session=True, env=env,
        )

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()


class Command(BaseCommand):
    help = (
        "Serve Swarmsite with --workers daphne processes sharing one listening socket (a crashed worker is "
        "restarted) and, unless --no-demo (or DEMO=0), run the demo swarm against it. Ctrl-C (or SIGTERM) "
        "stops them in order: the demo first, so its agents deregister, then the workers, then the socket."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="daphne processes (use PostgreSQL + Redis "
                            "beyond 1: SQLite and the in-memory channel layer do not span processes)")
        parser.add_argument("--no-demo", action="store_true", help="serve only (same as DEMO=0)")
        parser.add_argument(
            "--access-log", help="daphne's access log: a path, or - for stdout (default: stdout when serving "
                                 "alone, off while the demo runs, so its lines stay readable)",
        )

    def handle(
        self, *args: Any, host: str, port: int, workers: int, no_demo: bool, access_log: str | None = None,
        **options: Any,
    ) -> None:
        demo = demo_enabled(no_demo)
        access_log = access_log or (os.devnull if demo else "-")
        if workers > 1 and (not settings.REDIS_URL or "sqlite" in settings.DATABASES["default"]["ENGINE"]):
            self.stderr.write("Several workers need PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) to share "
                              "events; with SQLite or without Redis, live pages only see their own worker.")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        sock = listening_socket(host, port)
        # Children get their own process group, so the terminal's Ctrl-C reaches only this process,
        # which then stops them in order.
        pool = [Worker(i + 1, sock.fileno(), access_log) for i in range(max(1, workers))]
        for worker in pool:
            worker.start()
        demo_proc: subprocess.Popen[bytes] | None = None
        url = f"http://{host}:{port}"
        try:
            if demo and self._wait_ready(url, lambda: stopping):
                self.stdout.write(f"Starting the demo swarm against {url} (DEMO=0 make run serves alone; "
                                  "the access log is off while it runs: --access-log - shows it)")
                manage = str(settings.BASE_DIR / "manage.py")
                demo_proc = subprocess.Popen([sys.executable, manage, "demo_swarm", "--url", url],
                                             start_new_session=True)
            demo_reported = False
            while not stopping:
                if demo_proc is not None and demo_proc.poll() is not None and not demo_reported:
                    demo_reported = True
                    self.stderr.write(f"The demo swarm exited ({demo_proc.returncode}); still serving {url}")
                self._supervise(pool)
                time.sleep(0.2)
        finally:
            # In order: the demo (its agents deregister through the workers), then every worker.
            _stop([demo_proc] if demo_proc else [])
            _stop([w.proc for w in pool if w.proc])
            sock.close()

    def _supervise(self, pool: list[Worker]) -> None:
        now = time.monotonic()
        for worker in pool:
            code = worker.exited()
            if code is None:
                continue
            if worker.restart_at == 0.0:
                worker.crashes += 1
                worker.restart_at = now + min(RESTART_BACKOFF_MAX_S, 0.5 * 2 ** (worker.crashes - 1))
                self.stderr.write(f"worker {worker.number} exited ({code}); restarting it")
            elif now >= worker.restart_at:
                worker.restart_at = 0.0
                worker.start()

    def _wait_ready(self, url: str, stopping: Any) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopping():
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
