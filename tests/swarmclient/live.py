"""A real server in a child process (daphne, or `manage.py serve`) on its own SQLite file, for
tests that run the demo, the example agent, or `serve` itself the way a person would."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


@dataclass(frozen=True)
class Served:
    url: str
    token: str
    env: dict[str, str]
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(tmp: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SWARM_TEST_DB_SUFFIX"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp}/live.sqlite3", DJANGO_SETTINGS_MODULE="swarmsite.settings", **overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PY, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def prepare(tmp: Path, **env_overrides: str) -> tuple[dict[str, str], str]:
    """A migrated database and an admin token for it."""
    env = server_env(tmp, **env_overrides)
    manage(env, "migrate", "--noinput", "-v0")
    return env, manage(env, "create_api_token", "live-tests", "--scope", "admin")


@contextlib.contextmanager
def served(tmp: Path, **env_overrides: str) -> Iterator[Served]:
    """daphne on a free port; its access log goes to `log` (one line per request, with the status)."""
    env, token = prepare(tmp, **env_overrides)
    url, log = f"http://127.0.0.1:{free_port()}", tmp / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", url.rsplit(":", 1)[1],
                                 "swarmsite.asgi:application"], cwd=ROOT, env=env, stdout=sink,
                                stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: healthy(url) or proc.poll() is not None, 30, "daphne to start")
            assert proc.poll() is None, log.read_text()
            yield Served(url, token, env, log)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
