"""The Sessions pages: login, empty states, counts, the inbox with claims, cancel (operators only),
vacuum and GC behind a dry run (admins only), partials and query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from stores.persistence_types import Append, HydratedSessionCheckpoint, RuntimeCommit, SessionNodeRecord
from stores.queue_types import QueuedWorkBatch, QueuedWorkBatchDraft, QueuedWorkClaimBoundary, QueuedWorkPayload
from swarmsite.composition import runtime_persistence
from tests.conftest import user_with_role
from tests.swarmsite.dashboard.helpers import LOG_READ

pytestmark = pytest.mark.django_db


def enqueue(session_id: str, text: str) -> QueuedWorkBatch:
    draft = QueuedWorkBatchDraft(session_id, (QueuedWorkPayload.turn_input({"text": text}),))
    return runtime_persistence().open(session_id).enqueue_queued_work(draft)


def commit(session_id: str, *node_ids: str, tool_state: bytes = b"tools") -> None:
    nodes = tuple(SessionNodeRecord(n, node_ids[i - 1] if i else None, payload={"type": "event", "event": {"text": n}})
                  for i, n in enumerate(node_ids))
    change = RuntimeCommit(session_id, graph=Append(nodes, node_ids[-1] if node_ids else None),
                           checkpoint=HydratedSessionCheckpoint(tool_state=tool_state))
    runtime_persistence().open(session_id).commit_runtime_state(change)


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(user_with_role(role, f"{role}-sessions"))  # type: ignore[arg-type]
    return client


def test_session_pages_redirect_anonymous_users_to_login(client: Client) -> None:
    for path in ("/sessions/", "/sessions/s1/"):
        assert client.get(path)["Location"].startswith("/accounts/login/")


def test_sessions_page_has_an_empty_state_and_a_nav_link(viewer_client: Client) -> None:
    page = viewer_client.get("/sessions/").content.decode()
    assert "No session has committed state or queued work yet." in page
    assert 'href="/sessions/" aria-current="page">Sessions</a>' in page


def test_sessions_page_lists_head_nodes_and_queue_counts_in_constant_queries(
    viewer_client: Client, django_assert_max_num_queries: Any
) -> None:
    commit("alpha", "root", "child")
    for n in range(3):
        enqueue("alpha", f"a{n}")
    runtime_persistence().open("alpha").claim_ready_queued_work("alpha", "agent-1", QueuedWorkClaimBoundary.IDLE,
                                                                60_000, 1)
    enqueue("beta", "b")
    viewer_client.get("/sessions/")  # warm the session and the user
    with django_assert_max_num_queries(8 + LOG_READ):
        page = viewer_client.get("/sessions/").content.decode()
    assert 'href="/sessions/alpha/"' in page and 'href="/sessions/beta/"' in page
    assert '<span class="badge pending">2</span>' in page and '<span class="badge claimed">1</span>' in page
    assert "no commit yet" in page  # beta only has queued work


def test_session_detail_shows_the_active_path_head_and_the_claim_countdown(viewer_client: Client) -> None:
    commit("alpha", "root", "child")
    claimed, waiting = enqueue("alpha", "first"), enqueue("alpha", "second")
    runtime_persistence().open("alpha").claim_ready_queued_work("alpha", "agent-7", QueuedWorkClaimBoundary.IDLE,
                                                                60_000, 1)
    page = viewer_client.get("/sessions/alpha/").content.decode()
    path = page[page.index('id="session-path"'):]
    assert path.index("<code>root</code>") < path.index("<code>child</code>")
    assert 'id="head-revision">1<' in page
    assert f'data-batch-id="{claimed.batch_id}" class="batch status-claimed"' in page
    assert f'data-batch-id="{waiting.batch_id}" class="batch status-pending"' in page
    assert "<code>agent-7</code>" in page and 'class="expires" data-until="' in page
    assert "Cancel</button>" not in page  # viewers cannot cancel
    assert 'id="session-maintenance"' not in page


def test_session_detail_of_an_unknown_session_is_404(viewer_client: Client) -> None:
    assert viewer_client.get("/sessions/nope/").status_code == 404


def test_htmx_refresh_renders_only_the_live_region(viewer_client: Client) -> None:
    enqueue("alpha", "x")
    response = viewer_client.get("/sessions/alpha/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="session-detail"') and "<html" not in body


def test_cancel_needs_the_operator_role_and_removes_an_unclaimed_batch(viewer_client: Client) -> None:
    batch = enqueue("alpha", "drop me")
    url = reverse("session-cancel", args=["alpha", batch.batch_id])
    assert viewer_client.post(url).status_code == 403
    assert viewer_client.get(url).status_code in (403, 405)
    operator = client_for("operator")
    page = operator.get("/sessions/alpha/").content.decode()
    assert "Cancel</button>" in page and "hx-confirm=" in page
    response = operator.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Nothing queued" in response.content.decode()
    assert runtime_persistence().open("alpha").list_queued_work("alpha") == []


def test_cancel_of_a_claimed_batch_changes_nothing_and_says_why() -> None:
    batch = enqueue("alpha", "held")
    runtime_persistence().open("alpha").claim_ready_queued_work("alpha", "agent", QueuedWorkClaimBoundary.IDLE,
                                                                60_000, 1)
    response = client_for("operator").post(reverse("session-cancel", args=["alpha", batch.batch_id]), follow=True)
    assert "was not cancelled: it is claimed" in response.content.decode()
    assert len(runtime_persistence().open("alpha").list_queued_work("alpha")) == 1


def test_vacuum_and_gc_need_the_admin_role_and_show_a_dry_run_first() -> None:
    commit("alpha", "root", tool_state=b"v1")
    commit("alpha", tool_state=b"v2")
    runtime_persistence().open("alpha").tombstone_nodes(["root"])
    gc_url, vacuum_url = (reverse("session-maintenance", args=["alpha", a]) for a in ("gc", "vacuum"))
    assert client_for("operator").post(gc_url).status_code == 403
    admin = client_for("admin")
    assert 'id="session-maintenance"' in admin.get("/sessions/alpha/").content.decode()
    preview = admin.post(gc_url, headers={"HX-Request": "true"}).content.decode()
    assert "GC would delete <strong>2</strong> unreachable blobs" in preview and 'name="apply"' in preview
    assert "hx-confirm=" in preview
    assert runtime_persistence().open("alpha").gc_unreachable(dry_run=True).deleted_blob_count == 2
    assert "GC deleted 2 blobs" in admin.post(gc_url, {"apply": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert "Vacuum would delete <strong>1</strong>" in admin.post(vacuum_url).content.decode()  # no-JS page
    admin.post(vacuum_url, {"apply": "1"})
    assert runtime_persistence().open("alpha").vacuum(dry_run=True).removed_node_count == 0
