"""The admin for identities: edits and recovery actions go through the runtime (evented, audited)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from identities.types import DurableAgentSpec, IdentityState
from swarmsite.composition import identity_runtime

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged(db: None) -> Client:
    user = User.objects.create_superuser("root", password="pw-for-tests-1")
    client = Client()
    client.force_login(user)
    return client


def test_every_identity_model_has_an_admin_page(admin_client_logged: Client) -> None:
    identity_runtime().create_identity(DurableAgentSpec(identity="alpha", profile="p"))
    for model in ["identity", "leaserow", "continuityrow", "checkpointrow", "peeredge", "auditentry",
                  "stalewriterejection"]:
        response = admin_client_logged.get(f"/admin/identities/{model}/")
        assert response.status_code == 200, model


def test_admin_create_and_edit_go_through_the_runtime(admin_client_logged: Client) -> None:
    form = {"name": "beta", "profile": "worker", "addressability": "addressable", "labels": "{}",
            "additional_instructions": "[]", "context": "null", "initial_message": "null"}
    response = admin_client_logged.post("/admin/identities/identity/add/", form)
    assert response.status_code == 302, response.content
    runtime = identity_runtime()
    assert runtime.continuity_record("beta") is not None
    response = admin_client_logged.post("/admin/identities/identity/beta/change/", {**form, "profile": "planner"})
    assert response.status_code == 302
    assert [e.kind for e in runtime.subscribe("beta")] == ["identity.registered", "identity.spec_updated"]


def test_admin_retire_action_is_audited_with_the_user(admin_client_logged: Client) -> None:
    identity_runtime().create_identity(DurableAgentSpec(identity="alpha", profile="p"))
    response = admin_client_logged.post(
        "/admin/identities/identity/", {"action": "retire", "_selected_action": ["alpha"]}
    )
    assert response.status_code == 302
    assert identity_runtime().status("alpha").state == IdentityState.RETIRING
    entry = identity_runtime().registry().list_audit(identity="alpha").items[0]
    assert (entry.actor, entry.action) == ("admin:root", "retired")
