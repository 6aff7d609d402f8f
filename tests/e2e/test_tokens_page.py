"""An admin manages API tokens in a browser: creates one, sees its secret once (it works against the
API), revokes it after confirming (then the API answers 401), and finds both actions in the audit log."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot

SECRET = re.compile(r"^sws_\S{40,}$")


def test_admin_creates_a_token_sees_the_secret_once_and_revokes_it(page: Any, live_server_url: str) -> None:
    login(page, live_server_url, "admin")
    page.click("nav >> text=Tokens")
    expect(page.locator("#token-table .empty")).to_contain_text("No API token yet.")

    page.fill("input[name=name]", "worker-pool")
    page.select_option("select[name=scope]", "operator")
    page.click("text=Create token")
    secret_box = page.locator("#token-secret")
    expect(secret_box).to_have_text(SECRET)
    secret = secret_box.inner_text()
    expect(page.locator("#token-secret-panel")).to_contain_text("it is shown only once")
    row = page.locator("tr.token-row", has_text="worker-pool")
    expect(row).to_have_count(1, timeout=10_000)  # the table refreshed itself after the create
    expect(row).to_contain_text(secret[:12])
    screenshot(page, "tokens-created")

    noop = f"{live_server_url}/api/v1/noop"
    assert httpx.get(noop, headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    page.reload()
    expect(page.locator("#token-secret")).to_have_count(0)  # shown once: never again
    assert secret not in page.content()

    dialogs: list[str] = []

    def confirm(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    row.locator("button.revoke").click()
    expect(row.locator(".revoked-at")).to_contain_text("revoked", timeout=10_000)
    expect(row.locator("button.revoke")).to_have_count(0)
    assert dialogs and "Revoke token worker-pool" in dialogs[0]
    assert httpx.get(noop, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    screenshot(page, "tokens-revoked")

    page.click("nav >> text=Audit")
    expect(page.locator('tr[data-action="token_created"] td.subject')).to_have_text("token worker-pool")
    expect(page.locator('tr[data-action="token_revoked"]')).to_contain_text(secret[:12])

