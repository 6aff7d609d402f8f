"""The 500 page with the nav: rendered with the request (so the signed-in user sees the usual header),
falling back to a plain page if even that fails."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string

log = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    try:
        return HttpResponseServerError(render_to_string("500.html", {"last_event_id": 0}, request=request))
    except Exception:  # the page that reports a failure must not fail itself
        log.exception("the 500 page could not be rendered")
        return HttpResponseServerError("<h1>Server error</h1>", content_type="text/html")
