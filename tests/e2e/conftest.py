"""Browser tests: Playwright drives Debian's /usr/bin/chromium against a Daphne live server.

Run in their own pytest process (make test-e2e) with DJANGO_ALLOW_ASYNC_UNSAFE=true: sync Playwright
keeps an event loop running in the test thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Live updates land well under a second; the generous wait only keeps a loaded CI machine from
# turning slowness into a failure (latency itself is measured by bench/dashboard.py).
expect.set_options(timeout=10_000)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture
def live_server_url(transactional_db: None) -> Iterator[str]:
    """A Daphne server (HTTP + websockets) in a child process, on the test database."""
    from channels.testing.live import make_application, set_database_connection
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    proc = DaphneProcess(
        "localhost", partial(make_application, static_wrapper=ASGIStaticFilesHandler), setup=set_database_connection
    )
    proc.start()
    assert proc.ready.wait(timeout=30), "daphne did not start"
    yield f"http://localhost:{proc.port.value}"
    proc.terminate()
    proc.join()


@pytest.fixture
def api_token(transactional_db: None) -> str:
    from swarmsite.models import ApiToken

    return ApiToken.issue("e2e-agent", ApiToken.Scope.ADMIN)[1]


def login(page: Any, base_url: str, role: str = "operator", username: str | None = None) -> Any:
    """Create a user with the role and log in through the real login form."""
    from django.contrib.auth.models import Group, User

    name = username or f"{role}-e2e"
    user = User.objects.create_user(name, password="e2e-password-1")
    user.groups.add(Group.objects.get_or_create(name=role)[0])  # transactional tests flush the data migration
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "e2e-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return user


def wait_live(page: Any) -> None:
    """Wait until the page's websocket is open (live updates flowing)."""
    page.wait_for_selector("#live-status[data-state=open]", timeout=10_000)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
