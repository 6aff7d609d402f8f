"""The identity page in a browser: a viewer sees no buttons and a forged POST is refused; an operator
sends a message and cancels it from the inbox; checkpoints diff readably; an admin deletes after
typing the name."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live
from tests.e2e.dashboard_api import AgentApi


def test_viewer_sees_no_buttons_and_a_forged_post_is_refused(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    token = api.lease("alpha", api.agent("worker-a"))
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/identities/alpha/")
    wait_live(page)
    expect(page.locator("#lease-token")).to_have_text(f"#{token}")
    expect(page.locator("#recovery-actions")).to_have_count(0)
    expect(page.locator("#send-card")).to_have_count(0)
    screenshot(page, "identity-viewer")

    # The viewer's own browser, CSRF token and all, POSTs what an operator's button would.
    status = page.evaluate(
        """async () => {
          const headers = JSON.parse(document.body.getAttribute("hx-headers"));
          const r = await fetch("/identities/alpha/actions/respawn/", {method: "POST", headers: headers});
          return r.status;
        }"""
    )
    assert status == 403
    assert api.http.get("/identities/alpha").json()["lease"]["fencing_token"] == token
    page.goto(f"{live_server_url}/identities/alpha/actions/respawn/")
    expect(page.locator("h1")).to_have_text("Not allowed")


def test_operator_sends_a_message_and_cancels_it_from_the_inbox(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    api.lease("alpha", api.agent("worker-a"))
    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/identities/alpha/")
    wait_live(page)
    page.fill("#send-card textarea", "please summarise the incident")
    page.click("#send-card button[type=submit]")
    expect(page.locator("#send-result")).to_contain_text("Delivered under lease")
    row = page.locator("tr.inbox-row")
    expect(row).to_contain_text("please summarise the incident", timeout=8000)
    expect(row.locator(".badge")).to_have_text("pending")
    expect(page.locator('#identity-timeline li[data-kind="identity.message_delivered"]')).to_have_count(1)
    screenshot(page, "identity-inbox")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button").click()
    expect(page.locator("#cancel-result")).to_contain_text("Cancelled")
    expect(page.locator("tr.inbox-row")).to_have_count(0, timeout=8000)


def test_checkpoint_diff_and_delete_with_typed_name(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    agent = api.agent("worker-a")
    token = api.lease("alpha", agent)
    api.checkpoint("alpha", agent, token, {"plan": ["fetch"], "notes": "start"})
    api.checkpoint("alpha", agent, token, {"plan": ["fetch", "sum"], "done": True})
    login(page, live_server_url, "admin")
    page.goto(f"{live_server_url}/identities/alpha/")
    wait_live(page)
    page.click("#identity-checkpoints .diff-form button")
    diff = page.locator("#checkpoint-diff")
    expect(diff.locator("tr.change.added")).to_have_count(2)
    expect(diff.locator("tr.change.removed")).to_contain_text("$.notes")
    screenshot(page, "identity-checkpoint-diff")

    page.click('#recovery-actions a[data-action="delete"]')
    panel = page.locator("#confirm-panel")
    expect(panel).to_contain_text("all 2 checkpoints")
    panel.locator("button[data-confirm]").click()  # the browser refuses an empty required field
    expect(page.locator("#action-result")).to_have_count(0)
    panel.locator("input[name=confirm_name]").fill("alpha")
    panel.locator("button[data-confirm]").click()
    expect(page.locator("#action-result")).to_contain_text("alpha deleted.")
    expect(page.locator("#identity-state")).to_have_text("uninitialized", timeout=8000)
    expect(page.locator("#identity-why")).to_contain_text("uninitialized")
    screenshot(page, "identity-deleted")
