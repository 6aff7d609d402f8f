"""The Runtimes pages and admin: login, empty states, filters, pagination, partials, query counts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from stores.runtime import change_state
from stores.runtime_types import (
    InputLifecycleState,
    InputTransition,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RuntimeState,
    SessionDelta,
    StoredInputState,
)
from swarmsite.composition import runtime_store
from tests.swarmsite.dashboard.helpers import LOG_READ

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)


def receipt(sequence: int = 0) -> RunBoundaryReceipt:
    return RunBoundaryReceipt(run_id=uuid.uuid4(), boundary=RunApplyBoundary.RUN_START, sequence=sequence,
                              message_count=3)


def test_runtime_pages_redirect_anonymous_users_to_login(client: Client) -> None:
    for path in ("/runtimes/", "/runtimes/rt:x/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_runtimes_page_has_an_empty_state_and_a_nav_link(viewer_client: Client) -> None:
    page = viewer_client.get("/runtimes/").content.decode()
    assert "No runtime has stored any state yet." in page
    assert 'href="/runtimes/" aria-current="page">Runtimes</a>' in page


def test_runtimes_page_lists_runtimes_with_state_and_filters(viewer_client: Client) -> None:
    store = runtime_store()
    change_state(store, "rt:alpha", RuntimeState.INITIALIZING)
    change_state(store, "rt:alpha", RuntimeState.IDLE)
    change_state(store, "rt:beta", RuntimeState.INITIALIZING)
    store.persist_input_state("rt:gamma", StoredInputState.new_accepted(uuid.uuid4(), NOW))
    page = viewer_client.get("/runtimes/").content.decode()
    for rid in ("rt:alpha", "rt:beta", "rt:gamma"):
        assert f'href="/runtimes/{rid}/"' in page
    assert '<span class="badge idle">idle</span>' in page and "not started" in page
    filtered = viewer_client.get("/runtimes/?state=initializing").content.decode()
    assert "rt:beta" in filtered and "rt:alpha" not in filtered
    assert "No stopped runtimes." in viewer_client.get("/runtimes/?state=stopped").content.decode()


def test_runtimes_htmx_refresh_renders_only_the_table_partial(viewer_client: Client) -> None:
    change_state(runtime_store(), "rt:delta", RuntimeState.INITIALIZING)
    body = viewer_client.get("/runtimes/", headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<section id="runtime-table"')
    assert 'data-live-kinds="runtime."' in body
    assert "<html" not in body and "rt:delta" in body


def test_runtimes_page_paginates_with_a_fixed_number_of_queries(
    viewer_client: Client, django_assert_num_queries: Any
) -> None:
    store = runtime_store()
    for n in range(55):
        store.persist_input_state(f"rt:{n:02d}", StoredInputState.new_accepted(uuid.uuid4(), NOW))
    viewer_client.get("/runtimes/")  # warm the session and role lookups
    with django_assert_num_queries(7 + LOG_READ):
        first = viewer_client.get("/runtimes/").content.decode()
    second = viewer_client.get("/runtimes/?page=2").content.decode()
    assert first.count('class="runtime-row"') == 50
    assert second.count('class="runtime-row"') == 5
    assert "Page 2 of 2" in second


def test_runtime_detail_shows_state_next_states_inputs_with_history_and_receipts(viewer_client: Client) -> None:
    store = runtime_store()
    rid = "rt:session:7"
    change_state(store, rid, RuntimeState.INITIALIZING)
    change_state(store, rid, RuntimeState.IDLE)
    input_id = uuid.uuid4()
    stuck = StoredInputState(
        input_id=input_id, current_state=InputLifecycleState.QUEUED, created_at=NOW, updated_at=NOW,
        attempt_count=3,
        history=(InputTransition(NOW, InputLifecycleState.ACCEPTED, InputLifecycleState.QUEUED, "admitted"),),
    )
    rec = receipt(4)
    store.atomic_apply(rid, SessionDelta(json.dumps({"messages": []}).encode()), rec, [stuck])
    page = viewer_client.get(f"/runtimes/{rid}/").content.decode()
    assert 'id="runtime-state-badge">idle</span>' in page
    assert "idle: accepts input; processes its queue" in page
    for nxt in ("attached", "running", "retired", "stopped", "destroyed"):
        assert f'<span class="badge {nxt}">{nxt}</span>' in page
    assert f'id="input-{input_id}"' in page
    assert "accepted → queued" in page and "(admitted)" in page
    assert "staged 3 times (the limit is 3)" in page
    assert str(rec.run_id) in page


def test_runtime_detail_of_a_destroyed_runtime_says_it_is_final(viewer_client: Client) -> None:
    store = runtime_store()
    for state in (RuntimeState.INITIALIZING, RuntimeState.STOPPED, RuntimeState.DESTROYED):
        change_state(store, "rt:gone", state)
    page = viewer_client.get("/runtimes/rt:gone/").content.decode()
    assert "nothing (terminal)" in page and "destroyed: final" in page
    assert "No input states stored" in page and "No run boundary committed yet." in page


def test_runtime_detail_of_an_unknown_runtime_is_404(viewer_client: Client) -> None:
    assert viewer_client.get("/runtimes/rt:nobody/").status_code == 404


def test_runtime_detail_htmx_refresh_renders_only_the_detail_partial(viewer_client: Client) -> None:
    change_state(runtime_store(), "rt:h", RuntimeState.INITIALIZING)
    body = viewer_client.get("/runtimes/rt:h/", headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<div id="runtime-detail"')
    assert "<html" not in body


def test_runtime_ids_with_url_characters_link_to_their_page(viewer_client: Client) -> None:
    rid = "rt:a?b#c%d&e"
    change_state(runtime_store(), rid, RuntimeState.INITIALIZING)
    url = reverse("runtime", args=[rid])
    assert url == "/runtimes/rt:a%3Fb%23c%25d&e/"
    assert escape(url) in viewer_client.get("/runtimes/").content.decode()
    assert viewer_client.get(url).status_code == 200


def test_user_without_a_role_gets_403(client: Client) -> None:
    client.force_login(User.objects.create_user("nobody", password="pw-nobody-1"))
    assert client.get("/runtimes/").status_code == 403


def test_admin_shows_runtime_rows_read_only_and_hides_oauth_contents(admin_client: Client) -> None:
    store = runtime_store()
    change_state(store, "rt:adm", RuntimeState.INITIALIZING, [StoredInputState.new_accepted(uuid.uuid4(), NOW)])
    store.atomic_apply("rt:adm", None, receipt(), [])
    store.persist_auth_oauth_flow_snapshot(b'{"pkce_verifier": "s3cret-verifier"}')
    for name in ("runtime", "runtimeinputstate", "runtimeboundaryreceipt", "oauthflowsnapshot"):
        changelist = admin_client.get(f"/admin/stores/{name}/")
        assert changelist.status_code == 200, name
        assert f"/admin/stores/{name}/add/" not in changelist.content.decode()
    detail = admin_client.get("/admin/stores/runtime/rt:adm/change/").content.decode()
    assert "initializing" in detail and 'name="_save"' not in detail
    oauth = admin_client.get("/admin/stores/oauthflowsnapshot/auth_oauth_flow_state/change/").content.decode()
    assert "contents hidden" in oauth and "s3cret-verifier" not in oauth
