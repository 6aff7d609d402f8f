"""What every dashboard page shares: the role check and pagination."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from swarmsite.roles import has_role

PAGE_SIZE = 50

View = Callable[..., HttpResponse | StreamingHttpResponse]


def role_required(role: str) -> Callable[[View], View]:
    """Login first; then 403 unless the user's role is at least `role` (checked on every request)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | StreamingHttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"this page needs the {role} role")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


MAX_PAGE = 1_000_000  # far past any list's end; keeps OFFSET inside every database's integer range


def page_number(request: HttpRequest) -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.GET.get("page", "1")[:20])))
    except ValueError:
        return 1


def pages(total: int, page: int) -> dict[str, Any]:
    last = max(1, -(-total // PAGE_SIZE))
    return {"page": page, "last_page": last, "has_prev": page > 1, "has_next": page < last, "total": total}
