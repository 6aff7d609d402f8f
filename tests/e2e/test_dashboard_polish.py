"""The dashboard operators asked for, in a browser: a chart that moves after API traffic, an agent page
reached from the roster, a search that finds each kind of object, Pause holding the feed, an audit
filter and its CSV, the 404 page, and dark mode."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot, wait_live
from tests.e2e.dashboard_api import AgentApi

FINAL = {"type": "final", "ok": True, "content": {"kind": "inline", "value": {"verdict": "pass"}}}


def append_output(api: AgentApi, task: str, producer: str = "planner", parents: list[str] | None = None) -> str:
    body = {"task_id": task, "attempt": 0, "producer_agent": producer, "event": FINAL, "parent_refs": parents or []}
    response = api.http.post("/outputs", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["ref"])


def test_output_chart_moves_after_api_traffic(page: Any, live_server_url: str, api_token: str) -> None:
    login(page, live_server_url, "viewer")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server_url}/")
    wait_live(page)
    outputs = page.locator('figure[data-chart="outputs"]')
    expect(outputs).to_have_attribute("data-sum", "0")
    api = AgentApi(live_server_url, api_token)
    for n in range(4):
        append_output(api, f"task-chart-{n}")
    expect(outputs).to_have_attribute("data-sum", "4")
    expect(outputs.locator(".value")).to_have_text("4")
    expect(page.locator('figure[data-chart="outputs"] canvas')).to_have_count(1)
    page.locator("#charts").scroll_into_view_if_needed()
    screenshot(page, "overview-charts")
    page.click('[data-range="day"]')
    expect(page.locator('button[data-range="day"]')).to_have_attribute("aria-pressed", "true")
    expect(outputs).to_have_attribute("data-sum", "4")
    assert "range=day" in page.url


def test_agent_page_is_reached_from_the_roster(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    agent = api.agent("worker-seven")
    api.lease("alpha", agent)
    append_output(api, "task-agent", producer=agent)
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/roster/")
    link = page.locator("td.lease-holder a.agent-link")
    expect(link).to_have_text("worker-seven")
    link.click()
    page.wait_for_url(f"{live_server_url}/agents/{agent}/")
    expect(page.locator("h1")).to_contain_text("worker-seven")
    expect(page.locator("#agent-leases")).to_contain_text("alpha")
    expect(page.locator("#agent-outputs")).to_contain_text("task-agent")
    expect(page.locator('figure[data-chart="outputs"]')).to_have_attribute("data-sum", "1")
    screenshot(page, "agent-page")


def test_search_finds_each_kind_of_object(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("planner-one")
    agent = api.agent("scout-two")
    api.lease("planner-one", agent)
    ref = append_output(api, "scout-report")
    sent = api.http.post("/identities/planner-one/send", json={"content": {"type": "text", "text": "hi"}})
    assert sent.status_code == 200, sent.text
    session, batch = sent.json()["session_id"], sent.json()["batch_id"]
    login(page, live_server_url, "viewer")
    cases = [
        ("planner-one", "/identities/planner-one/"),
        ("scout-two", f"/agents/{agent}/"),
        (agent, f"/agents/{agent}/"),
        (ref, f"/outputs/{ref}/"),
        ("scout-report", "/tasks/scout-report/"),
        (session, f"/sessions/{session}/"),
        (batch, f"/sessions/{session}/"),
    ]
    for text, path in cases:
        page.goto(f"{live_server_url}/roster/")
        page.fill("#nav-search", text)
        page.press("#nav-search", "Enter")
        page.wait_for_url(re.compile(re.escape(f"{live_server_url}{path}") + r"(#.*)?$"))
    page.fill("#nav-search", "s")
    page.press("#nav-search", "Enter")
    expect(page.locator('.search-group[data-kind="agent"]')).to_contain_text("scout-two")
    expect(page.locator('.search-group[data-kind="task"]')).to_contain_text("scout-report")
    screenshot(page, "search-results")


def test_pause_holds_the_feed_until_resumed(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/")
    wait_live(page)
    feed = page.locator("#event-feed li")
    before = feed.count()
    page.click("#live-pause")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "paused")
    api.create("beta")
    api.agent("paused-worker")
    expect(page.locator("#live-status .label")).to_contain_text("waiting")
    page.wait_for_timeout(800)
    assert feed.count() == before  # nothing moved while paused
    expect(page.locator("#event-feed")).not_to_contain_text("paused-worker")
    screenshot(page, "overview-paused")
    page.click("#live-pause")
    expect(page.locator("#event-feed")).to_contain_text("paused-worker")
    expect(page.locator("#event-feed li").first).to_contain_text("agent.online")
    assert feed.count() > before


def test_feed_filter_hides_other_kinds_also_for_live_events(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/")
    wait_live(page)
    page.select_option("#feed-filter select[name=kind]", "agent.")
    api.create("gamma")
    api.agent("filtered-worker")
    expect(page.locator("#event-feed li:visible")).to_contain_text(["agent.online"])
    expect(page.locator('#event-feed li[data-kind="identity.registered"]')).to_be_hidden()
    assert "kind=agent." in page.url


def test_audit_filter_and_its_csv(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    api.create("beta")
    assert api.http.post("/identities/alpha/retire", json={"reason": "e2e"}).status_code == 200
    login(page, live_server_url, "operator")
    page.goto(f"{live_server_url}/identities/beta/")
    page.click('[data-action="retire"]')
    page.fill("#action-panel textarea[name=reason], #action-panel input[name=reason]", "from the browser")
    page.click("#action-panel button[type=submit]")
    expect(page.locator("#toasts")).to_contain_text("beta retired")
    page.goto(f"{live_server_url}/audit/")
    expect(page.locator('tr.audit-row[data-action="retired"]')).to_have_count(2)
    page.fill("input[name=actor]", "operator-e2e")
    page.fill("input[name=act]", "retired")
    expect(page.locator("tr.audit-row")).to_have_count(1)
    expect(page.locator("tr.audit-row")).to_contain_text("beta")
    page.select_option("select[name=range]", "1h")
    expect(page.locator("tr.audit-row")).to_have_count(1)
    screenshot(page, "audit-filtered")
    with page.expect_download() as download:
        page.click("#audit-csv")
    rows = list(csv.reader(open(download.value.path(), encoding="utf-8")))
    assert rows[0][:4] == ["created_at", "actor", "action", "subject"]
    assert [r[1:4] for r in rows[1:]] == [["operator-e2e", "retired", "beta"]]


def test_audit_time_range_is_in_the_browsers_zone(browser: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    assert api.http.post("/identities/alpha/retire", json={"reason": "e2e"}).status_code == 200
    context = browser.new_context(timezone_id="Asia/Tokyo")  # UTC+9: a UTC reading would miss by hours
    page = context.new_page()
    login(page, live_server_url, "viewer")
    page.goto(f"{live_server_url}/audit/")
    expect(page.locator("[data-zone-label]")).to_have_text("Asia/Tokyo")
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None, microsecond=0)
    page.fill("input[name=since]", (tokyo - timedelta(minutes=10)).isoformat())
    # the one retired row is there before the filter answers too: wait for the filtered page's address
    expect(page).to_have_url(re.compile(r"since=.*tz=Asia%2FTokyo"))
    expect(page.locator('tr.audit-row[data-action="retired"]')).to_have_count(1)
    page.fill("input[name=since]", (tokyo + timedelta(minutes=10)).isoformat())
    expect(page.locator("#audit-table")).to_contain_text("No audited action matches")
    context.close()


def test_unknown_identity_shows_the_styled_404(page: Any, live_server_url: str) -> None:
    login(page, live_server_url, "viewer")
    response = page.goto(f"{live_server_url}/identities/no-such-identity/")
    assert response is not None and response.status == 404
    expect(page.locator("#error-404 h1")).to_have_text("Not found")
    expect(page.locator("header nav")).to_be_visible()
    expect(page.locator("#error-404")).to_contain_text("no-such-identity")
    screenshot(page, "not-found")


def test_dark_mode_follows_the_system(page: Any, live_server_url: str, api_token: str) -> None:
    api = AgentApi(live_server_url, api_token)
    api.create("alpha")
    append_output(api, "task-dark")
    page.emulate_media(color_scheme="dark")
    login(page, live_server_url, "viewer")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server_url}/")
    expect(page.locator('figure[data-chart="outputs"]')).to_have_attribute("data-sum", "1")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(246, 247, 249)"
    screenshot(page, "overview-dark")
