"""Bearer-token authentication for the API, and scope checks."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from swarmsite import token_cache
from swarmsite.models import ApiToken, hash_secret

SCOPE_RANK = {ApiToken.Scope.AGENT: 1, ApiToken.Scope.OPERATOR: 2, ApiToken.Scope.ADMIN: 3}
# last_used_at is refreshed at most this often; verified tokens come from memory (swarmsite/token_cache.py).
LAST_USED_RESOLUTION = timedelta(seconds=60)


class InsufficientScope(Exception):
    def __init__(self, needed: str, have: str) -> None:
        super().__init__(f"this operation needs a token with scope '{needed}'; this token has '{have}'")
        self.needed = needed
        self.have = have


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token or len(token) > 200:
            return None
        api_token = token_cache.lookup(hash_secret(token))
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or api_token.last_used_at < now - LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
            api_token.last_used_at = now  # also on the cached copy, so the next minute's requests skip this
        return api_token


def require_scope(request: HttpRequest, needed: str) -> ApiToken:
    """Raise InsufficientScope (403) unless the request's token has at least `needed` scope."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    if SCOPE_RANK[ApiToken.Scope(token.scope)] < SCOPE_RANK[ApiToken.Scope(needed)]:
        raise InsufficientScope(needed, token.scope)
    return token
