"""The roster in a browser: identities appear and change live as agents use the API, the lease TTL
counts down without a round trip, search and filters narrow it, and bulk retire acts on the filter
after a count preview."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live
from tests.e2e.dashboard_api import AgentApi


def test_roster_shows_identities_and_leases_live_and_filters(page: Any, live_server_url: str, api_token: str) -> None:
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/roster/")
    expect(page.locator(".empty")).to_contain_text("No identity is registered yet")
    wait_live(page)

    api = AgentApi(live_server_url, api_token)
    api.create("planner-1", labels={"team": "blue"})
    api.create("planner-2", labels={"team": "red"})
    api.create("writer-1", labels={"team": "blue"}, addressability="internal_only")
    row = page.locator('tr[data-identity="planner-1"]')
    expect(row).to_be_visible(timeout=8000)
    expect(page.locator("tr.roster-row")).to_have_count(3, timeout=8000)
    expect(row).to_contain_text("no lease: no agent has acquired it yet")

    agent = api.agent("worker-a")
    token = api.lease("planner-1", agent, ttl_s=90)
    expect(row.locator(".token")).to_have_text(f"#{token}", timeout=8000)
    expect(row).to_contain_text("healthy")
    ttl = row.locator(".ttl")
    expect(ttl).to_have_text(re.compile(r"^in 1m \d+s$"))
    before = ttl.inner_text()
    expect(ttl).not_to_have_text(before, timeout=8000)  # ticks without a round trip
    api.checkpoint("planner-1", agent, token, {"step": 1})
    expect(row).to_contain_text("v1", timeout=8000)
    screenshot(page, "roster-live")

    page.fill("#roster-filters input[name=q]", "team=blue")
    expect(page.locator("tr.roster-row")).to_have_count(2, timeout=8000)
    assert "q=team%3Dblue" in page.url
    page.select_option("select[name=lease]", "held")
    expect(page.locator("tr.roster-row")).to_have_count(1, timeout=8000)
    expect(page.locator('tr[data-identity="planner-1"]')).to_be_visible()
    page.fill("#roster-filters input[name=q]", "nothing-matches")
    expect(page.locator(".empty")).to_contain_text("No identity matches this filter", timeout=8000)
    screenshot(page, "roster-filtered-empty")


def test_bulk_retire_previews_the_count_and_retires_the_filtered_identities(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = AgentApi(live_server_url, api_token)
    for name in ("batch-1", "batch-2", "batch-3", "keeper"):
        api.create(name)
    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/roster/?q=batch")
    wait_live(page)
    expect(page.locator("tr.roster-row")).to_have_count(3)
    page.click("text=Retire all…")
    panel = page.locator("#bulk-confirm")
    expect(panel).to_contain_text("3 identities match now: search “batch”")
    screenshot(page, "roster-bulk-preview")
    panel.locator("button[data-confirm]").click()
    expect(page.locator("#bulk-confirm")).to_contain_text("Retired 3 of 3 identities")
    expect(page.locator("tr.roster-row .badge.retiring")).to_have_count(3, timeout=8000)
    page.goto(f"{live_server_url}/roster/?state=active")
    expect(page.locator("tr.roster-row")).to_have_count(1)
    expect(page.locator('tr[data-identity="keeper"]')).to_be_visible()
    screenshot(page, "roster-bulk-done")
