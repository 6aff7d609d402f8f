"""What a newcomer sees after `make run`: with the demo swarm running, the Agents, Roster and Outputs
pages fill and keep changing without a reload."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(live_server_url: str, api_token: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    from swarmsite.models import ApiToken

    # Both tokens live in the live server's database (the command would issue its agents' token elsewhere).
    agent_token = ApiToken.issue("e2e-demo-agents", ApiToken.Scope.AGENT)[1]
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "demo_swarm", "--url", live_server_url, "--token", api_token,
         "--agent-token", agent_token, "--duration", "60", "--message-every", "0.5", "--chaos-every", "1000"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=40)
    assert "unexpected errors: 0" in (tmp_path / "demo.log").read_text()


def test_demo_swarm_fills_agents_roster_and_outputs_live(page: Any, live_server_url: str, demo: Any) -> None:
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/agents/")
    wait_live(page)
    expect(page.locator("#agent-rows tr.state-online")).to_have_count(10, timeout=20_000)
    screenshot(page, "demo-agents")

    page.goto(f"{live_server_url}/roster/")
    wait_live(page)
    # The 12 identities of the seeded roster and the LangGraph race's lg-racer.
    expect(page.locator("tr.roster-row")).to_have_count(13)
    expect(page.locator("tr.roster-row .token").nth(5)).to_be_visible(timeout=15_000)
    screenshot(page, "demo-roster")

    page.goto(f"{live_server_url}/outputs/")
    wait_live(page)
    first = page.locator("#output-rows tr").first
    expect(first).to_be_visible(timeout=15_000)
    newest = first.get_attribute("id")
    expect(page.locator("#output-rows tr").first).not_to_have_id(str(newest), timeout=15_000)  # no reload
    screenshot(page, "demo-outputs")
