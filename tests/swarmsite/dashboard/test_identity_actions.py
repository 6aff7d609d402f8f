"""Recovery actions from the dashboard: previews, confirmations, results, audit; send, cancel, bulk."""

from __future__ import annotations

import pytest
from django.test import Client

from identities.types import IdentityState, LeaseGrant
from stores.errors import StaleFencingToken
from stores.queue_types import QueuedWorkClaimBoundary
from swarmsite.composition import identity_runtime, runtime_persistence
from tests.conftest import user_with_role
from tests.swarmsite.dashboard.helpers import checkpoint, create, hold

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(user_with_role("admin"))  # type: ignore[arg-type]
    return client


def test_respawn_preview_names_the_checkpoint_the_next_owner_resumes_from(operator_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    checkpoint("alpha", grant, {"step": 1})
    checkpoint("alpha", grant, {"step": 2})
    body = operator_client.get("/identities/alpha/actions/respawn/", headers=HTMX).content.decode()
    assert body.lstrip().startswith('<section id="confirm-panel"')
    assert "resumes from <strong>checkpoint v2</strong> of generation 0" in body
    assert f"Fences agent <code>{grant.holder}</code>" in body
    assert 'name="confirm_name"' not in body  # respawn is not destructive


def test_respawn_fences_the_old_owner_and_is_audited_with_the_user(operator_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    response = operator_client.post("/identities/alpha/actions/respawn/", {"reason": "stuck"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "alpha respawned." in body and "new fencing token" in body
    with pytest.raises(StaleFencingToken):
        checkpoint("alpha", grant, {"late": True})
    entry = identity_runtime().registry().list_audit(identity="alpha").items[0]
    assert (entry.actor, entry.action, entry.reason, entry.ok) == ("operator-user", "respawned", "stuck", True)


def test_action_without_htmx_redirects_back_with_a_message(operator_client: Client) -> None:
    create("alpha")
    response = operator_client.post("/identities/alpha/actions/retire/", follow=True)
    assert response.redirect_chain[-1][0] == "/identities/alpha/"
    assert "alpha retired." in response.content.decode()
    assert identity_runtime().status("alpha").state == IdentityState.RETIRING


def test_refused_action_shows_why_and_is_audited(operator_client: Client) -> None:
    create("alpha")
    identity_runtime().delete_identity("alpha", actor="admin")
    preview = operator_client.get("/identities/alpha/actions/respawn/").content.decode()
    assert "This will be refused" in preview
    response = operator_client.post("/identities/alpha/actions/respawn/", headers=HTMX)
    assert response.status_code == 409 and "Respawn refused" in response.content.decode()
    assert identity_runtime().registry().list_audit(identity="alpha").items[0].ok is False


def test_reset_preview_names_the_new_generation_and_what_is_archived(admin_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    checkpoint("alpha", grant, {"a": 1})
    checkpoint("alpha", grant, {"a": 2})
    body = admin_client.get("/identities/alpha/actions/reset/").content.decode()
    assert "Starts <strong>generation 1</strong>" in body
    assert "Archives 2 checkpoints of generation 0" in body
    assert 'name="confirm_name"' in body


def test_reset_needs_the_identity_name_typed(admin_client: Client) -> None:
    create("alpha")
    for typed in ("", "alph", "ALPHA", "alpha "):
        response = admin_client.post("/identities/alpha/actions/reset/", {"confirm_name": typed}, headers=HTMX)
        assert response.status_code == 422 and "type the identity&#x27;s name exactly" in response.content.decode()
    assert identity_runtime().status("alpha").generation == 0
    response = admin_client.post("/identities/alpha/actions/reset/", {"confirm_name": "alpha"}, headers=HTMX)
    assert response.status_code == 200 and "alpha reset." in response.content.decode()
    assert identity_runtime().status("alpha").generation == 1


def test_delete_preview_says_what_is_removed_and_delete_needs_the_name(admin_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    checkpoint("alpha", grant, {"a": 1})
    preview = admin_client.get("/identities/alpha/actions/delete/").content.decode()
    assert "all 1 checkpoint</strong>" in preview and "cannot be undone" in preview
    assert admin_client.post("/identities/alpha/actions/delete/", {"confirm_name": "x"}).status_code == 422
    admin_client.post("/identities/alpha/actions/delete/", {"confirm_name": "alpha"})
    assert identity_runtime().status("alpha").state == IdentityState.UNINITIALIZED


def test_action_input_is_validated_without_a_500(admin_client: Client) -> None:
    create("alpha")
    assert admin_client.get("/identities/alpha/actions/explode/").status_code == 404
    assert admin_client.post("/identities/alpha/actions/retire/", {"reason": "x\x00y"}).status_code == 422
    assert admin_client.post("/identities/alpha/actions/retire/", {"reason": "r" * 501}).status_code == 422
    assert admin_client.post("/identities/ghost/actions/retire/").status_code == 404


def test_send_delivers_to_the_inbox_once_per_form_and_is_audited(operator_client: Client) -> None:
    create("alpha")
    hold("alpha")
    for _ in range(2):  # a double submit of one form
        response = operator_client.post("/identities/alpha/send/", {"text": "hello", "key": "k1"}, headers=HTMX)
        assert "Delivered under lease" in response.content.decode()
    body = operator_client.get("/identities/alpha/").content.decode()
    assert body.count('class="inbox-row"') == 1 and "hello" in body
    assert identity_runtime().registry().list_audit(identity="alpha").items[0].action == "message_sent"


def test_send_refusals_are_shown_not_raised(operator_client: Client) -> None:
    create("alpha")
    create("inner", internal=True)
    no_lease = operator_client.post("/identities/alpha/send/", {"text": "hi"}, headers=HTMX).content.decode()
    assert "Not sent: no active lease" in no_lease
    assert "Not sent" in operator_client.post("/identities/inner/send/", {"text": "hi"}, headers=HTMX).content.decode()
    assert "NUL" in operator_client.post("/identities/alpha/send/", {"text": "a\x00"}, headers=HTMX).content.decode()
    assert "at most" in operator_client.post(
        "/identities/alpha/send/", {"text": "a" * 10_001}, headers=HTMX
    ).content.decode()
    assert 'id="send-card"' not in operator_client.get("/identities/inner/").content.decode()


def test_cancel_removes_pending_inbox_work(operator_client: Client) -> None:
    create("alpha")
    hold("alpha")
    delivery = identity_runtime().send("alpha", {"type": "text", "text": "obsolete"})
    response = operator_client.post(f"/identities/alpha/inbox/{delivery.batch_id}/cancel/", headers=HTMX)
    assert "Cancelled" in response.content.decode()
    assert 'class="inbox-row"' not in operator_client.get("/identities/alpha/").content.decode()
    again = operator_client.post(f"/identities/alpha/inbox/{delivery.batch_id}/cancel/", headers=HTMX)
    assert "Not cancelled" in again.content.decode()


def test_bulk_preview_counts_the_filter_and_confirm_acts_on_exactly_that_set(operator_client: Client) -> None:
    for name in ("a-1", "a-2", "b-1"):
        create(name)
    preview = operator_client.get("/roster/bulk/retire/?q=a-", headers=HTMX).content.decode()
    assert "<strong>2</strong> identities match" in preview
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    response = operator_client.post("/roster/bulk/retire/", {"q": "a-", "fingerprint": fingerprint}, headers=HTMX)
    assert "Retired 2 of 2 identities" in response.content.decode()
    states = {n: identity_runtime().status(n).state for n in ("a-1", "a-2", "b-1")}
    assert states == {"a-1": "retiring", "a-2": "retiring", "b-1": "active"}


def test_bulk_confirm_refuses_when_the_matching_set_changed(operator_client: Client) -> None:
    create("a-1")
    preview = operator_client.get("/roster/bulk/respawn/?q=a-", headers=HTMX).content.decode()
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    create("a-2")
    response = operator_client.post("/roster/bulk/respawn/", {"q": "a-", "fingerprint": fingerprint}, headers=HTMX)
    assert response.status_code == 409 and "changed since the preview" in response.content.decode()
    assert identity_runtime().registry().list_audit(identity="a-1").total == 1  # only "created"


def test_bulk_lists_per_identity_failures(operator_client: Client) -> None:
    create("a-1")
    create("a-2")
    identity_runtime().delete_identity("a-2", actor="admin")  # nothing to respawn
    preview = operator_client.get("/roster/bulk/respawn/?q=a-").content.decode()
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    body = operator_client.post("/roster/bulk/respawn/", {"q": "a-", "fingerprint": fingerprint}).content.decode()
    assert "Respawned 1 of 2" in body and "refused" in body


def test_bulk_rejects_unknown_actions(admin_client: Client) -> None:
    assert admin_client.get("/roster/bulk/delete/").status_code == 404


def test_open_preview_refreshes_only_its_plan_so_typed_input_survives(operator_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    checkpoint("alpha", grant, {"a": 1})
    checkpoint("alpha", grant, {"a": 2})
    headers = {**HTMX, "HX-Target": "confirm-plan"}
    body = operator_client.get("/identities/alpha/actions/respawn/", headers=headers).content.decode()
    assert body.lstrip().startswith('<div id="confirm-plan"')
    assert "<form" not in body and "checkpoint v2" in body


def _inbox_with_a_claim(name: str) -> LeaseGrant:
    """Two messages in the identity's inbox; its holder claims one of them."""
    runtime = identity_runtime()
    grant = hold(name)
    for text in ("one", "two"):
        runtime.send(name, text)
    session = str(runtime.status(name).session_id)
    claim = runtime_persistence().open(session).claim_ready_queued_work(
        session, str(grant.holder), QueuedWorkClaimBoundary.IDLE, 60_000, 1
    )
    assert claim is not None
    return grant


def test_respawn_preview_says_the_old_holders_claims_end_at_once(operator_client: Client) -> None:
    create("alpha")
    _inbox_with_a_claim("alpha")
    body = operator_client.get("/identities/alpha/actions/respawn/").content.decode()
    assert "Ends the old holder's claim on <strong>1 inbox batch</strong>" in body


def test_reset_preview_says_what_is_left_in_the_inbox_is_cancelled(admin_client: Client) -> None:
    create("alpha")
    _inbox_with_a_claim("alpha")
    body = admin_client.get("/identities/alpha/actions/reset/").content.decode()
    assert "Cancels the <strong>2 messages</strong> left in the current session's inbox (1 claimed" in body
