"""Renders events as the HTML fragments the dashboard's websocket pushes (htmx out-of-band swaps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.template.loader import render_to_string


def render_fragments(events: Sequence[dict[str, Any]], *, feed: bool) -> str:
    """One websocket message for a batch of events: the live-status marker (which tells the page
    which regions to refresh and the resume cursor) and, on pages with a feed, the new feed items."""
    return render_to_string("live/fragments.html", {"events": events, "feed": feed})
