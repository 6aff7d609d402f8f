"""The API's edge: oversized bodies get 413 before anything parses them (also chunked ones, which carry no
Content-Length), and every answer under /api/ is `{"detail", "code"}` JSON, even the ones Django itself
gives for paths or methods no route knows (404, 405) and for requests it cannot read (400)."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
CODES = {400: "malformed_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         413: "payload_too_large", 500: "server_error"}
DETAILS = {400: "the request could not be read", 403: "forbidden", 404: "no API route matches this path",
           405: "this route does not accept that method", 413: "the request body is too large",
           500: "the server failed to answer"}


def _too_large(length: int) -> JsonResponse:
    return JsonResponse(
        {"detail": f"request body of {length} bytes exceeds the limit of {settings.SWARM_MAX_BODY_BYTES} bytes",
         "code": "payload_too_large"},
        status=413,
    )


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        refused = self._refuse_oversized(request)
        if refused is not None:
            return refused
        return as_json(request, self.get_response(request))

    @staticmethod
    def _refuse_oversized(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.SWARM_MAX_BODY_BYTES:
            return _too_large(length)
        if length == 0 and request.method not in ("GET", "HEAD", "OPTIONS"):
            # No Content-Length (a chunked body): read it now, within the limit Django enforces.
            try:
                size = len(request.body)
            except RequestDataTooBig:
                return _too_large(settings.SWARM_MAX_BODY_BYTES + 1)
            if size > settings.SWARM_MAX_BODY_BYTES:
                return _too_large(size)
        return None


def as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An error answer that is not JSON (Django's own 404/405/400 pages) becomes `{"detail", "code"}`."""
    status = response.status_code
    if status < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    detail = DETAILS.get(status, "the request failed")
    if status == 405:
        allowed = response.get("Allow", "")
        detail = f"{request.method} is not allowed here" + (f"; allowed: {allowed}" if allowed else "")
    answer = HttpResponse(json.dumps({"detail": detail, "code": CODES.get(status, "http_error")}),
                          status=status, content_type="application/json")
    if response.has_header("Allow"):
        answer["Allow"] = response["Allow"]
    return answer
