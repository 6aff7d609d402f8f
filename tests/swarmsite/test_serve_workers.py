"""`manage.py serve --workers N`: N daphne processes on one address; a crashed worker comes back;
Ctrl-C stops every one of them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.swarmclient.live import PY, ROOT, free_port, healthy, prepare, wait_until


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_serve_runs_n_workers_restarts_a_killed_one_and_stops_all_on_ctrl_c(tmp_path: Path) -> None:
    env, _ = prepare(tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([PY, str(ROOT / "manage.py"), "serve", "--port", str(port), "--workers", "2",
                             "--no-demo"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url) and len(children(proc.pid)) == 2, 60, "two workers")
        workers = children(proc.pid)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(children(proc.pid) - {victim}) == 2, 30, "the killed worker's replacement")
        wait_until(lambda: healthy(url), 30, "the address to answer")
        survivors = children(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
    assert not healthy(url)
    assert not any(alive(pid) for pid in survivors)
    assert "restarting it" in (tmp_path / "serve.log").read_text()
