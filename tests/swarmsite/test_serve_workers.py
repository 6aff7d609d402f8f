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


def allowed_cpus(pid: int) -> set[int]:
    return set(os.sched_getaffinity(pid))


def cores_of_workers(env: dict[str, str], pin: str, workers: int) -> dict[int, set[int]]:
    """Serve with SWARM_PIN_WORKERS=pin: the cores each worker's threads may run on, once it has served."""
    port = free_port()
    proc = subprocess.Popen([PY, str(ROOT / "manage.py"), "serve", "--port", str(port), "--workers",
                             str(workers), "--no-demo"], cwd=ROOT, env={**env, "SWARM_PIN_WORKERS": pin},
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url) and len(children(proc.pid)) == workers, 60, "the workers")
        for _ in range(20):  # requests start the HTTP pool's threads (a worker's first one loads the URLconf,
            # which can take over a second on a core shared with another suite's servers)
            wait_until(lambda: healthy(url), 20, "a health answer")
        threads = {pid: {int(t) for t in os.listdir(f"/proc/{pid}/task")} for pid in children(proc.pid)}
        return {pid: set().union(*(allowed_cpus(t) for t in tasks)) for pid, tasks in threads.items()}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0


def test_each_worker_runs_on_a_core_of_its_own_and_every_thread_stays_there(tmp_path: Path) -> None:
    """One Python process runs one thread at a time, so a worker is pinned to one core (round robin over
    the cores serve may use), with every thread it starts; SWARM_PIN_WORKERS=0 leaves it to the kernel."""
    cores = sorted(os.sched_getaffinity(0))
    env, _ = prepare(tmp_path)
    for pin, workers in (("1", 2), ("0", 1)):
        placed = cores_of_workers(env, pin, workers)
        if pin == "1":
            assert all(len(cpus) == 1 for cpus in placed.values()), placed
            assert len(set().union(*placed.values())) == min(workers, len(cores)), placed  # a core each
            assert set().union(*placed.values()) <= set(cores)
        else:
            assert list(placed.values()) == [set(cores)]
