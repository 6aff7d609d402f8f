from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


@register.filter
def age(moment: datetime | None) -> str:
    """'12s ago' for a past moment (the page's ticker keeps it current)."""
    if moment is None:
        return "never"
    return f"{_span((timezone.now() - moment).total_seconds())} ago"


@register.filter
def countdown(moment: datetime | None) -> str:
    """'in 25s' for a future moment, 'expired 3s ago' for a past one."""
    if moment is None:
        return "—"
    delta = (moment - timezone.now()).total_seconds()
    return f"in {_span(delta)}" if delta >= 0 else f"expired {_span(delta)} ago"


@register.filter
def epoch_ms(moment: datetime | None) -> str:
    return "" if moment is None else str(int(moment.timestamp() * 1000))


def _moment(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


@register.filter
def when(value: datetime | str | None, style: str = "") -> str:
    """The one timestamp format: a <time> the page shows in local time with its zone (the full date,
    zone and UTC on hover); without JavaScript it reads in UTC. style "full" always shows the date."""
    moment = _moment(value)
    if moment is None:
        return "—"
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html('<time datetime="{}" data-local="{}" title="{}">{}</time>',
                       utc.isoformat(), style or "1", text, text)


@register.simple_tag
def agent_link(agent_id: object, names: Mapping[str, str] | None = None) -> str:
    """An agent by name, linked to its page (its id's first 8 characters when the name is unknown)."""
    if not agent_id:
        return "—"
    key = str(agent_id)
    try:
        uuid.UUID(key)
        url = reverse("agent", args=[key])
    except (ValueError, NoReverseMatch):
        return format_html("<code>{}</code>", key)  # an owner that is not an agent id has no page
    label = (names or {}).get(key) or key[:8]
    return format_html('<a class="agent-link" href="{}" title="agent {}">{}</a>', url, key, label)


@register.filter
def lookup(mapping: Mapping[str, object] | None, key: object) -> object:
    """mapping[key] in a template (None when absent)."""
    return None if mapping is None else mapping.get(str(key))
