"""The audit log in a browser: actions appear live with who, what, result and reason; rejected stale
writes are listed with both tokens."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live
from tests.e2e.dashboard_api import AgentApi


def test_audit_log_lists_actions_live_and_rejected_writes(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    agent = api.agent("worker-a")
    token = api.lease("alpha", agent)
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/audit/")
    wait_live(page)
    expect(page.locator('tr[data-action="created"]')).to_have_count(1)

    assert api.http.post("/identities/alpha/retire", json={"reason": "replaced"}).status_code == 200
    row = page.locator('tr[data-action="retired"]')
    expect(row).to_contain_text("replaced", timeout=8000)
    expect(row).to_contain_text("alpha")
    assert api.checkpoint("alpha", agent, token, {"late": True}).json()["code"] == "stale_fencing_token"
    screenshot(page, "audit-actions")

    page.select_option("select[name=show]", "rejections")
    rejection = page.locator("tr.rejection-row")
    expect(rejection).to_have_count(1, timeout=8000)
    expect(rejection.locator(".token.stale")).to_have_text(f"#{token}")
    link = rejection.locator("a.agent-link")  # the agent by name, linked to its page
    expect(link).to_have_text("worker-a")
    expect(link).to_have_attribute("href", f"/agents/{agent}/")
    screenshot(page, "audit-rejections")
