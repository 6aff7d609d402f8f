"""Issuing and revoking API tokens, audited the same way from the dashboard, the admin and the command."""

from __future__ import annotations

from django.utils import timezone

from identities.types import AuditRecord
from swarmsite.audit_subjects import token_subject
from swarmsite.composition import identity_runtime
from swarmsite.models import ApiToken
from swarmsite.token_cache import revoked as forget_revoked


def _audit(actor: str, action: str, token: ApiToken, *, ok: bool, result: dict[str, str]) -> None:
    identity_runtime().registry().record_audit(
        AuditRecord(actor=actor, action=action, identity=token_subject(token.name), reason="", ok=ok,
                    result={"prefix": token.prefix, **result}, created_at=timezone.now())
    )


def issue_token(actor: str, name: str, scope: str) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and never stored (only its hash)."""
    token, secret = ApiToken.issue(name, scope)
    _audit(actor, "token_created", token, ok=True, result={"scope": scope})
    return token, secret


def revoke_token(actor: str, token: ApiToken) -> bool:
    """Revoke if still active. Conditional, so two revokes (two tabs, a double click) change it once."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()) == 1
    if revoked:
        forget_revoked([token.secret_hash])  # every server process stops accepting it now
    _audit(actor, "token_revoked", token, ok=revoked, result={"detail": "" if revoked else "already revoked"})
    return revoked
