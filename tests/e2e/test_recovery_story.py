"""The full recovery story in a browser. An agent holds an identity and checkpoints through the API;
the operator clicks Respawn and reads the preview (which follows a checkpoint saved meanwhile), then
confirms; the old agent's next checkpoint is
rejected and the rejection appears in the timeline live; a second agent takes the lease and resumes
from the latest checkpoint. Then Reset moves to the next generation after a typed confirmation."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live


def api_client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})


def agent_with_lease(api: httpx.Client, identity: str, name: str) -> tuple[str, int]:
    agent = str(uuid.uuid4())
    assert api.post(f"/agents/{agent}/register", json={"name": name}).status_code == 200
    lease = api.post(f"/identities/{identity}/lease", json={"agent_id": agent, "ttl_s": 120})
    assert lease.status_code == 200, lease.text
    return agent, lease.json()["fencing_token"]


def save(api: httpx.Client, identity: str, agent: str, token: int, state: dict[str, Any]) -> httpx.Response:
    data = base64.b64encode(json.dumps(state).encode()).decode()
    body = {"fencing_token": token, "agent_id": agent, "data": data}
    return api.post(f"/identities/{identity}/checkpoints", json=body)


def test_respawn_fences_the_old_agent_live_and_the_next_agent_resumes(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = api_client(live_server_url, api_token)
    assert api.post("/identities", json={"identity": "planner-1", "profile": "planner"}).status_code == 201
    old_agent, old_token = agent_with_lease(api, "planner-1", "worker-a")
    assert save(api, "planner-1", old_agent, old_token, {"step": 1}).status_code == 201
    assert save(api, "planner-1", old_agent, old_token, {"step": 2, "plan": ["fetch", "sum"]}).status_code == 201

    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/identities/planner-1/")
    wait_live(page)
    expect(page.locator("#lease-holder")).to_have_text(old_agent)
    expect(page.locator("#lease-token")).to_have_text(f"#{old_token}")
    expect(page.locator("#checkpoint-version")).to_contain_text("v2")

    page.click('#recovery-actions a[data-action="respawn"]')
    panel = page.locator("#confirm-panel")
    expect(panel).to_contain_text("resumes from checkpoint v2 of generation 0")
    expect(panel).to_contain_text(f"Fences agent {old_agent}")
    panel.locator("input[name=reason]").fill("stuck on step 3")
    # The agent saves once more while the operator reads: the preview follows, the typed reason stays.
    v3 = {"step": 2, "plan": ["fetch", "sum"], "note": "v3"}
    assert save(api, "planner-1", old_agent, old_token, v3).status_code == 201
    expect(panel).to_contain_text("resumes from checkpoint v3 of generation 0", timeout=8000)
    expect(panel.locator("input[name=reason]")).to_have_value("stuck on step 3")
    screenshot(page, "recovery-respawn-preview")
    panel.locator("button[data-confirm]").click()
    expect(page.locator("#action-result")).to_contain_text("planner-1 respawned.")
    expect(page.locator("#lease-facts")).to_contain_text("nobody", timeout=8000)

    late = save(api, "planner-1", old_agent, old_token, {"step": 3, "zombie": True})
    assert late.status_code == 409 and late.json()["code"] == "stale_fencing_token"
    rejection = page.locator('#identity-timeline li[data-kind="identity.stale_write_rejected"]')
    expect(rejection).to_contain_text(f"token #{old_token} < current", timeout=8000)
    audit_line = page.locator('#identity-timeline li[data-kind="audit.respawned"]')
    expect(audit_line).to_contain_text("by operator-e2e")
    expect(audit_line).to_contain_text("stuck on step 3")
    expect(page.locator("#identity-summary")).to_contain_text("1 rejected stale write")

    new_agent, new_token = agent_with_lease(api, "planner-1", "worker-b")
    assert new_token > old_token
    latest = api.get("/identities/planner-1/checkpoints/latest").json()
    assert latest["version"] == 3
    assert json.loads(base64.b64decode(latest["data"])) == v3
    expect(page.locator("#lease-holder")).to_have_text(new_agent, timeout=8000)
    expect(page.locator("#lease-token")).to_have_text(f"#{new_token}")
    assert save(api, "planner-1", new_agent, new_token, {"step": 3}).status_code == 201
    expect(page.locator("#checkpoint-version")).to_contain_text("v4", timeout=8000)
    screenshot(page, "recovery-respawn-story")


def test_reset_moves_to_the_next_generation_after_typing_the_name(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = api_client(live_server_url, api_token)
    assert api.post("/identities", json={"identity": "writer-1", "profile": "writer"}).status_code == 201
    agent, token = agent_with_lease(api, "writer-1", "worker-w")
    assert save(api, "writer-1", agent, token, {"draft": "v1"}).status_code == 201

    login(page, live_server_url, "admin")
    page.goto(f"{live_server_url}/identities/writer-1/")
    wait_live(page)
    expect(page.locator("#generation")).to_have_text("0")
    page.click('#recovery-actions a[data-action="reset"]')
    panel = page.locator("#confirm-panel")
    expect(panel).to_contain_text("Starts generation 1 with a fresh session")
    expect(panel).to_contain_text("Archives 1 checkpoint of generation 0")

    panel.locator("input[name=confirm_name]").fill("writer-2")
    panel.locator("button[data-confirm]").click()
    expect(page.locator("#confirm-panel .error")).to_contain_text("type the identity's name exactly")
    expect(page.locator("#generation")).to_have_text("0")
    screenshot(page, "recovery-reset-typed-name")

    page.locator("#confirm-panel input[name=confirm_name]").fill("writer-1")
    page.locator("#confirm-panel button[data-confirm]").click()
    expect(page.locator("#action-result")).to_contain_text("writer-1 reset.")
    expect(page.locator("#generation")).to_have_text("1", timeout=8000)
    expect(page.locator("#checkpoint-version")).to_contain_text("none yet")
    expect(page.locator("#identity-checkpoints tr.archived")).to_have_count(1)
    assert save(api, "writer-1", agent, token, {"draft": "late"}).json()["code"] == "stale_fencing_token"
    screenshot(page, "recovery-reset-done")


def test_retire_from_the_identity_page_then_bulk_respawn_on_the_roster(
    page: Any, live_server_url: str, api_token: str
) -> None:
    api = api_client(live_server_url, api_token)
    for name in ("crew-1", "crew-2"):
        assert api.post("/identities", json={"identity": name, "profile": "crew"}).status_code == 201
    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/identities/crew-1/")
    wait_live(page)
    page.click('#recovery-actions a[data-action="retire"]')
    panel = page.locator("#confirm-panel")
    expect(panel).to_contain_text("send and dispatch are refused from now on")
    panel.locator("button[data-confirm]").click()
    expect(page.locator("#action-result")).to_contain_text("crew-1 retired.")
    expect(page.locator("#identity-state")).to_have_text("retiring", timeout=8000)
    expect(page.locator("#identity-why")).to_contain_text("retiring: no new deliveries are accepted")
    screenshot(page, "recovery-retired")

    assert api.post("/identities/crew-2/retire", json={}).status_code == 200
    page.goto(f"{live_server_url}/roster/?state=retiring")
    expect(page.locator("tr.roster-row")).to_have_count(2)
    page.click("text=Respawn all…")
    expect(page.locator("#bulk-confirm")).to_contain_text("2 identities match now")
    page.locator("#bulk-confirm button[data-confirm]").click()
    expect(page.locator("#bulk-confirm")).to_contain_text("Respawned 2 of 2 identities")
    # The page filters on retiring: once respawned, they leave it live.
    expect(page.locator("#roster-table .empty")).to_contain_text("No identity matches this filter", timeout=8000)
    assert api.get("/identities/crew-1").json()["state"] == "active"
