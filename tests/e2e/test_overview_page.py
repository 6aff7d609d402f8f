"""The overview in a browser: counts over every store update live; the pause toggle holds updates
back (and says how many wait) until it is released."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live
from tests.e2e.dashboard_api import AgentApi


def count(page: Any, name: str) -> Any:
    return page.locator(f'[data-count="{name}"] .n')


def test_overview_counts_update_live_and_pause_holds_them(page: Any, live_server_url: str, api_token: str) -> None:
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/")
    wait_live(page)
    expect(count(page, "identities-active")).to_have_text("0")

    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    expect(count(page, "identities-active")).to_have_text("1", timeout=8000)
    agent = api.agent("worker-a")
    old = api.lease("alpha", agent)
    expect(count(page, "leases-held")).to_have_text("1", timeout=8000)
    expect(page.locator("#event-feed")).to_contain_text("identity.lease_acquired")
    assert api.http.post("/identities/alpha/send", json={"content": {"type": "text", "text": "hi"}}).status_code == 200
    expect(count(page, "inbox-pending")).to_have_text("1", timeout=8000)

    page.click("#live-pause")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "paused")
    api.create("beta")
    expect(page.locator("#live-status .label")).to_contain_text("waiting", timeout=8000)
    page.wait_for_timeout(500)
    expect(count(page, "identities-active")).to_have_text("1")  # held back while paused
    page.click("#live-pause")
    expect(count(page, "identities-active")).to_have_text("2", timeout=8000)

    assert api.http.post("/identities/alpha/respawn", json={"reason": "e2e"}).status_code == 200
    assert api.checkpoint("alpha", agent, old, {"late": True}).status_code == 409
    expect(count(page, "rejections")).to_have_text("1", timeout=8000)
    expect(page.locator("#live-status .label")).to_have_text(re.compile(r"^live · \d\d:\d\d:\d\d$"))
    expect(page.locator("#live-status")).to_have_attribute("title", re.compile("^Live updates; last one at "))
    screenshot(page, "overview-live")
