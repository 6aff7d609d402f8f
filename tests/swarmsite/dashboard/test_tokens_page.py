"""The API tokens page: admins list, create (the secret shown once authenticates, only its hash is
stored) and revoke (then 401); viewers and operators get 403 and change nothing; every create and
revoke is audited as `token:<name>`, and the audit page shows such subjects without identity links."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from swarmsite.composition import identity_runtime
from swarmsite.models import ApiToken, hash_secret
from tests.conftest import user_with_role

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'<code id="token-secret" tabindex="0">(sws_[^<]+)</code>')


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(user_with_role(role, f"{role}-tokens"))  # type: ignore[arg-type]
    return client


def created_secret(response: Any) -> str:
    match = SECRET.search(response.content.decode())
    assert match, "the response shows the new secret"
    return match.group(1)


def noop(secret: str) -> int:
    return Client().get("/api/v1/noop", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_tokens_page_has_an_empty_state_and_an_admin_only_nav_link() -> None:
    page = client_for("admin").get("/tokens/").content.decode()
    assert "No API token yet." in page
    assert 'href="/tokens/" aria-current="page">Tokens</a>' in page
    assert 'href="/tokens/"' not in client_for("operator").get("/sessions/").content.decode()


def test_create_shows_the_secret_once_and_it_authenticates_the_api() -> None:
    admin = client_for("admin")
    response = admin.post(reverse("token-create"), {"name": "worker-pool", "scope": "operator"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "it is shown only once" in page
    secret = created_secret(response)
    token = ApiToken.objects.get(name="worker-pool")
    assert (token.scope, token.secret_hash, token.prefix) == ("operator", hash_secret(secret), secret[:12])
    assert not ApiToken.objects.filter(secret_hash=secret).exists()
    assert noop(secret) == 200
    listing = admin.get("/tokens/").content.decode()
    assert secret not in listing and f"<code>{token.prefix}…</code>" in listing
    assert 'class="token-row active"' in listing and "Revoke</button>" in listing and "hx-confirm=" in listing


def test_create_over_htmx_renders_the_form_panel_and_asks_the_table_to_refresh() -> None:
    response = client_for("admin").post(reverse("token-create"), {"name": "ci", "scope": "agent"},
                                        headers={"HX-Request": "true", "HX-Target": "token-create"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="token-create"') and "<html" not in body
    assert json.loads(response["HX-Trigger"]) == {"tokens:changed": {}}
    assert noop(created_secret(response)) == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"name": "", "scope": "agent"}, "the name must not be empty"),
        ({"name": "x" * 101, "scope": "agent"}, "the name must be at most 100 characters"),
        ({"name": "bad\x00name", "scope": "agent"}, "must not contain NUL bytes"),
        ({"name": "ok", "scope": "root"}, "the scope must be one of agent, operator, admin"),
    ],
)
def test_create_with_bad_input_is_refused_with_422_and_creates_nothing(form: dict[str, str], error: str) -> None:
    response = client_for("admin").post(reverse("token-create"), form)
    assert response.status_code == 422 and error in response.content.decode()
    assert not ApiToken.objects.exists()
    assert identity_runtime().registry().list_audit().total == 0


def test_revoke_makes_the_token_401_and_a_second_revoke_changes_nothing() -> None:
    token, secret = ApiToken.issue("doomed", "agent")
    admin = client_for("admin")
    assert noop(secret) == 200
    response = admin.post(reverse("token-revoke", args=[token.pk]), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="token-table"') and "revoked." in body
    assert 'class="token-row revoked"' in body and "Revoke</button>" not in body
    assert noop(secret) == 401
    revoked_at = ApiToken.objects.get(pk=token.pk).revoked_at
    assert revoked_at is not None
    follow = admin.post(reverse("token-revoke", args=[token.pk]), follow=True).content.decode()
    assert "the token was already revoked" in follow
    assert ApiToken.objects.get(pk=token.pk).revoked_at == revoked_at
    assert admin.post(reverse("token-revoke", args=[token.pk + 999])).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_get_403_on_the_page_and_posts_and_nothing_changes(role: str) -> None:
    token, secret = ApiToken.issue("keep", "agent")
    client = client_for(role)
    assert client.get("/tokens/").status_code == 403
    assert client.post(reverse("token-create"), {"name": "sneaky", "scope": "admin"}).status_code == 403
    assert client.post(reverse("token-revoke", args=[token.pk])).status_code == 403
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["keep"]
    assert noop(secret) == 200
    assert identity_runtime().registry().list_audit().total == 0


def test_tokens_page_redirects_anonymous_users_to_login(client: Client) -> None:
    assert client.get("/tokens/")["Location"].startswith("/accounts/login/")
    assert client.post(reverse("token-create"), {"name": "x", "scope": "agent"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_plain_form_posts_need_the_csrf_token() -> None:
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(user_with_role("admin", "admin-csrf"))  # type: ignore[arg-type]
    assert admin.post(reverse("token-create"), {"name": "x", "scope": "agent"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_create_and_revoke_are_audited_with_the_user_and_the_token_prefix() -> None:
    admin = client_for("admin")
    secret = created_secret(admin.post(reverse("token-create"), {"name": "pool", "scope": "agent"}))
    token = ApiToken.objects.get(name="pool")
    admin.post(reverse("token-revoke", args=[token.pk]))
    revoked, created = identity_runtime().registry().list_audit(identity="token:pool").items
    assert (created.action, created.actor, created.ok) == ("token_created", "admin-tokens", True)
    assert created.result == {"prefix": secret[:12], "scope": "agent"}
    assert (revoked.action, revoked.ok, revoked.result["prefix"]) == ("token_revoked", True, token.prefix)
    assert secret not in str(created.result) + str(revoked.result)


def test_audit_page_shows_token_and_session_subjects_without_identity_links() -> None:
    admin = client_for("admin")
    admin.post(reverse("token-create"), {"name": "pool", "scope": "agent"})
    page = admin.get("/audit/").content.decode()
    subject = '<td class="subject subject-token"><span class="muted small">token</span> <a href="/tokens/">pool</a>'
    assert subject in page
    assert "/identities/token" not in page
    filtered = admin.get("/audit/", {"identity": "token:pool"}).content.decode()
    assert 'data-action="token_created"' in filtered


def test_tokens_list_is_paginated_in_constant_queries(django_assert_max_num_queries: Any) -> None:
    for n in range(55):
        ApiToken.issue(f"t{n:02d}", "agent")
    admin = client_for("admin")
    admin.get("/tokens/")  # warm the session and the user
    with django_assert_max_num_queries(6):
        first = admin.get("/tokens/").content.decode()
    assert first.count('class="token-row') == 50 and "Page 1 of 2 · 55 in all" in first
    second = admin.get("/tokens/", {"page": 2}).content.decode()
    assert second.count('class="token-row') == 5 and ">t00<" in second
