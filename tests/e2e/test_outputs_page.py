"""A person watches the Outputs page while an agent appends through the API: outputs appear without a
reload, and the lineage (lists and graph) links navigate between parents and children."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live


def test_appended_outputs_appear_live_and_lineage_links_navigate(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = httpx.Client(base_url=f"{live_server_url}/api/v1", headers={"Authorization": f"Bearer {api_token}"})

    def append(producer: str, event: dict[str, Any], parents: list[str] | None = None) -> str:
        body = {"task_id": "issue-3", "attempt": 1, "producer_agent": producer, "event": event,
                "parent_refs": parents or []}
        response = api.post("/outputs", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["ref"])

    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/outputs/")
    expect(page.locator(".empty")).to_contain_text("No output has been appended yet")
    wait_live(page)

    plan = append("planner", {"type": "artifact", "name": "plan.md",
                              "content": {"kind": "inline", "value": "1. read\n2. write"}})
    row = page.locator(f"#output-{plan}")
    expect(row).to_be_visible(timeout=8000)
    expect(row).to_contain_text("plan.md: 1. read 2. write")

    code = append("coder", {"type": "final", "ok": True, "content": {"kind": "inline", "value": {"tests": "green"}}},
                  [plan])
    expect(page.locator(f"#output-{code}")).to_be_visible(timeout=8000)
    expect(page.locator("#output-rows tr").first).to_have_id(f"output-{code}")  # newest first
    screenshot(page, "outputs-live")

    # Follow the plan to its page; a new child appears in its lineage live.
    row.get_by_role("link", name=plan).click()
    page.wait_for_url(f"{live_server_url}/outputs/{plan}/")
    expect(page.locator("#output-event pre.content.text")).to_have_text("1. read\n2. write")
    children = page.locator("#lineage-children")
    expect(children.get_by_role("link", name=code)).to_be_visible()
    wait_live(page)
    review = append("reviewer", {"type": "progress", "stage": "reviewing", "note": "looks fine"}, [plan])
    expect(children.get_by_role("link", name=review)).to_be_visible(timeout=8000)
    expect(page.locator("#lineage svg a.node-link")).to_have_count(2)
    screenshot(page, "output-lineage")

    # The graph's node links navigate: to the coder's output, whose parent list leads back.
    page.locator(f'#lineage svg a[href="/outputs/{code}/"]').click()
    page.wait_for_url(f"{live_server_url}/outputs/{code}/")
    expect(page.locator("#output-event")).to_contain_text("Final result")
    expect(page.locator("#output-event pre.content.json")).to_contain_text('"tests": "green"')
    page.locator("#lineage-parents").get_by_role("link", name=plan).click()
    page.wait_for_url(f"{live_server_url}/outputs/{plan}/")
    expect(page.locator("#output-ref")).to_have_text(plan)
