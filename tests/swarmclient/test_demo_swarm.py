"""The demo swarm against a live server, watched the way a person watches the dashboard."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from swarmclient import SwarmClient
from tests.swarmclient.live import PY, ROOT, served

DEMO_S = 25


def test_demo_swarm_shows_agents_leases_outputs_and_rejected_stale_writes(tmp_path: Path) -> None:
    short_ttls = {"SWARM_AGENT_TTL_S": "3", "SWARM_LEASE_TTL_S": "3", "SWARM_SWEEP_INTERVAL_S": "1"}
    with served(tmp_path, **short_ttls) as server, (tmp_path / "demo.log").open("w+") as demo_log:
        demo = subprocess.Popen(
            [PY, str(ROOT / "manage.py"), "demo_swarm", "--url", server.url, "--token", server.token,
             "--duration", str(DEMO_S), "--chaos-every", "4", "--message-every", "0.5", "--status-every", "10"],
            cwd=ROOT, env=server.env, stdout=demo_log, stderr=subprocess.STDOUT,
        )
        watcher = SwarmClient(server.url, server.token)
        online, leased, outputs = [], [], []
        while demo.poll() is None:
            online.append(watcher.list_agents(state="online", limit=1)["total"])
            identities = watcher.list_identities(label="demo=yes", limit=100)["items"]
            leased.append(sum(1 for s in identities if s["lease"] and s["lease"]["ttl_remaining_ms"] > 0))
            outputs.append(watcher.list_outputs(limit=1)["total"])
            time.sleep(1)
        rejected = [r for s in identities for r in watcher.rejections(s["identity"])["items"]]
        race_threads = watcher.list_threads(identity="lg-racer")["items"]
        race_rejections = watcher.rejections("lg-racer")["items"]
        sessions = [s["session_id"] for s in watcher.list_sessions(limit=200)["items"]]
        runtimes = watcher.list_runtimes(limit=200)["items"]
        demo_log.seek(0)
        said = demo_log.read()
    assert demo.returncode == 0, said
    assert "unexpected errors: 0" in said, said
    assert len(identities) == 12
    # The LangGraph race ran once: B's thread is on lg-racer's page, and A's late write was refused there.
    assert len(race_threads) == 1 and race_threads[0]["latest_step"] == 4, (race_threads, said[-3000:])
    assert any(r["operation"].startswith("thread.") for r in race_rejections), race_rejections
    assert max(online) >= 8 and max(leased) >= 6, (online, leased)
    # Outputs keep appearing: more in the second half of the run than at its middle.
    middle = len(outputs) // 2
    assert outputs[middle] > outputs[2] and outputs[-1] > outputs[middle], outputs
    # Sessions get committed turns and runtimes move through run boundaries, so those pages have life.
    assert any(s.startswith("demo-notes-") for s in sessions), sessions
    assert any(r["runtime_id"].startswith("demo-rt-") and r["receipt_count"] > 0 for r in runtimes), runtimes
    assert rejected and all(r["presented_token"] != r["current_token"] for r in rejected)
    assert "stale write to" in said or "rejected: a newer owner holds" in said
    statuses = re.findall(r'" (\d{3}) ', server.log.read_text())
    assert statuses and not [s for s in statuses if s.startswith("5")]
    assert {s for s in statuses if s.startswith("4")} <= {"404", "409"}, set(statuses)
