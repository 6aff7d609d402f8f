"""`manage.py serve` (what `make run` runs): daphne alone with DEMO=0, daphne plus the demo
otherwise; one signal stops both, the demo first so its agents deregister."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from swarmclient import SwarmClient
from tests.swarmclient.live import PY, ROOT, free_port, healthy, manage, prepare, wait_until


def start_serve(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([PY, str(ROOT / "manage.py"), "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def test_serve_with_demo_0_serves_alone_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env, token = prepare(tmp_path)
    proc, url = start_serve(tmp_path, {**env, "DEMO": "0"})
    try:
        wait_until(lambda: healthy(url), 30, "the server")
        assert SwarmClient(url, token).list_agents()["total"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    assert not healthy(url)
    said = (tmp_path / "serve.log").read_text()
    assert "Starting the demo swarm" not in said and '"GET /api/v1/agents' in said  # the access log


def test_serve_runs_the_demo_and_sigterm_stops_it_before_the_server(tmp_path: Path) -> None:
    env, token = prepare(tmp_path)
    proc, url = start_serve(tmp_path, env)
    try:
        wait_until(lambda: healthy(url), 30, "the server")
        swarm = SwarmClient(url, token)
        wait_until(lambda: swarm.list_agents(state="online")["total"] >= 8, 40, "the demo's agents")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert not healthy(url)
    still_online = manage(env, "shell", "-v", "0", "-c",
                          "from stores.models import Agent; print(Agent.objects.filter(state='online').count())")
    said = (tmp_path / "serve.log").read_text()
    assert still_online == "0", said
    # The demo's readable lines, not drowned in access-log lines.
    assert "took research-" in said and '"POST /api/v1/' not in said
