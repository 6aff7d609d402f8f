"""Feedback after every action: on an htmx request the messages a view added are sent to the page as a
"swarm:toast" client event (the page shows them at once) instead of waiting in the session for the next
full page load, where they would show up late and out of place."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django_htmx.http import trigger_client_event


class HtmxMessagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or "HX-Redirect" in response or "HX-Location" in response:
            return response
        shown = [{"text": str(m), "level": "error" if m.level >= messages.ERROR else "ok"}
                 for m in messages.get_messages(request)]
        if shown:
            trigger_client_event(response, "swarm:toast", {"messages": shown})
        return response
