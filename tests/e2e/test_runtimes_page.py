"""A person watches the Runtimes pages while a runtime commits through the API: the list and the
runtime's page follow each state change live, without a reload."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live

NOW = "2026-01-02T03:04:05+00:00"


def test_runtime_state_change_through_the_api_appears_on_the_runtime_page_live(
    page: Any, live_server_url: str, api_token: str
) -> None:
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/runtimes/")
    expect(page.locator(".empty")).to_contain_text("No runtime has stored any state yet")
    wait_live(page)

    rid = f"rt:session:{uuid.uuid4()}"
    api = httpx.Client(base_url=f"{live_server_url}/api/v1", headers={"Authorization": f"Bearer {api_token}"})
    assert api.put(f"/runtimes/{rid}/state", json={"state": "initializing"}).status_code == 200
    row = page.locator(f'tr[data-runtime-id="{rid}"]')
    expect(row).to_be_visible(timeout=8000)
    expect(row.locator(".badge")).to_have_text("initializing")

    row.locator("a").click()
    page.wait_for_url(f"**/runtimes/{rid}/")
    wait_live(page)
    expect(page.locator("#runtime-state-badge")).to_have_text("initializing")
    page.evaluate("window.__sameDocument = true")

    input_id = str(uuid.uuid4())
    state = {"input_id": input_id, "current_state": "accepted", "created_at": NOW, "updated_at": NOW}
    response = api.put(f"/runtimes/{rid}/state", json={"state": "idle", "input_states": [state]})
    assert response.status_code == 200, response.text
    expect(page.locator("#runtime-state-badge")).to_have_text("idle", timeout=8000)
    expect(page.locator("#runtime-allowed-next")).to_contain_text("running")
    expect(page.locator(f"#input-{input_id}")).to_be_visible()

    run_id = str(uuid.uuid4())
    applied = api.post(f"/runtimes/{rid}/apply", json={
        "receipt": {"run_id": run_id, "boundary": "run_start", "sequence": 0},
        "input_updates": [{**state, "current_state": "applied"}],
    })
    assert applied.status_code == 200, applied.text
    expect(page.locator("#runtime-receipts")).to_contain_text(run_id, timeout=8000)
    expect(page.locator(f"#input-{input_id} .badge")).to_have_text("applied")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "runtime-live")
