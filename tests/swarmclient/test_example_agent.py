"""examples/agent.py (the README's example) works as written against a live server."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from swarmclient import SwarmClient
from tests.swarmclient.live import PY, ROOT, served, wait_until


def test_example_agent_answers_its_inbox_and_lets_go_on_ctrl_c(tmp_path: Path) -> None:
    with served(tmp_path) as server, (tmp_path / "agent.log").open("w+") as said:
        env = {**server.env, "SWARM_URL": server.url, "SWARM_TOKEN": server.token}
        agent = subprocess.Popen([PY, str(ROOT / "examples" / "agent.py")], cwd=tmp_path, env=env, stdout=said,
                                 stderr=subprocess.STDOUT)
        try:
            swarm = SwarmClient(server.url, server.token)

            def leased() -> bool:
                assert agent.poll() is None, (tmp_path / "agent.log").read_text()
                try:
                    lease = swarm.identity_status("example-agent")["lease"]
                except Exception:  # not created yet
                    return False
                return bool(lease and lease["ttl_remaining_ms"] > 0)

            wait_until(leased, 30, "the example agent to take its lease")
            swarm.send("example-agent", {"type": "text", "text": "hello swarm"})
            found = swarm.wait_for_output("example-agent", timeout_s=20, contains="HELLO SWARM")
            assert found is not None and found["is_final"]
            wait_until(lambda: swarm.latest_checkpoint("example-agent") is not None, 10, "its checkpoint")
        finally:
            agent.send_signal(signal.SIGINT)
            agent.wait(timeout=20)
        said.seek(0)
        output = said.read()
        status = swarm.identity_status("example-agent")
        checkpoint = swarm.latest_checkpoint("example-agent")
    assert "holds token" in output and "answered 'hello swarm'" in output, output
    assert status["lease"]["ttl_remaining_ms"] == 0  # released on the way out
    assert checkpoint is not None and checkpoint["data"] == found["output_ref"].encode()
