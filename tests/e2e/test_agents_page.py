"""A person logs in, opens Agents, and sees agents appear and change live as they use the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live


def test_agents_page_shows_registration_heartbeat_and_deregister_live(
    page: Any, live_server_url: str, api_token: str
) -> None:
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/agents/")
    expect(page.locator(".empty")).to_contain_text("No agent has registered yet")
    wait_live(page)

    agent = uuid.uuid4()
    api = httpx.Client(base_url=f"{live_server_url}/api/v1", headers={"Authorization": f"Bearer {api_token}"})
    assert api.post(f"/agents/{agent}/register", json={"name": "planner-1"}).status_code == 200
    row = page.locator(f"#agent-{agent}")
    expect(row).to_be_visible(timeout=8000)
    expect(row).to_contain_text("planner-1")
    expect(row.locator(".badge")).to_have_text("online")

    assert api.post(f"/agents/{agent}/heartbeat").status_code == 200
    assert api.post(f"/agents/{agent}/deregister").status_code == 204
    expect(row.locator(".badge")).to_have_text("offline", timeout=8000)
    screenshot(page, "agents-live")
