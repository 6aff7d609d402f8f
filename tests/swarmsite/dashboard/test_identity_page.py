"""The identity page: panels, why lines, checkpoint diff; and the role rules of its actions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from identities.types import ContinuityRecord, DurableAgentSpec
from stores.errors import StaleFencingToken
from swarmsite.composition import identity_runtime, lifecycle_store
from tests.conftest import user_with_role
from tests.swarmsite.dashboard.helpers import checkpoint, create, hold, online_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(user_with_role("admin"))  # type: ignore[arg-type]
    return client


def test_identity_page_shows_lease_continuity_checkpoints_and_timeline(viewer_client: Client) -> None:
    create("planner-1", team="blue")
    grant = hold("planner-1")
    checkpoint("planner-1", grant, {"step": 1})
    checkpoint("planner-1", grant, {"step": 2})
    body = viewer_client.get("/identities/planner-1/").content.decode()
    assert f'<code id="lease-holder" class="muted small">{grant.holder}</code>' in body
    assert f'<code class="token" id="lease-token">#{grant.fencing_token}</code>' in body
    assert '<dd id="generation">0</dd>' in body
    assert body.count('class="checkpoint') == 2
    assert 'data-kind="identity.checkpoint_completed"' in body
    assert 'data-kind="audit.created"' in body  # audit entries are on the timeline too
    assert 'data-live-subjects="identity:planner-1"' in body


def test_identity_page_of_an_unknown_identity_is_404(viewer_client: Client) -> None:
    assert viewer_client.get("/identities/nobody/").status_code == 404


def test_identity_page_htmx_refresh_renders_only_the_named_panel(viewer_client: Client) -> None:
    create("alpha")
    headers = {"HX-Request": "true", "HX-Target": "identity-timeline"}
    body = viewer_client.get("/identities/alpha/", headers=headers).content.decode()
    assert body.lstrip().startswith('<section id="identity-timeline"')
    assert "identity-summary" not in body and "<html" not in body


def test_timeline_shows_a_rejected_stale_write_with_both_tokens(viewer_client: Client) -> None:
    create("alpha")
    old = hold("alpha")
    identity_runtime().respawn("alpha", actor="op")
    with pytest.raises(StaleFencingToken):
        checkpoint("alpha", old, {"late": True})
    current = identity_runtime().lease("alpha").fencing_token
    body = viewer_client.get("/identities/alpha/").content.decode()
    assert f"token #{old.fencing_token} &lt; current #{current}" in body
    assert "1 rejected stale write" in body


def test_timeline_names_agents_first_and_links_them(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("planner-9")
    old = hold("alpha", agent)
    identity_runtime().respawn("alpha", actor="op")
    with pytest.raises(StaleFencingToken):
        checkpoint("alpha", old, {"late": True})
    body = viewer_client.get("/identities/alpha/", headers={"HX-Request": "true", "HX-Target": "identity-timeline"})
    text = body.content.decode()
    link = f'<a class="agent-link" href="/agents/{agent}/" title="agent {agent}">planner-9</a>'
    assert f"{link} took the lease with token #{old.fencing_token}" in text
    assert f"{link}: stale checkpoint rejected, token #{old.fencing_token} &lt; current" in text
    assert f">{str(agent)[:8]}<" not in text and f"agent {str(agent)[:8]} " not in text  # never an id prefix


def test_why_line_of_a_lost_lease_names_expiry_and_the_holders_last_heartbeat(viewer_client: Client) -> None:
    create("alpha")
    agent = uuid.uuid4()
    lifecycle_store().register(agent, name="worker-7")
    hold("alpha", agent, ttl_s=5)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=10), tick=False):
        body = viewer_client.get("/identities/alpha/").content.decode()
    assert "Why: lease lost: its holder stopped renewing it" in body
    assert "expired at" in body and "holder&#x27;s last heartbeat" in body and "worker-7" in body


def test_why_line_of_a_retiring_identity(viewer_client: Client) -> None:
    create("alpha")
    identity_runtime().retire("alpha", actor="op", reason="replaced by beta")
    body = viewer_client.get("/identities/alpha/").content.decode()
    assert "Why: retiring: no new deliveries are accepted" in body and "replaced by beta" in body


def test_why_line_of_broken_continuity_names_the_failure(viewer_client: Client) -> None:
    runtime = identity_runtime()
    record = ContinuityRecord("alpha", "rt:alpha:0", uuid.uuid4(), generation=0, checkpoint_version=3)
    runtime.register(DurableAgentSpec(identity="alpha", profile="w"), continuity=record)
    body = viewer_client.get("/identities/alpha/").content.decode()
    assert "Why: continuity is broken" in body and "snapshot_missing" in body


def test_checkpoint_diff_shows_added_removed_and_changed_paths(viewer_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    checkpoint("alpha", grant, {"plan": {"steps": ["a", "b"], "done": False}, "gone": 1})
    checkpoint("alpha", grant, {"plan": {"steps": ["a", "c", "d"], "done": True}, "new": {"x": 1}})
    body = viewer_client.get("/identities/alpha/diff/?from=0:1&to=0:2").content.decode()
    assert '<tr class="change removed"><td><code>$.gone</code>' in body
    assert '<tr class="change added"><td><code>$.new</code>' in body
    assert '<tr class="change changed"><td><code>$.plan.done</code>' in body
    assert '<tr class="change added"><td><code>$.plan.steps[2]</code>' in body


def test_checkpoint_diff_handles_bad_versions_and_non_json(viewer_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    identity_runtime().checkpoint("alpha", b"\x00\xffnot json", token=grant.fencing_token)
    checkpoint("alpha", grant, {"a": 1})
    assert viewer_client.get("/identities/alpha/diff/?from=x&to=0:1").status_code == 422
    diff = viewer_client.get("/identities/alpha/diff/?from=0:1&to=0:2").content.decode()
    assert "one of the snapshots is not JSON" in diff
    assert "no longer kept" in viewer_client.get("/identities/alpha/diff/?from=0:1&to=0:9").content.decode()


# -- roles --------------------------------------------------------------------------------------


def test_viewer_sees_no_action_buttons_or_forms(viewer_client: Client) -> None:
    create("alpha")
    body = viewer_client.get("/identities/alpha/").content.decode()
    assert 'id="recovery-actions"' not in body and 'id="send-card"' not in body and "Cancel</button>" not in body
    assert "Respawn all" not in viewer_client.get("/roster/").content.decode()


def test_operator_sees_respawn_and_retire_but_not_reset_or_delete(operator_client: Client) -> None:
    create("alpha")
    body = operator_client.get("/identities/alpha/").content.decode()
    assert 'data-action="respawn"' in body and 'data-action="retire"' in body
    assert 'data-action="reset"' not in body and 'data-action="delete"' not in body
    assert 'id="send-card"' in body


def test_admin_sees_every_action(admin_client: Client) -> None:
    create("alpha")
    body = admin_client.get("/identities/alpha/").content.decode()
    for action in ("respawn", "retire", "reset", "delete"):
        assert f'data-action="{action}"' in body


def test_forged_post_by_a_viewer_is_refused_and_changes_nothing(viewer_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    for path in ("actions/respawn/", "actions/retire/", "actions/reset/", "actions/delete/", "send/"):
        response = viewer_client.post(f"/identities/alpha/{path}", {"confirm_name": "alpha", "text": "x"})
        assert response.status_code == 403, path
    assert viewer_client.get("/identities/alpha/actions/respawn/").status_code == 403
    assert viewer_client.post("/roster/bulk/respawn/", {}).status_code == 403
    lease = identity_runtime().lease("alpha")
    assert lease.fencing_token == grant.fencing_token and lease.holder == grant.holder
    assert identity_runtime().registry().list_audit(identity="alpha").total == 1  # only "created"


def test_operator_cannot_reset_or_delete(operator_client: Client) -> None:
    create("alpha")
    for action in ("reset", "delete"):
        assert operator_client.get(f"/identities/alpha/actions/{action}/").status_code == 403
        response = operator_client.post(f"/identities/alpha/actions/{action}/", {"confirm_name": "alpha"})
        assert response.status_code == 403
    assert identity_runtime().status("alpha").generation == 0


def test_action_post_without_a_csrf_token_is_refused(db: None) -> None:
    create("alpha")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("operator"))  # type: ignore[arg-type]
    assert client.post("/identities/alpha/actions/respawn/").status_code == 403
    assert identity_runtime().registry().list_audit(identity="alpha").total == 1


def test_anonymous_users_are_sent_to_login(client: Client) -> None:
    for path in ("/roster/", "/audit/", "/identities/alpha/", "/identities/alpha/actions/respawn/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_malformed_names_and_ids_in_urls_are_refused_without_a_500(operator_client: Client) -> None:
    create("alpha")
    for path in ("/identities/a%00b/", "/identities/a%00b/actions/respawn/", f"/identities/{'x' * 300}/",
                 "/identities/a%00b/diff/?from=0:1&to=0:2"):
        assert operator_client.get(path).status_code == 404, path
    cancel = operator_client.post("/identities/alpha/inbox/b%00x/cancel/", headers={"HX-Request": "true"})
    assert cancel.status_code == 404  # no batch id holds a NUL: refused before the view runs
    assert operator_client.get("/audit/?identity=a%00b").status_code == 200
