"""Admin (staff only, tokens shown once, liveness read-only) and the management commands."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from stores.models import Agent
from swarmsite.composition import event_log, lifecycle_store
from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db


def test_admin_is_staff_only(client: Client) -> None:
    client.force_login(User.objects.create_user("plain", password="pw-plain-1"))
    assert client.get("/admin/").status_code == 302


def test_admin_creates_a_token_and_shows_the_secret_once(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/swarmsite/apitoken/add/", {"name": "ci-agent", "scope": "agent"}, follow=True
    )
    assert response.status_code == 200
    secret = next(m.message for m in response.context["messages"]).split(": ")[-1]
    token = ApiToken.objects.get(name="ci-agent")
    assert secret.startswith("sws_") and token.prefix == secret[:12]
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/noop").status_code == 200


def test_admin_shows_agents_read_only(admin_client: Client) -> None:
    agent = uuid.uuid4()
    lifecycle_store().register(agent, name="ro")
    assert admin_client.get("/admin/stores/agent/").status_code == 200
    assert admin_client.get("/admin/stores/agent/add/").status_code == 403
    response = admin_client.post(f"/admin/stores/agent/{agent}/change/", {"name": "edited", "state": "offline"})
    assert response.status_code == 403
    assert Agent.objects.get(pk=agent).name == "ro"


def test_create_api_token_prints_a_working_secret_once() -> None:
    out = io.StringIO()
    call_command("create_api_token", "worker", "--scope", "operator", stdout=out)
    secret = out.getvalue().strip()
    token = ApiToken.objects.get(name="worker")
    assert token.scope == "operator"
    assert secret not in token.secret_hash
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/noop").status_code == 200


def test_sweep_command_expires_silent_agents_with_an_event() -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle_store().register(agent)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        out = io.StringIO()
        call_command("sweep", stdout=out)
    assert "expired 1 agent(s)" in out.getvalue()
    assert Agent.objects.get(pk=agent).state == "expired"
    assert event_log().recent(limit=1)[0].kind == "agent.expired"


def test_ensure_admin_creates_one_superuser_with_the_admin_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_ADMIN_PASSWORD", "from-the-env-1")
    call_command("ensure_admin", stdout=io.StringIO())
    call_command("ensure_admin", stdout=io.StringIO())
    admins = User.objects.filter(is_superuser=True)
    assert admins.count() == 1
    assert admins[0].check_password("from-the-env-1")
    assert admins[0].groups.filter(name="admin").exists()


def test_token_changes_from_the_admin_and_the_command_are_audited(admin_client: Client) -> None:
    from identities.models import AuditEntry

    admin_client.post("/admin/swarmsite/apitoken/add/", {"name": "via-admin", "scope": "agent"})
    token = ApiToken.objects.get(name="via-admin")
    admin_client.post(
        "/admin/swarmsite/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    call_command("create_api_token", "via-command", stdout=io.StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "identity", "actor"))
    assert entries == [
        ("token_created", "token:via-admin", "admin:admin"),
        ("token_revoked", "token:via-admin", "admin:admin"),
        ("token_created", "token:via-command", "manage.py create_api_token"),
    ]
