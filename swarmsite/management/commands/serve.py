from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def demo_enabled(no_demo: bool) -> bool:
    return not no_demo and os.environ.get("DEMO", "1").lower() not in {"0", "false", "no", "off"}


class Command(BaseCommand):
    help = (
        "Serve Swarmsite with daphne and, unless --no-demo (or DEMO=0), run the demo swarm against it. "
        "Ctrl-C (or SIGTERM) stops both: the demo first, so its agents deregister, then the server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="serve only (same as DEMO=0)")
        parser.add_argument(
            "--access-log", help="daphne's access log: a path, or - for stdout (default: stdout when serving "
                                 "alone, off while the demo runs, so its lines stay readable)",
        )

    def handle(
        self, *args: Any, host: str, port: int, no_demo: bool, access_log: str | None = None, **options: Any
    ) -> None:
        demo = demo_enabled(no_demo)
        access_log = access_log or (os.devnull if demo else "-")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # Children get their own process group, so the terminal's Ctrl-C reaches only this process,
        # which then stops them in order.
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "--access-log", access_log,
             "swarmsite.asgi:application"],
            start_new_session=True,
        )
        children = [server]
        url = f"http://{host}:{port}"
        try:
            if demo and self._wait_ready(url, server, lambda: stopping):
                self.stdout.write(f"Starting the demo swarm against {url} (DEMO=0 make run serves alone; "
                                  "the access log is off while it runs: --access-log - shows it)")
                manage = str(settings.BASE_DIR / "manage.py")
                children.append(subprocess.Popen([sys.executable, manage, "demo_swarm", "--url", url],
                                                 start_new_session=True))
            demo_reported = False
            while not stopping and server.poll() is None:
                if len(children) > 1 and children[1].poll() is not None and not demo_reported:
                    demo_reported = True
                    self.stderr.write(f"The demo swarm exited ({children[1].returncode}); still serving {url}")
                time.sleep(0.2)
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.terminate()
                try:
                    child.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()

    def _wait_ready(self, url: str, server: subprocess.Popen[bytes], stopping: Any) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None and not stopping():
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False
