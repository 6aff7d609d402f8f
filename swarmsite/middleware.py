"""Rejects oversized API bodies with 413 before anything parses them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.SWARM_MAX_BODY_BYTES:
                return JsonResponse(
                    {
                        "detail": f"request body of {length} bytes exceeds the limit of "
                        f"{settings.SWARM_MAX_BODY_BYTES} bytes",
                        "code": "payload_too_large",
                    },
                    status=413,
                )
        return self.get_response(request)
