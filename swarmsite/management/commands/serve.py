from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Serve Swarmsite with daphne and, unless --no-demo (or DEMO=0), run the demo swarm against it. "
        "Ctrl-C stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="serve only (same as DEMO=0)")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        demo = not no_demo and os.environ.get("DEMO", "1") not in {"0", "false", "no"}
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "swarmsite.asgi:application"]
        )
        children = [server]
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            url = f"http://{host}:{port}"
            if demo and self._wait_ready(url, server):
                self.stdout.write(f"Starting the demo swarm against {url} (DEMO=0 make run serves alone)")
                children.append(subprocess.Popen([sys.executable, "manage.py", "demo_swarm", "--url", url]))
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.3)
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _wait_ready(self, url: str, server: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                time.sleep(0.2)
        return False
