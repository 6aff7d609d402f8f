"""The Agents page and the overview: login, roles, empty states, filters, pagination, partials."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

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
    with django_assert_max_num_queries(8 + LOG_READ):  # type: ignore[operator]
        viewer_client.get("/agents/")


def test_overview_counts_agents_by_state(viewer_client: Client) -> None:
    store = lifecycle_store()
    store.register(uuid.uuid4())
    gone = uuid.uuid4()
    store.register(gone)
    store.deregister(gone)
    body = viewer_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert '<span class="n">1</span><span class="l">agents online' in body
    assert '<span class="n">1</span><span class="l">agents offline' in body
