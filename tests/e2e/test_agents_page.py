"""A person logs in, opens Agents, and sees agents appear and change live as they use the API."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import time_machine
from django.utils import timezone
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


def test_agents_that_ended_long_ago_are_counted_and_one_click_away(
    page: Any, live_server_url: str, api_token: str
) -> None:
    from swarmsite.composition import lifecycle_store

    store, now = lifecycle_store(), timezone.now()
    old_planner, old_worker, live = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with time_machine.travel(now - timedelta(hours=2), tick=False):  # a swarm that ran two hours ago
        store.register(old_planner, name="old-planner")
        store.register(old_worker, name="old-worker")
        store.deregister(old_planner)
    with time_machine.travel(now - timedelta(hours=2) + timedelta(minutes=1), tick=False):
        store.expire_silent()  # old-worker went silent and was swept
    headers = {"Authorization": f"Bearer {api_token}"}
    api = httpx.Client(base_url=f"{live_server_url}/api/v1", headers=headers, timeout=30)
    assert api.post(f"/agents/{live}/register", json={"name": "planner-now"}).status_code == 200

    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/agents/")
    expect(page.locator(f"#agent-{live}")).to_contain_text("planner-now")
    expect(page.locator(f"#agent-{old_planner}")).to_have_count(0)
    expect(page.locator(f"#agent-{old_worker}")).to_have_count(0)
    expect(page.locator("#agent-scope")).to_contain_text("in the last hour")
    expect(page.locator("#agents-hidden")).to_have_text("2 older agents hidden: show all 3")
    wait_live(page)

    # Deregistering now keeps the agent in view (it ended within the hour), updated live.
    assert api.post(f"/agents/{live}/deregister").status_code == 204
    expect(page.locator(f"#agent-{live} .badge")).to_have_text("offline")
    screenshot(page, "agents-recent")

    page.click("#agents-hidden")
    expect(page).to_have_url(re.compile(r"/agents/\?state=all$"))
    expect(page.locator(f"#agent-{old_planner} .badge")).to_have_text("offline")
    expect(page.locator(f"#agent-{old_worker} .badge")).to_have_text("expired")
    expect(page.locator("#agent-scope")).to_contain_text("All 3 agents")
    screenshot(page, "agents-all")

    page.select_option("form.filters select[name=state]", "expired")
    expect(page).to_have_url(re.compile(r"state=expired"))
    expect(page.locator(f"#agent-{old_worker}")).to_be_visible()
    expect(page.locator("#agent-rows tr")).to_have_count(1)
    page.select_option("form.filters select[name=state]", "")
    expect(page.locator(f"#agent-{old_worker}")).to_have_count(0)
    expect(page.locator(f"#agent-{live}")).to_be_visible()
