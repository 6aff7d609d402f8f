"""The Agents page and the overview: login, roles, empty states, filters, pagination, partials."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from swarmsite.composition import lifecycle_store
from tests.swarmsite.dashboard.helpers import LOG_READ

pytestmark = pytest.mark.django_db


def test_pages_redirect_anonymous_users_to_login(client: Client) -> None:
    for path in ("/", "/agents/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_user_without_a_role_gets_403(client: Client) -> None:
    client.force_login(User.objects.create_user("nobody", password="pw-nobody-1"))
    assert client.get("/agents/").status_code == 403


def test_agents_page_has_an_empty_state(viewer_client: Client) -> None:
    response = viewer_client.get("/agents/")
    assert response.status_code == 200
    assert b"No agent has registered yet" in response.content


def test_agents_page_lists_agents_with_state_and_filters(viewer_client: Client) -> None:
    store = lifecycle_store()
    online, offline = uuid.uuid4(), uuid.uuid4()
    store.register(online, name="alpha")
    store.register(offline, name="beta")
    store.deregister(offline)
    page = viewer_client.get("/agents/").content.decode()
    assert f'id="agent-{online}"' in page and f'id="agent-{offline}"' in page
    filtered = viewer_client.get("/agents/?state=offline").content.decode()
    assert "beta" in filtered and "alpha" not in filtered
    assert "No expired agents." in viewer_client.get("/agents/?state=expired").content.decode()


def _old_and_new_agents() -> dict[str, uuid.UUID]:
    """Agents that ended two hours ago (one deregistered, one expired and swept), one that just expired
    (past its TTL, not yet swept), one deregistered a minute ago, and one online."""
    store, now = lifecycle_store(), timezone.now()
    agents = {n: uuid.uuid4() for n in ("old-offline", "old-expired", "just-expired", "new-offline", "live")}
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        for name in ("old-offline", "old-expired"):
            store.register(agents[name], name=name)
        store.deregister(agents["old-offline"])
    with time_machine.travel(now - timedelta(hours=2) + timedelta(minutes=1), tick=False):
        store.expire_silent()
    with time_machine.travel(now - timedelta(minutes=2), tick=False):
        store.register(agents["just-expired"], name="just-expired")
        store.register(agents["new-offline"], name="new-offline")
    with time_machine.travel(now - timedelta(minutes=1), tick=False):
        store.deregister(agents["new-offline"])
    store.register(agents["live"], name="live")
    return agents


def _rows(page: str, agents: dict[str, uuid.UUID]) -> set[str]:
    return {name for name, agent in agents.items() if f'id="agent-{agent}"' in page}


def test_agents_page_shows_online_and_recent_agents_and_counts_the_older_ones(viewer_client: Client) -> None:
    agents = _old_and_new_agents()
    page = viewer_client.get("/agents/").content.decode()
    assert _rows(page, agents) == {"just-expired", "new-offline", "live"}
    assert "Online agents and those that went offline or expired in the last hour." in page
    assert "2 older agents hidden: show all 5" in page
    assert 'href="/agents/?state=all"' in page and "only expired (2)" in page
    assert "Offline and expired agents are deleted after 7 days." in page

    everything = viewer_client.get("/agents/?state=all").content.decode()
    assert _rows(everything, agents) == set(agents)
    assert "All 5 agents, most recently seen first." in everything and "older agents hidden" not in everything
    expired = viewer_client.get("/agents/?state=expired").content.decode()
    assert _rows(expired, agents) == {"old-expired", "just-expired"}
    assert 'value="expired" selected' in expired


def test_agents_page_says_when_only_old_agents_remain(viewer_client: Client) -> None:
    store, now = lifecycle_store(), timezone.now()
    with time_machine.travel(now - timedelta(days=1), tick=False):
        agent = uuid.uuid4()
        store.register(agent, name="yesterday")
        store.deregister(agent)
    page = viewer_client.get("/agents/").content.decode()
    assert "No agent is online or ended in the last" in page and "Show all 1 agents" in page
    assert "No agent has registered yet" not in page and f'id="agent-{agent}"' not in page
    assert f'id="agent-{agent}"' in viewer_client.get("/agents/?state=all").content.decode()


def test_the_recent_window_is_a_setting(viewer_client: Client, settings: Any) -> None:
    agents = _old_and_new_agents()
    settings.SWARM_AGENTS_RECENT_S = 3 * 3600
    page = viewer_client.get("/agents/").content.decode()
    assert _rows(page, agents) == set(agents) and "in the last 3 hours" in page and "older agents hidden" not in page
    settings.SWARM_AGENTS_RECENT_S = 30
    assert _rows(viewer_client.get("/agents/").content.decode(), agents) == {"live"}
    settings.SWARM_AGENTS_RECENT_S = 0  # no window: every agent, as ?state=all
    assert _rows(viewer_client.get("/agents/").content.decode(), agents) == set(agents)


def test_htmx_refresh_renders_only_the_table_partial(viewer_client: Client) -> None:
    lifecycle_store().register(uuid.uuid4(), name="gamma")
    response = viewer_client.get("/agents/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="agent-table"')
    assert "<html" not in body and "gamma" in body


def test_agents_page_paginates(viewer_client: Client) -> None:
    store = lifecycle_store()
    for i in range(55):
        store.register(uuid.uuid4(), name=f"agent-{i:02d}")
    first = viewer_client.get("/agents/").content.decode()
    second = viewer_client.get("/agents/?page=2").content.decode()
    assert first.count('<tr id="agent-') == 50
    assert second.count('<tr id="agent-') == 5
    assert "Page 2 of 2" in second


def test_agents_page_query_count_does_not_grow_with_agents(
    viewer_client: Client, django_assert_max_num_queries: object
) -> None:
    store = lifecycle_store()
    for i in range(120):
        store.register(uuid.uuid4(), name=f"a{i}")
    for i in range(30):
        gone = uuid.uuid4()
        with time_machine.travel(timezone.now() - timedelta(days=1), tick=False):
            store.register(gone, name=f"gone{i}")
            store.deregister(gone)
    for path in ("/agents/", "/agents/?state=all", "/agents/?state=expired", "/agents/?page=2"):
        with django_assert_max_num_queries(8 + LOG_READ):  # type: ignore[operator]
            assert viewer_client.get(path).status_code == 200


def test_overview_counts_agents_by_state(viewer_client: Client) -> None:
    store = lifecycle_store()
    store.register(uuid.uuid4())
    gone = uuid.uuid4()
    store.register(gone)
    store.deregister(gone)
    body = viewer_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert '<span class="n">1</span><span class="l">agents online' in body
    assert '<span class="n">1</span><span class="l">agents offline' in body
