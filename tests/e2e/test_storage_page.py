"""An admin opens Storage in a browser: every table with its rows, size, oldest row and what the next
prune removes; after a prune, the run and the pruned watermark."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from identities.types import DurableAgentSpec
from swarmsite import composition, retention
from tests.e2e.conftest import login, screenshot


def test_admin_sees_what_each_table_holds_and_what_pruning_removed(
    page: Any, live_server_url: str, settings: Any
) -> None:
    login(page, live_server_url, "admin")
    page.click("nav >> text=Storage")
    # (The server's own sweeper may already have pruned once: the empty state is a view test's job.)
    expect(page.locator("#storage-tables")).to_be_visible()

    composition.identity_runtime().create_identity(DurableAgentSpec(identity="alpha", profile="worker"))
    composition.lifecycle_store().register(uuid.uuid4(), name="worker-1")
    settings.SWARM_RETENTION_EVENTS_DAYS = 1e-9  # everything logged so far is past the window
    run = retention.prune()
    assert run.removed["events"] >= 2

    page.reload()
    expect(page.locator('tr[data-table="events"] td').nth(3)).to_have_text("0")
    expect(page.locator('tr[data-table="agents"] td').nth(3)).to_have_text("1")
    expect(page.locator('tr[data-table="outputs"]')).to_contain_text("forever")
    expect(page.locator("tr.prune-run").first).to_contain_text(f"{run.removed['events']} events")
    expect(page.locator("#storage-watermark")).to_contain_text("told to resync")
    screenshot(page, "storage")
