"""The Storage page: admins see rows, size, oldest row and what the next prune removes per table, the
pruned watermark and the last runs; empty states; the nav link is for admins only; others get 403."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from swarmsite import retention
from tests.conftest import user_with_role
from tests.swarmsite.dashboard.helpers import create, online_agent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(user_with_role(role, f"{role}-storage"))  # type: ignore[arg-type]
    return client


def row(page: str, table: str) -> str:
    match = re.search(rf'<tr data-table="{table}">(.*?)</tr>', page, re.S)
    assert match, f"a row for {table}"
    return match.group(1)


def cells(page: str, table: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row(page, table), re.S)]


def test_storage_page_is_for_admins_only_with_a_nav_link_for_them() -> None:
    admin_page = client_for("admin").get("/storage/").content.decode()
    assert 'href="/storage/" aria-current="page">Storage</a>' in admin_page
    operator = client_for("operator")
    assert operator.get("/storage/").status_code == 403
    assert 'href="/storage/"' not in operator.get("/agents/").content.decode()


def test_empty_storage_says_so() -> None:
    page = client_for("admin").get("/storage/").content.decode()
    assert "Nothing stored yet" in page and "Pruning has not run yet" in page
    assert "No event has been pruned yet." in page


def test_storage_shows_rows_oldest_and_what_the_next_prune_removes_then_the_run(settings: Any) -> None:
    with time_machine.travel(T0, tick=False):
        create("alpha")
        online_agent()
    admin = client_for("admin")
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        events = cells(admin.get("/storage/").content.decode(), "events")
        _, kept, _, rows, size, oldest, prunable = events
        assert kept == "7 days" and int(rows) >= 2 and int(prunable) == int(rows)
        assert oldest == "8d 0h ago" and size  # bytes, or "unknown" where SQLite has no dbstat
        assert cells(admin.get("/storage/").content.decode(), "outputs")[1] == "forever"
        run = retention.prune()
        page = admin.get("/storage/").content.decode()
    assert cells(page, "events")[3] == "0"
    assert f'{run.removed["events"]} events</span>' in page
    assert "have been pruned: a client resuming from before that id is told to resync" in page
