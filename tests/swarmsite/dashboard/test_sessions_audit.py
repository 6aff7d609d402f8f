"""Session actions from the Sessions pages are audited as `session:<id>` with the dashboard user: a
cancel (done or refused), and vacuum / GC when applied (a dry run changes nothing and is not audited).
The audit page links such subjects to the session, not to an identity."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from stores.queue_types import QueuedWorkClaimBoundary
from swarmsite.composition import identity_runtime, runtime_persistence
from tests.conftest import user_with_role
from tests.swarmsite.dashboard.test_sessions_page import commit, enqueue

pytestmark = pytest.mark.django_db


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(user_with_role(role, f"{role}-audit"))  # type: ignore[arg-type]
    return client


def audits(subject: str) -> list[tuple[str, str, bool, dict[str, object]]]:
    page = identity_runtime().registry().list_audit(identity=subject)
    return [(r.action, r.actor, r.ok, dict(r.result)) for r in page.items]


def test_cancel_from_the_session_page_writes_an_audit_entry() -> None:
    batch = enqueue("alpha", "drop me")
    client_for("operator").post(reverse("session-cancel", args=["alpha", batch.batch_id]),
                                headers={"HX-Request": "true"})
    assert audits("session:alpha") == [
        ("batch_cancelled", "operator-audit", True, {"batch_id": batch.batch_id, "detail": ""})
    ]


def test_refused_cancel_is_audited_as_refused_and_a_viewer_leaves_no_entry() -> None:
    batch = enqueue("alpha", "held")
    runtime_persistence().open("alpha").claim_ready_queued_work("alpha", "agent", QueuedWorkClaimBoundary.IDLE,
                                                                60_000, 1)
    url = reverse("session-cancel", args=["alpha", batch.batch_id])
    assert client_for("viewer").post(url).status_code == 403
    assert audits("session:alpha") == []
    client_for("operator").post(url)
    [(action, _, ok, result)] = audits("session:alpha")
    assert (action, ok, result["detail"]) == ("batch_cancelled", False, "the batch is claimed, finished or gone")


def test_cancel_with_a_malformed_id_is_404_or_refused_without_reaching_the_store() -> None:
    enqueue("alpha", "stays")
    operator = client_for("operator")
    assert operator.post("/sessions/a%00b/queue/x/cancel/").status_code == 404
    assert operator.post(reverse("session-cancel", args=["s" * 201, "x"])).status_code == 404
    assert operator.post("/sessions/alpha/queue/b%00xxx/cancel/").status_code == 404
    response = operator.post(reverse("session-cancel", args=["alpha", "x" * 201]), follow=True)
    assert "was not cancelled" in response.content.decode()
    [(_, _, ok, _)] = audits("session:alpha")
    assert ok is False
    assert len(runtime_persistence().open("alpha").list_queued_work("alpha")) == 1


def test_applied_vacuum_and_gc_are_audited_with_their_counts_and_dry_runs_are_not() -> None:
    commit("alpha", "root", tool_state=b"v1")
    commit("alpha", tool_state=b"v2")
    runtime_persistence().open("alpha").tombstone_nodes(["root"])
    admin = client_for("admin")
    gc_url, vacuum_url = (reverse("session-maintenance", args=["alpha", a]) for a in ("gc", "vacuum"))
    admin.post(gc_url)
    admin.post(vacuum_url)
    assert audits("session:alpha") == []
    admin.post(gc_url, {"apply": "1"})
    admin.post(vacuum_url, {"apply": "1"})
    assert audits("session:alpha") == [
        ("session_vacuumed", "admin-audit", True, {"removed_nodes": 1}),
        ("session_gc", "admin-audit", True, {"deleted_blobs": 2, "retained_blobs": 2}),
    ]


def test_audit_page_links_a_session_subject_to_its_session() -> None:
    batch = enqueue("alpha", "drop me")
    operator = client_for("operator")
    operator.post(reverse("session-cancel", args=["alpha", batch.batch_id]))
    page = operator.get("/audit/").content.decode()
    assert '<span class="muted small">session</span> <a href="/sessions/alpha/">alpha</a>' in page
    assert "/identities/session" not in page
