"""An operator watches a session's inbox live: work enqueued through the API appears as pending, a
claim through the API turns it claimed with a ticking countdown, and Cancel removes an unclaimed batch."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live


def test_session_inbox_shows_enqueue_claim_and_cancel_live(page: Any, live_server_url: str, api_token: str) -> None:
    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/sessions/")
    expect(page.locator(".empty")).to_contain_text("No session has committed state or queued work yet")
    wait_live(page)

    api = httpx.Client(base_url=f"{live_server_url}/api/v1", headers={"Authorization": f"Bearer {api_token}"})
    work = {"payloads": [{"type": "turn_input", "input": {"text": "summarise the logs"}}]}
    first = api.post("/sessions/inbox-e2e/queue", json=work).json()
    session_link = page.locator('a[href="/sessions/inbox-e2e/"]')
    expect(session_link).to_be_visible(timeout=8000)
    expect(page.locator("td.pending-count")).to_have_text("1")

    session_link.click()
    wait_live(page)
    first_row = page.locator(f'tr[data-batch-id="{first["batch_id"]}"]')
    expect(first_row.locator(".status")).to_have_text("pending")
    expect(first_row).to_contain_text("summarise the logs")

    agent = str(uuid.uuid4())
    assert api.post(f"/agents/{agent}/register").status_code == 200
    claim = api.post("/sessions/inbox-e2e/queue/claim", json={"agent_id": agent, "lease_ttl_ms": 90_000})
    assert claim.status_code == 200
    expect(first_row.locator(".status")).to_have_text("claimed", timeout=8000)
    expect(first_row.locator(".owner a")).to_have_attribute("href", f"/agents/{agent}/")  # linked by name
    countdown = first_row.locator(".expires")
    expect(countdown).to_have_text(re.compile(r"^in 1m \d+s$"))
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=8000)  # it ticks without a round trip
    expect(first_row.locator("button.cancel")).to_have_count(0)  # a claimed batch cannot be cancelled

    second = api.post("/sessions/inbox-e2e/queue", json={**work, "source_key": "msg-2"}).json()
    second_row = page.locator(f'tr[data-batch-id="{second["batch_id"]}"]')
    expect(second_row.locator(".status")).to_have_text("pending", timeout=8000)
    screenshot(page, "session-inbox-live")

    page.once("dialog", lambda dialog: dialog.accept())
    second_row.locator("button.cancel").click()
    expect(second_row).to_have_count(0, timeout=8000)
    expect(first_row.locator(".status")).to_have_text("claimed")
    assert [b["batch_id"] for b in api.get("/sessions/inbox-e2e/queue").json()["items"]] == [first["batch_id"]]
