from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

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
