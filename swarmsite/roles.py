"""Dashboard roles are Django groups: viewer < operator < admin (superusers are admins)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[union-attr,attr-defined]
    for role in (ADMIN, OPERATOR, VIEWER):
        if role in names:
            return role
    return None


def has_role(user: AbstractBaseUser | AnonymousUser, needed: str) -> bool:
    role = role_of(user)
    return role is not None and RANK[role] >= RANK[needed]


def roles_context(request: HttpRequest) -> dict[str, Any]:
    if not hasattr(request, "user"):
        return {}
    role = role_of(request.user)
    rank = RANK.get(role or "", 0)
    return {"role": role, "can_operate": rank >= RANK[OPERATOR], "can_admin": rank >= RANK[ADMIN]}
